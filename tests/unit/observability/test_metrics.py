"""What the processes report about themselves (no network): API requests by route template,
notifier outcomes and outbox depth, event -> alert latency, and one label spelling per component."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
from canhgac.api.app import create_app
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import KafkaConfig, PipelineConfig, Settings, SpoolConfig
from canhgac.core.ids import IdGenerator, id_time_ms
from canhgac.core.metrics import Metrics
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.detector import DetectorStage
from canhgac.pipeline.notifier import NotifierStage
from canhgac.pipeline.notify.service import RunReport

REPO = Path(__file__).resolve().parents[3]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_api_requests_are_counted_by_route_template_never_by_path() -> None:
    metrics = Metrics()
    app = create_app(Settings(), metrics, console=False)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        assert (await client.get("/healthz")).status_code == 200
        for alert_id in ("a1", "a2", "a3"):
            assert (await client.get(f"/things/{alert_id}")).status_code == 200
        for n in range(5):
            assert (await client.get(f"/scanner/probe-{n}.php")).status_code == 404
    assert value(metrics, "canhgac_api_requests_total", route="/healthz", method="GET", status="200") == 1
    assert value(metrics, "canhgac_api_requests_total", route="/things/{thing_id}", method="GET", status="200") == 3
    assert value(metrics, "canhgac_api_requests_total", route="unmatched", method="GET", status="404") == 5
    assert value(metrics, "canhgac_api_request_seconds_count", route="/healthz", method="GET") == 1
    routes = {
        s.labels["route"] for m in metrics.registry.collect() if m.name == "canhgac_api_requests" for s in m.samples
    }
    assert not any("a1" in r or "probe" in r for r in routes), routes


def test_notifier_reports_outcomes_escalations_and_outbox_depth(tmp_path: Path) -> None:
    metrics = Metrics()
    stage = NotifierStage(KafkaConfig(), PipelineConfig(), NotifyConfig(), metrics, data_dir=tmp_path)
    counts = {"pending": 4, "retrying": 2, "sent": 40, "failed": 1}
    stage.service = SimpleNamespace(outbox=SimpleNamespace(counts=lambda: counts))  # type: ignore[assignment]
    stage._count(RunReport(sent=3, retrying=2, failed=1, escalations=2))
    stage._count(RunReport(sent=1))
    assert value(metrics, "canhgac_notifications_total", outcome="sent") == 4
    assert value(metrics, "canhgac_notifications_total", outcome="retrying") == 2
    assert value(metrics, "canhgac_notifications_total", outcome="failed") == 1
    assert value(metrics, "canhgac_notifications_escalated_total") == 2
    assert value(metrics, "canhgac_notify_outbox_depth", status="pending") == 4
    assert value(metrics, "canhgac_notify_outbox_depth", status="retrying") == 2
    assert value(metrics, "canhgac_notify_outbox_depth", status="sending") == 0


def test_raw_ids_tell_when_the_collector_received_the_event() -> None:
    made_at = 1_764_000_000_123
    assert id_time_ms(IdGenerator().new(now_ms=made_at)) == made_at
    assert id_time_ms("not-an-id") is None
    assert id_time_ms("!" * 26) is None


def test_event_to_alert_latency_is_measured_from_receipt_else_from_the_event_time() -> None:
    metrics = Metrics()
    now_ms = int(time.time() * 1000)
    received_5s_ago = {
        "canhgac": {"raw_id": IdGenerator().new(now_ms=now_ms - 5000)},
        "@timestamp": "2001-01-01T00:00:00Z",
    }
    stamped_2m_ago = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))}
    DetectorStage._observe_latency(SimpleNamespace(metrics=metrics), [received_5s_ago, stamped_2m_ago])  # type: ignore[arg-type]
    assert value(metrics, "canhgac_event_to_alert_seconds_count") == 2
    assert value(metrics, "canhgac_event_to_alert_seconds_bucket", le="2.5") == 0
    assert value(metrics, "canhgac_event_to_alert_seconds_bucket", le="10.0") == 1  # receipt, not 2001
    assert value(metrics, "canhgac_event_to_alert_seconds_bucket", le="300.0") == 2


def test_a_collector_has_one_name_in_every_label(tmp_path: Path) -> None:
    sink = SpoolingSink(KafkaConfig(), SpoolConfig(), tmp_path, Metrics(), collector="syslog-tcp")
    assert sink.stage == "syslog-tcp"
    # No second spelling ("collector-syslog-tcp") anywhere a collector labels a metric.
    second_spellings = []
    for path in (REPO / "collectors").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "labels":
                for arg in node.args:
                    text = ast.unparse(arg)
                    if "collector-" in text:
                        second_spellings.append(f"{path.relative_to(REPO)}:{node.lineno}: {text}")
    assert second_spellings == []

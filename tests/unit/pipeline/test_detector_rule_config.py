"""The detector applies the API's rule config (uploads, disabled rules, exceptions) on refresh, and
keeps the last config it read when OpenSearch cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime

from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage
from canhgac.rules.ruleset import RuleConfig, rule_config_from_docs

FAILED_PASSWORD = "06888d57-bcd1-55d5-82b9-261400ea7dfe"
UPLOADED = "c4d1e2f3-0a1b-4c5d-8e9f-102132435465"
UPLOAD = f"""
title: SSH login by a service account
id: {UPLOADED}
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{message|contains: 'Accepted password for svc_'}}
  condition: sel
"""
EVENT = {
    "message": "Failed password for scanner from 203.0.113.50 port 41000 ssh2",
    "source": {"ip": "203.0.113.50"},
    "canhgac": {"logsource": {"product": "linux", "service": "sshd"}},
}


class FakeSource:
    def __init__(self, answers: list[RuleConfig | None]) -> None:
        self.answers = answers

    async def fetch(self) -> RuleConfig | None:
        return self.answers.pop(0)


def make_stage(answers: list[RuleConfig | None], metrics: Metrics) -> DetectorStage:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, metrics, opensearch=s.opensearch)
    stage.config_source = FakeSource(answers)  # type: ignore[assignment]
    return stage


async def test_uploads_disabled_rules_and_outage() -> None:
    config = rule_config_from_docs(
        [{"id": UPLOADED, "yaml": UPLOAD, "enabled": True}, {"id": FAILED_PASSWORD, "enabled": False}], []
    )
    stage = make_stage([config, None, RuleConfig()], Metrics())
    stage.reload_if_changed()
    files_only = {r.meta.id for r in stage.load_result.rules}  # type: ignore[union-attr]
    assert FAILED_PASSWORD in files_only and UPLOADED not in files_only

    await stage.refresh_config()
    assert stage.reload_if_changed() is True
    ids = {r.meta.id for r in stage.load_result.rules}  # type: ignore[union-attr]
    assert UPLOADED in ids and FAILED_PASSWORD not in ids
    assert stage.reload_if_changed() is False  # nothing changed: no rebuild

    await stage.refresh_config()  # OpenSearch down: the last config stays
    assert stage.reload_if_changed() is False and stage.config is config

    await stage.refresh_config()  # everything reverted through the API
    assert stage.reload_if_changed() is True
    ids = {r.meta.id for r in stage.load_result.rules}  # type: ignore[union-attr]
    assert UPLOADED not in ids and FAILED_PASSWORD in ids


def test_excepted_matches_are_counted_not_alerted() -> None:
    metrics = Metrics()
    config = rule_config_from_docs(
        [],
        [
            {
                "id": "e1",
                "rule_id": FAILED_PASSWORD,
                "conditions": [{"field": "source.ip", "op": "cidr", "value": "203.0.113.0/24"}],
            },
            {"id": "bad", "rule_id": FAILED_PASSWORD, "conditions": [{"field": "x", "op": "nope", "value": "y"}]},
        ],
        lambda _reason: metrics.errors.labels("detector", "bad_exception").inc(),
    )
    assert len(config.exceptions) == 1
    assert metrics.errors.labels("detector", "bad_exception")._value.get() == 1
    stage = make_stage([], metrics)
    stage.reload_if_changed()
    matched = stage.engine.match(EVENT)  # type: ignore[union-attr]
    assert FAILED_PASSWORD in {m.id for m in matched}
    kept = stage._not_excepted(matched, EVENT, config.exceptions, datetime.now(UTC))
    assert FAILED_PASSWORD not in {m.id for m in kept}
    assert metrics.alerts_suppressed.labels("exception")._value.get() == 1
    other = {**EVENT, "source": {"ip": "198.51.100.9"}}
    assert stage._not_excepted(stage.engine.match(other), other, config.exceptions, datetime.now(UTC))  # type: ignore[union-attr]

"""Periodic reports on demand and on schedule, and the e-mail of the signed daily receipts.

The scheduled round (`mail_loop`, in the API process like the receipts' sealing) sends, for every
`reports.schedules` entry, the newest closed period's report once its `at` time has passed, and
(with `reports.email_receipts`) each agency its sources' receipts of every closed day once all of
that day's sources are sealed.

Exactly one replica sends each mail: a delivery is claimed first in `<config_index_prefix>-
report-deliveries` with `op_type=create` (id: what + scope + period). A failed send removes its
claim, so the next round tries again; a process that dies between claiming and sending leaves the
mail unsent (at most once: a report is never mailed twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from canhgac.api.receipts.service import due_days
from canhgac.api.reports.figures import Period, last_closed_period, report_figures
from canhgac.api.reports.render import period_label, render_pdf, report_context
from canhgac.api.search import run_search
from canhgac.core.config import Settings
from canhgac.core.errors import Conflict
from canhgac.core.index import Index
from canhgac.core.mail import Attachment, build_mail, send_mail
from canhgac.core.notify_config import parse_hhmm
from canhgac.core.receipts import receipts_index, sources_of_day
from canhgac.core.timezones import parse_zone
from opensearchpy import AsyncOpenSearch, TransportError

log = logging.getLogger(__name__)

PDF = ("application", "pdf")


def deliveries_index(settings: Settings) -> str:
    return f"{settings.opensearch.config_index_prefix}-report-deliveries"


_MAPPINGS = {
    "dynamic": False,
    "properties": {
        "what": {"type": "keyword"},
        "agency": {"type": "keyword"},
        "period": {"type": "keyword"},
        "to": {"type": "keyword"},
        "claimed_at": {"type": "date"},
        "sent_at": {"type": "date"},
    },
}


async def ensure_deliveries_index(client: AsyncOpenSearch, settings: Settings) -> None:
    name = deliveries_index(settings)
    body = {
        "settings": {"number_of_shards": 1, "number_of_replicas": settings.opensearch.number_of_replicas},
        "mappings": _MAPPINGS,
    }
    try:
        if not await client.indices.exists(index=name):
            await client.indices.create(index=name, body=body)
    except TransportError as exc:
        if not (exc.status_code == 400 and exc.error == "resource_already_exists_exception"):
            raise


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def file_name(period: Period, agency: str | None) -> str:
    return f"bao-cao-{period.kind}-{period.first_day.isoformat()}-{agency or 'toan-tinh'}.pdf"


async def build_report(
    client: AsyncOpenSearch, settings: Settings, period: Period, agency: str | None
) -> tuple[dict[str, Any], bytes]:
    """The figures and the PDF of one report (WeasyPrint in a worker thread)."""
    figures = await report_figures(client, settings, period, agency)
    context = report_context(figures, settings, datetime.now(UTC))
    return figures, await asyncio.to_thread(render_pdf, context)


async def _deliver(
    client: AsyncOpenSearch,
    settings: Settings,
    delivery_id: str,
    claim: dict[str, Any],
    make_mail: Any,
) -> bool:
    """Claim, build and send one mail; False when another replica (or an earlier round) had it."""
    smtp = settings.reports.smtp
    assert smtp is not None
    index = Index(client, deliveries_index(settings))
    try:
        await index.put(delivery_id, {**claim, "claimed_at": _now_iso()}, create=True, refresh="wait_for")
    except Conflict:
        return False
    try:
        mail = await make_mail()
        await asyncio.to_thread(send_mail, smtp, mail)
    except BaseException:
        await index.delete(delivery_id, refresh="wait_for")  # not sent: the next round tries again
        raise
    await index.update(delivery_id, {"sent_at": _now_iso()})
    return True


def schedule_due(at: str, period: Period, now: datetime) -> bool:
    """The period is over and the local `at` time of the day after it has passed."""
    send_at = period.end.replace(hour=parse_hhmm(at).hour, minute=parse_hhmm(at).minute)
    return now >= send_at


async def send_due_reports(client: AsyncOpenSearch, settings: Settings, now: datetime) -> list[str]:
    """Send every scheduled report that is due and not sent yet; returns the delivery ids sent."""
    cfg = settings.reports
    smtp = cfg.smtp
    if smtp is None:
        return []
    today = now.astimezone(parse_zone(settings.timezone)).date()
    sent = []
    for schedule in cfg.schedules:
        period = last_closed_period(schedule.period, today, settings.timezone)
        if not schedule_due(schedule.at, period, now):
            continue
        targets: list[tuple[str | None, tuple[str, ...]]] = (
            [(None, cfg.province_recipients)]
            if schedule.scope == "province"
            else [(agency, to) for agency, to in sorted(cfg.agency_recipients.items()) if to]
        )
        for agency, to in targets:
            delivery_id = f"report:{period.key}:{agency or 'province'}"

            async def make_mail(agency: str | None = agency, to: tuple[str, ...] = to, period: Period = period) -> Any:
                figures, pdf = await build_report(client, settings, period, agency)
                scope = f"đơn vị {agency}" if agency else "toàn tỉnh"
                label = period_label(figures["period"])
                text = (
                    f"Kính gửi Quý đơn vị,\n\nCanhgac gửi kèm báo cáo giám sát an toàn thông tin mạng "
                    f"({label}, {scope}).\nTổng số cảnh báo: {figures['alerts_total']}.\n\n"
                    f"Attached: the SOC's monitoring report ({period.kind}, {agency or 'province'}).\n"
                )
                return build_mail(
                    smtp,
                    to,
                    f"[Canhgac] Báo cáo giám sát {label} - {scope}",
                    text,
                    [Attachment(file_name(period, agency), pdf, *PDF)],
                )

            claim = {"what": "report", "agency": agency, "period": period.key, "to": list(to)}
            if await _deliver(client, settings, delivery_id, claim, make_mail):
                log.info("report mailed: %s to %d recipients", delivery_id, len(to))
                sent.append(delivery_id)
    return sent


async def send_due_receipts(client: AsyncOpenSearch, settings: Settings, now: datetime) -> list[str]:
    """Mail each agency with recipients its sources' receipts of every closed day once the whole
    day is sealed (every source with records that day has its receipt)."""
    cfg = settings.reports
    smtp = cfg.smtp
    if smtp is None or not cfg.email_receipts or settings.receipts.signing_key_file is None:
        return []  # without a signing key nothing is sealed, so nothing is mailed
    sent = []
    for day in due_days(settings, now):
        sources = await sources_of_day(client, settings.opensearch, day, settings.timezone)
        for agency, to in sorted(cfg.agency_recipients.items()):
            expected = {s for s, a in sources.items() if a == agency}
            if not expected or not to:
                continue
            delivery_id = f"receipts:{day.isoformat()}:{agency}"
            if await Index(client, deliveries_index(settings)).find(delivery_id) is not None:
                continue
            found = await run_search(
                client,
                receipts_index(settings.opensearch),
                {
                    "size": 10_000,
                    "query": {"bool": {"filter": [{"term": {"agency": agency}}, {"term": {"day": day.isoformat()}}]}},
                    "sort": [{"source_id": {"order": "asc"}}],
                },
            )
            receipts = [h["_source"] for h in found["hits"]["hits"]]
            if {r["source_id"] for r in receipts} != expected:
                continue  # not every source of the day is sealed yet: a later round

            async def make_mail(
                agency: str = agency, to: tuple[str, ...] = to, receipts: list[Any] = receipts, day: date = day
            ) -> Any:
                day_vi = f"{day:%d/%m/%Y}"
                lines = [
                    f"Kính gửi Quý đơn vị {agency},",
                    "",
                    f"Biên nhận có ký số (HMAC-SHA256) của các bản ghi log Canhgac đã nhận ngày {day_vi}:",
                    "",
                ]
                for r in receipts:
                    lines.append(
                        f"- {r['source_id']}: {r['count']} bản ghi, từ {r['first_ingested']} đến {r['last_ingested']}, "
                        f"chain head {r['chain_head']}"
                    )
                lines += [
                    "",
                    "Đơn vị có thể kiểm tra lại bất kỳ lúc nào trên trang Biên nhận của bảng điều khiển",
                    "hoặc qua API GET /api/v1/receipts/{source}/{day}.",
                    "",
                    f"Signed daily receipts of the log records received on {day.isoformat()} (JSON attached).",
                ]
                content = json.dumps(receipts, ensure_ascii=False, indent=2).encode()
                return build_mail(
                    smtp,
                    to,
                    f"[Canhgac] Biên nhận log ngày {day_vi} - {agency}",
                    "\n".join(lines),
                    [Attachment(f"bien-nhan-{agency}-{day.isoformat()}.json", content, "application", "json")],
                )

            claim = {"what": "receipts", "agency": agency, "period": day.isoformat(), "to": list(to)}
            if await _deliver(client, settings, delivery_id, claim, make_mail):
                log.info("receipts mailed: %s (%d receipts)", delivery_id, len(receipts))
                sent.append(delivery_id)
    return sent


async def mail_loop(client: AsyncOpenSearch, settings: Settings, stop: asyncio.Event) -> None:
    """Every `reports.check_interval_secs` until `stop`: due reports and receipts; failures wait a round."""
    interval = settings.reports.check_interval_secs
    ready = False
    while not stop.is_set():
        try:
            if not ready:
                await ensure_deliveries_index(client, settings)
                ready = True
            now = datetime.now(UTC)
            await send_due_reports(client, settings, now)
            await send_due_receipts(client, settings, now)
        except Exception:  # the task's supervisor boundary: OpenSearch or the relay down; next round retries
            log.warning("mailing reports or receipts failed, retrying in %.0fs", interval, exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue


def default_day(settings: Settings, now: datetime) -> Any:
    """Yesterday, local: the default period is the newest one holding a closed day."""
    return now.astimezone(parse_zone(settings.timezone)).date() - timedelta(days=1)

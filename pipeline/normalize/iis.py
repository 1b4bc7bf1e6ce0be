"""IIS W3C extended logs, as lines (NXLog `im_file` + `om_http`/`om_tcp`) or as JSON objects
keyed by W3C field names (NXLog's `xm_csv`/`w3c` parser, or `to_json()`).

Column order is whatever the `#Fields:` directive says; a parser instance keeps the last one it
saw per source (a source's records stay on one Kafka partition, so one normalizer replica sees
them in order). Before any directive, IIS's default field list applies. W3C times are UTC.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_endpoint
from canhgac.pipeline.normalize.timestamps import to_utc_iso
from canhgac.pipeline.normalize.web_access import set_request, set_status

DATASET = "iis"
DEFAULT_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
).split()
_MAX_SOURCES = 10_000


def _present(value: Any) -> bool:
    return isinstance(value, str) and value not in ("", "-")


def _plus_decoded(value: str) -> str:
    # IIS writes spaces in header values as '+'.
    return value.replace("+", " ")


def _timestamp(date: str, time: str) -> str:
    try:
        ts = datetime.fromisoformat(f"{date}T{time}")
    except ValueError as exc:
        raise ParseError(f"bad W3C date/time {date!r} {time!r}") from exc
    return to_utc_iso(ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts)


def w3c_event(record: dict[str, Any], message: str) -> Event:
    """An ECS event from one W3C record keyed by field name."""
    date, time = record.get("date"), record.get("time")
    event: Event = {
        "message": message,
        "event": {"kind": "event", "category": ["web"], "type": ["access"]},
        "canhgac": {"dataset": DATASET, "logsource": {"category": "webserver", "product": "iis"}},
    }
    if isinstance(date, str) and isinstance(time, str):
        event["@timestamp"] = _timestamp(date, time)
    get = record.get
    put_endpoint(event, "source", get("c-ip") if _present(get("c-ip")) else None, get("c-port"))
    add_related(event, "ip", event.get("source", {}).get("ip"))
    server = get("s-ip")
    put_endpoint(event, "destination", server if _present(server) else None, get("s-port"))
    stem, query = get("cs-uri-stem"), get("cs-uri-query")
    method = get("cs-method") if _present(get("cs-method")) else None
    version = get("cs-version") if _present(get("cs-version")) else None
    target = None
    if _present(stem):
        target = f"{stem}?{query}" if _present(query) else stem
    set_request(event, method, target, version)
    if not event["http"]:
        del event["http"]
    if _present(get("cs-host")):
        event.setdefault("url", {})["domain"] = get("cs-host")
    set_status(event, int_or_none(get("sc-status")))
    if (sent := int_or_none(get("sc-bytes"))) is not None:
        event.setdefault("http", {}).setdefault("response", {})["body"] = {"bytes": sent}
    if (received := int_or_none(get("cs-bytes"))) is not None:
        event.setdefault("http", {}).setdefault("request", {})["body"] = {"bytes": received}
    agent = get("cs(User-Agent)")
    if isinstance(agent, str) and _present(agent):
        event["user_agent"] = {"original": _plus_decoded(agent)}
    referrer = get("cs(Referer)")
    if _present(referrer):
        event.setdefault("http", {}).setdefault("request", {})["referrer"] = referrer
    user = get("cs-username")
    if _present(user):
        event["user"] = {"name": user}
        add_related(event, "user", user)
    if (taken := int_or_none(get("time-taken"))) is not None:
        event["event"]["duration"] = taken * 1_000_000  # ms -> ns
    if _present(get("s-computername")):
        event["host"] = {"name": get("s-computername")}
    access: dict[str, Any] = {}
    for field, key in (("s-sitename", "site_name"), ("sc-substatus", "sub_status"),
                       ("sc-win32-status", "win32_status")):  # fmt: skip
        if _present(get(field)):
            access[key] = get(field)
    if access:
        event["iis"] = {"access": access}
    return event


@parsers.register("iis-w3c")
class IisW3cParser:
    name: ClassVar[str] = "iis-w3c"

    def __init__(self) -> None:
        self._fields: OrderedDict[str, list[str]] = OrderedDict()

    def _directive(self, raw: RawEnvelope, line: str) -> Event:
        if line.startswith("#Fields:"):
            fields = line[8:].split()
            if not fields:
                raise ParseError("empty #Fields directive")
            self._fields[raw.source_id] = fields
            self._fields.move_to_end(raw.source_id)
            if len(self._fields) > _MAX_SOURCES:
                self._fields.popitem(last=False)
        # Directives describe the file, not a request: kept, but out of the webserver rules' way.
        return {
            "message": line,
            "event": {"kind": "event", "action": "w3c-directive", "type": ["info"]},
            "canhgac": {"dataset": DATASET, "logsource": {"product": "iis", "service": "w3c-directive"}},
        }

    def parse(self, raw: RawEnvelope) -> Event:
        line = raw.message
        if line is None and raw.payload is not None:
            if any(isinstance(k, str) and k.startswith(("cs-", "sc-", "c-ip")) for k in raw.payload):
                text = raw.payload.get("message")
                return w3c_event(raw.payload, text if isinstance(text, str) else "")
            line = raw.payload.get("message")  # a shipper's document carrying the raw line
            if not isinstance(line, str):
                raise ParseError("JSON record has neither W3C fields (cs-*, sc-*, c-ip) nor a message line")
        line = (line or "").rstrip("\r\n")
        if not line.strip():
            raise ParseError("empty record")
        if line.startswith("#"):
            return self._directive(raw, line)
        fields = self._fields.get(raw.source_id, DEFAULT_FIELDS)
        values = line.split(" ")
        if len(values) != len(fields):
            raise ParseError(
                f"W3C line has {len(values)} values but #Fields lists {len(fields)}"
                + ("" if raw.source_id in self._fields else " (no #Fields seen yet for this source)")
            )
        return w3c_event(dict(zip(fields, values, strict=True)), line)

"""Windows events that NXLog (or a similar agent) sends as JSON inside syslog.

NXLog's common setup for agencies is `im_msvistalog` + `to_json()` + `om_tcp` with a syslog
header. The record is parsed by the Windows parser; the syslog header supplies the time when the
record's own `EventTime` carries no zone (NXLog writes local time without one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import orjson
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.windows import from_nxlog

if TYPE_CHECKING:
    from canhgac.pipeline.normalize.syslog import SyslogMessage


class NxlogWindowsJson:
    name: ClassVar[str] = "nxlog-windows-json"

    def detect(self, msg: SyslogMessage) -> bool:
        body = msg.message
        return body.startswith("{") and '"EventID"' in body and '"Channel"' in body

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        try:
            record = orjson.loads(msg.message)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"NXLog JSON body is not valid JSON: {exc}") from exc
        windows = from_nxlog(record)  # raises ParseError when it is not a Windows record
        header_time = event.get("@timestamp")
        syslog_meta = event.get("log", {}).get("syslog")
        event.clear()
        event.update(windows)
        event_time = record.get("EventTimeUTC") or (header_time if msg.timestamp else None)
        if isinstance(event_time, str):
            event["@timestamp"] = event_time
        if syslog_meta:
            event.setdefault("log", {})["syslog"] = syslog_meta


body_formats.register("nxlog-windows-json")(NxlogWindowsJson())

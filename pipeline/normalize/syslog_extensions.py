"""What the syslog parser applies after the header: body formats (found by content) and program
enrichers (found by app name).

Why two registries: a FortiGate, a Cisco ASA or a CEF sender is recognised by what the message
says, whatever the app name; an sshd or sudo line is recognised by its program. Each entry lives
in the module of its format (`cef.py`, `linux_auth.py`, …), registered once at import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

from canhgac.core.event import Event
from canhgac.core.registry import Registry

if TYPE_CHECKING:
    from canhgac.pipeline.normalize.syslog import SyslogMessage


class BodyFormat(Protocol):
    """A message format carried inside syslog. `apply` parses fully before it touches the event,
    so a ParseError leaves the syslog event as it was."""

    name: ClassVar[str]

    def detect(self, msg: SyslogMessage) -> bool: ...

    def apply(self, event: Event, msg: SyslogMessage) -> None: ...


ProgramEnricher = Callable[[Event, "SyslogMessage"], None]

body_formats: Registry[BodyFormat] = Registry("syslog body format")
# Keyed by lower-case program name, without a path ("/usr/sbin/cron" -> "cron").
program_enrichers: Registry[ProgramEnricher] = Registry("syslog program enricher")


# The order the syslog parser tries body formats in; the first whose `detect` says yes parses the
# body. Self-announcing headers first (`CEF:`, `LEEF:` — a FortiGate can send CEF, and its CEF must
# not be read as FortiGate key=value), then JSON, then vendor markers, then formats recognised by
# program name. Every registered body format appears here exactly once (the syslog parser refuses
# to start otherwise, and tests/unit/normalize/test_catalog.py checks it).
BODY_FORMAT_PRECEDENCE: tuple[str, ...] = (
    "cef",
    "leef",
    "nxlog-windows-json",
    "cisco-asa",
    "fortigate",
    "auditd",
    "pfsense-filterlog",
    "web-access",
    "web-error",
)


def register_enricher(*programs: str) -> Callable[[ProgramEnricher], ProgramEnricher]:
    def add(func: ProgramEnricher) -> ProgramEnricher:
        for program in programs:
            program_enrichers.register(program.lower())(func)
        return func

    return add

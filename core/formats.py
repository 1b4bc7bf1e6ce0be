"""Record formats: the parser names a source's `format` may take, and the aliases people write.

The parsers live in `pipeline/normalize/` and register under these names; this list lives in core so
the API and the settings can refuse a format no parser has without importing a pipeline stage
(pyproject's layer contracts forbid that). tests/unit/normalize/test_formats.py holds it equal to
the parser registry, alias by alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from canhgac.core.errors import ConfigError

# One name per parser (pipeline/normalize/*.py registers each once).
PARSER_FORMATS: frozenset[str] = frozenset(
    {
        "apache-access", "apache-error", "auditd", "cef", "cisco-asa", "fortigate", "iis-w3c", "json",
        "leef", "linux-auth", "motcua-audit", "nginx-access", "nginx-error", "nxlog-json", "pfsense",
        "syslog", "windows-evtx-json", "winlogbeat",
    }
)  # fmt: skip

# What people call a format → the parser that reads it. Written lower-case with hyphens; the
# lookup folds case and `_` so `Nginx_Access` finds `nginx-access`.
FORMAT_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "nginx": "nginx-access", "apache": "apache-access", "apache2": "apache-access",
        "httpd": "apache-access", "iis": "iis-w3c", "w3c": "iis-w3c",
        "windows": "winlogbeat", "windows-json": "winlogbeat", "evtx": "windows-evtx-json",
        "nxlog": "nxlog-json", "im-msvistalog": "nxlog-json",
        "fortinet": "fortigate", "fortios": "fortigate", "forti": "fortigate",
        "asa": "cisco-asa", "ftd": "cisco-asa", "filterlog": "pfsense",
        "arcsight": "cef", "qradar": "leef",
        "auth": "linux-auth", "auth-log": "linux-auth", "secure": "linux-auth", "audit": "auditd",
        "rfc5424": "syslog", "rfc3164": "syslog", "rsyslog": "syslog", "syslog-ng": "syslog",
        "ecs": "json", "ndjson": "json", "motcua": "motcua-audit",
        # A Beat's `agent.type`, which the `_bulk` endpoint passes on as the format of a `syslog`
        # source's documents: Filebeat's `message` is a log line (a module's dataset names its parser).
        "filebeat": "syslog", "auditbeat": "json", "packetbeat": "json", "metricbeat": "json",
        "heartbeat": "json",
    }
)  # fmt: skip


def known_formats() -> str:
    """The names a source may use, for error messages: parsers, then aliases."""
    aliases = ", ".join(f"{alias} ({target})" for alias, target in sorted(FORMAT_ALIASES.items()))
    return f"{', '.join(sorted(PARSER_FORMATS))}; aliases: {aliases}"


def canonical_format(name: str) -> str | None:
    """The parser name for `name` (a parser name or an alias, any case, `_` for `-`), else None."""
    key = name.strip().lower().replace("_", "-")
    if key in PARSER_FORMATS:
        return key
    return FORMAT_ALIASES.get(key)


def resolve_format(name: str) -> str:
    """`canonical_format`, or ConfigError naming every known format."""
    canonical = canonical_format(name)
    if canonical is None:
        raise ConfigError(f"unknown format {name!r}; known: {known_formats()}")
    return canonical

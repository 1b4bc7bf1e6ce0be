"""Every parser module, imported so each registers itself once (parsers, syslog body formats,
program enrichers). Adding a parser: write its module, import it here; the completeness test in
tests/unit/normalize/test_catalog.py fails when a module registers something and is not listed."""

from canhgac.pipeline.normalize import (
    auditd,
    cef,
    cisco_asa,
    fortigate,
    iis,
    json_record,
    leef,
    linux_auth,
    motcua_audit,
    pfsense,
    syslog,
    syslog_windows,
    web_access,
    web_error,
    windows,
)

__all__ = [
    "auditd",
    "cef",
    "cisco_asa",
    "fortigate",
    "iis",
    "json_record",
    "leef",
    "linux_auth",
    "motcua_audit",
    "pfsense",
    "syslog",
    "syslog_windows",
    "web_access",
    "web_error",
    "windows",
]

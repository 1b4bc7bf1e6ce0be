"""Shipper configurations for one source, as the console hands them to an agency (onboarding).

The rsyslog and syslog-ng texts are the very blocks docs/sources/rsyslog.md and syslog-ng.md give,
which tests/integration/test_shippers_docs.py runs with the real daemons: rendered with the
default collector address (OnboardingConfig) they must equal those blocks character for character
(tests/unit/api/test_shipper_configs.py), so the documentation and the console cannot drift.
Syslog carries no key: the collector knows a syslog sender by its address (the source's
`allowed_addresses`). NXLog, Winlogbeat and Fluent Bit send over HTTP with the source's ingest key.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from urllib.parse import urlsplit

from canhgac.core.config import OnboardingConfig, SourceConfig

KEY_PLACEHOLDER = "<ingest key of source ${source_id}>"

# docs/sources/rsyslog.md, "Recommended: RELP".
RSYSLOG_RELP = Template("""\
# /etc/rsyslog.d/60-canhgac-relp.conf
module(load="omrelp")
template(name="CanhgacRelp" type="string"
         string="%uuid% <%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% %STRUCTURED-DATA% %msg%")
action(type="omrelp" target="${host}" port="${relp_port}" template="CanhgacRelp"
       queue.type="Disk" queue.filename="canhgac_relp" queue.maxDiskSpace="1g"
       queue.timeoutWorkerthreadShutdown="-1"
       action.resumeRetryCount="-1" action.resumeInterval="5")
""")  # noqa: E501 (the documented line)

# docs/sources/rsyslog.md, "Plain TCP" (for a source that may not use RELP).
RSYSLOG_TCP = Template("""\
# /etc/rsyslog.d/60-canhgac.conf
action(type="omfwd" target="${host}" port="${tcp_port}" protocol="tcp"
       template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted"
       queue.type="LinkedList" queue.filename="canhgac_fwd" queue.maxDiskSpace="1g"
       queue.saveOnShutdown="on" action.resumeRetryCount="-1" action.resumeInterval="5")
""")

# docs/sources/syslog-ng.md, the first block.
SYSLOG_NG = Template("""\
# /etc/syslog-ng/conf.d/canhgac.conf
destination d_canhgac {
    syslog("${host}" transport("tcp") port(${tcp_port}) time-reopen(5)
           disk-buffer(mem-buf-size(16777216) disk-buf-size(1073741824) reliable(yes)));
};
log { source(s_src); destination(d_canhgac); };
""")

# Windows event logs (im_msvistalog) as JSON, or IIS W3C lines for an `iis-w3c` source, to the
# native endpoint (docs/sources/iis-nxlog.md).
NXLOG_EVENTLOG = Template("""\
# C:\\Program Files\\nxlog\\conf\\nxlog.d\\canhgac.conf
# AddHeader needs NXLog Enterprise Edition (Community Edition: use Winlogbeat or Fluent Bit).
<Extension json>
    Module      xm_json
</Extension>

<Input eventlog>
    Module      im_msvistalog
    Exec        to_json();
</Input>

<Output canhgac>
    Module      om_http
    URL         ${http_url}/ingest/v1/${source_id}
    ContentType application/json
    AddHeader   Authorization: Bearer ${key}
</Output>

<Route canhgac>
    Path        eventlog => canhgac
</Route>
""")

NXLOG_IIS = Template("""\
# C:\\Program Files\\nxlog\\conf\\nxlog.d\\canhgac.conf
# AddHeader needs NXLog Enterprise Edition (Community Edition: use Fluent Bit).
<Input iis>
    Module      im_file
    File        'C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex*.log'
    SavePos     TRUE
    # keep the #Fields lines: the parser needs them to know the column order
</Input>

<Output canhgac>
    Module      om_http
    URL         ${http_url}/ingest/v1/${source_id}
    ContentType text/plain
    AddHeader   Authorization: Bearer ${key}
</Output>

<Route canhgac>
    Path        iis => canhgac
</Route>
""")

# Canhgac's `_bulk` endpoint answers as Elasticsearch 7.17 (collectors.http.es_version).
WINLOGBEAT = Template("""\
# C:\\Program Files\\Winlogbeat\\winlogbeat.yml
winlogbeat.event_logs:
  - name: Security
  - name: System
  - name: Application
    ignore_older: 72h
  - name: Microsoft-Windows-Sysmon/Operational
  - name: Microsoft-Windows-PowerShell/Operational

# Canhgac is not Elasticsearch: no templates, no ILM.
setup.template.enabled: false
setup.ilm.enabled: false

output.elasticsearch:
  hosts: ["${http_url}"]
  username: "${source_id}"
  password: "${key}"
  # Winlogbeat 8: the collector answers as Elasticsearch 7.17.
  allow_older_versions: true
""")

FLUENT_BIT = Template("""\
# /etc/fluent-bit/fluent-bit.conf
[SERVICE]
    Flush        5
    storage.path /var/lib/fluent-bit/

[INPUT]
    Name         tail
    Path         /var/log/auth.log,/var/log/syslog
    DB           /var/lib/fluent-bit/canhgac.db
    storage.type filesystem

[OUTPUT]
    Name               es
    Match              *
    Host               ${http_host}
    Port               ${http_port}
    tls                ${tls}
    HTTP_User          ${source_id}
    HTTP_Passwd        ${key}
    Suppress_Type_Name On
    # the same _id when a batch is sent again: stored once
    Generate_ID        On
    Retry_Limit        False
""")


@dataclass(frozen=True)
class ShipperConfig:
    shipper: str  # rsyslog, syslog-ng, nxlog, winlogbeat, fluent-bit
    file_name: str  # where it goes on the sender
    text: str
    uses_key: bool  # false: syslog, the sender is known by its address
    doc: str  # docs/sources page or docs/ingest.md section it follows


def _may_use(source: SourceConfig, transport: str) -> bool:
    return not source.transports or transport in source.transports


def render(source: SourceConfig, onboarding: OnboardingConfig, key: str | None) -> list[ShipperConfig]:
    """Every shipper's configuration for `source`, with `key` (or a placeholder naming the source)."""
    url = urlsplit(onboarding.http_url)
    values = {
        "host": onboarding.collector_host,
        "relp_port": str(onboarding.relp_port),
        "tcp_port": str(onboarding.syslog_tcp_port),
        "http_url": onboarding.http_url,
        "http_host": url.hostname or onboarding.collector_host,
        "http_port": str(url.port or (443 if url.scheme == "https" else 80)),
        "tls": "On" if url.scheme == "https" else "Off",
        "source_id": source.id,
    }
    values["key"] = key if key is not None else Template(KEY_PLACEHOLDER).substitute(values)
    relp = _may_use(source, "relp") or not _may_use(source, "syslog_tcp")
    rsyslog = RSYSLOG_RELP if relp else RSYSLOG_TCP
    nxlog = NXLOG_IIS if source.format == "iis-w3c" else NXLOG_EVENTLOG
    return [
        ShipperConfig(
            "rsyslog",
            "/etc/rsyslog.d/60-canhgac-relp.conf" if relp else "/etc/rsyslog.d/60-canhgac.conf",
            rsyslog.substitute(values),
            False,
            "docs/sources/rsyslog.md",
        ),
        ShipperConfig(
            "syslog-ng",
            "/etc/syslog-ng/conf.d/canhgac.conf",
            SYSLOG_NG.substitute(values),
            False,
            "docs/sources/syslog-ng.md",
        ),
        ShipperConfig(
            "nxlog",
            r"C:\Program Files\nxlog\conf\nxlog.d\canhgac.conf",
            nxlog.substitute(values),
            True,
            "docs/sources/iis-nxlog.md",
        ),
        ShipperConfig(
            "winlogbeat",
            r"C:\Program Files\Winlogbeat\winlogbeat.yml",
            WINLOGBEAT.substitute(values),
            True,
            "docs/ingest.md",
        ),
        ShipperConfig(
            "fluent-bit", "/etc/fluent-bit/fluent-bit.conf", FLUENT_BIT.substitute(values), True, "docs/ingest.md"
        ),
    ]

"""Sigma field names → event paths, as pySigma processing pipelines.

The same pipeline feeds the streaming compiler and the OpenSearch query converter, so a rule
reads the same event fields in both and their results agree.

- Windows rules: a bare Sigma field `X` is `winlog.event_data.X` (Winlogbeat's layout, kept by our
  Windows parser); the few System fields Sigma names map to their `winlog.*` homes.
- The generic log sources (firewall, webserver, proxy, dns, antivirus), Linux authentication and
  Linux process creation: the taxonomy's names → ECS, one target each, listed below.
- Anything else is read as the dotted path written in the rule, so our own packs can use ECS.
"""

from __future__ import annotations

from collections.abc import Callable

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation, FieldMappingTransformation

WINDOWS_EVENT_DATA = "winlog.event_data."

# System fields (not EventData) that Sigma's Windows rules name directly.
WINDOWS_SYSTEM_FIELDS: dict[str, str] = {
    "EventID": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "Level": "winlog.level",
    "Keywords": "winlog.keywords",
    "EventRecordID": "winlog.record_id",
}

# Fields whose name depends on the event's source (Security 4688's NewProcessName for Sysmon's
# Image …) are not mapped here: source_fields.py lists them and the compiler reads, per event, the
# name its source uses; the query converter passes `source_names` to map one source's branch.

# The generic log sources of Sigma's taxonomy, each Sigma field → one ECS field (docs/detection.md
# lists them per log source). The normalizer writes these ECS fields for every product of the
# category (FortiGate, pfSense and ASA for firewall; nginx, Apache and IIS for webserver; Windows
# Defender and ECS malware events for antivirus; ECS-shaped JSON for proxy and dns).

# Antivirus detections: the signature's name and the detected file. Windows Defender events carry
# them as ECS too (ThreatName → rule.name, Path → file.path), so one field serves every product.
ANTIVIRUS_FIELDS: dict[str, str | list[str]] = {
    "Signature": "rule.name",
    "Filename": "file.path",
}

FIREWALL_FIELDS: dict[str, str | list[str]] = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "action": "event.action",
    "username": "user.name",
    "protocol": "network.transport",
}

WEBSERVER_FIELDS: dict[str, str | list[str]] = {
    "c-ip": "source.ip",
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "cs-uri": "url.original",
    "sc-status": "http.response.status_code",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-host": "url.domain",
    "cs-username": "user.name",
    "cs-version": "http.version",
    "sc-bytes": "http.response.body.bytes",
    "cs-bytes": "http.request.body.bytes",
}

PROXY_FIELDS: dict[str, str | list[str]] = {
    "c-ip": "source.ip",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "c-uri": "url.original",
    "cs-uri": "url.original",
    "c-uri-stem": "url.path",
    "c-uri-query": "url.query",
    "c-uri-extension": "url.extension",
    "c-useragent": "user_agent.original",
    "cs-host": "url.domain",
    "r-dns": "url.domain",
    "cs-method": "http.request.method",
    "cs-referrer": "http.request.referrer",
    "sc-status": "http.response.status_code",
    "cs-version": "http.version",
    "sc-bytes": "http.response.body.bytes",
    "cs-bytes": "http.request.body.bytes",
    "cs-username": "user.name",
}

DNS_FIELDS: dict[str, str | list[str]] = {
    "query": "dns.question.name",
    "record_type": "dns.question.type",
    "answer": "dns.resolved_ip",  # ECS: every IP in the answers (dns.answers is a list of objects)
    "parent_domain": "dns.question.registered_domain",
    "response_code": "dns.response_code",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
}

# Linux authentication (sshd, sudo, su, PAM …): SigmaHQ's rules there are keywords; these names
# let a rule say where a login came from without knowing ECS.
LINUX_AUTH_FIELDS: dict[str, str | list[str]] = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "username": "user.name",
    "action": "event.action",
}
LINUX_AUTH_SERVICES = ("auth", "sshd", "sudo")

LINUX_PROCESS_CREATION_FIELDS: dict[str, str | list[str]] = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "User": "user.name",
    "CurrentDirectory": "process.working_directory",
}


def windows_field(name: str | None) -> str:
    if name is None:  # keyword item: FieldFunctionTransformation never passes these here
        return ""
    if name.startswith("winlog."):  # already mapped by an alias item of this pipeline
        return name
    return WINDOWS_SYSTEM_FIELDS.get(name) or WINDOWS_EVENT_DATA + name


def _mapping(identifier: str, mapping: dict[str, str | list[str]], **logsource: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=identifier,
        transformation=FieldMappingTransformation(dict(mapping)),  # type: ignore[arg-type]
        rule_conditions=[LogsourceCondition(**logsource)],
    )


def _function(identifier: str, func: Callable[[str | None], str], **logsource: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=identifier,
        transformation=FieldFunctionTransformation({}, func),
        rule_conditions=[LogsourceCondition(**logsource)],
    )


def canhgac_pipeline(source_names: dict[str, str] | None = None) -> ProcessingPipeline:
    """Field mapping for every rule; a new pipeline each call because pySigma pipelines keep state.
    `source_names` (Sigma field → name) maps the fields one source names differently, first."""
    items = [
        *(
            [
                ProcessingItem(
                    identifier="canhgac_source_names",
                    transformation=FieldMappingTransformation(dict(source_names)),  # type: ignore[arg-type]
                )
            ]
            if source_names
            else []
        ),
        _mapping("canhgac_antivirus", ANTIVIRUS_FIELDS, category="antivirus"),
        _mapping("canhgac_firewall", FIREWALL_FIELDS, category="firewall"),
        _mapping("canhgac_webserver", WEBSERVER_FIELDS, category="webserver"),
        _mapping("canhgac_proxy", PROXY_FIELDS, category="proxy"),
        _mapping("canhgac_dns", DNS_FIELDS, category="dns"),
        *(
            _mapping(f"canhgac_linux_{service}", LINUX_AUTH_FIELDS, product="linux", service=service)
            for service in LINUX_AUTH_SERVICES
        ),
        _mapping(
            "canhgac_linux_process_creation",
            LINUX_PROCESS_CREATION_FIELDS,
            product="linux",
            category="process_creation",
        ),
    ]
    pipeline = ProcessingPipeline(name="canhgac field mapping", priority=20, items=items)
    windows = ProcessingPipeline(
        name="canhgac windows",
        priority=21,
        items=[_function("canhgac_windows_event_data", windows_field, product="windows")],
    )
    return pipeline + windows

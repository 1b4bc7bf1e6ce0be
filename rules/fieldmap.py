"""Sigma field names → event paths, as pySigma processing pipelines.

The same pipeline feeds the streaming compiler and the OpenSearch query converter, so a rule
reads the same event fields in both and their results agree.

- Windows rules: a bare Sigma field `X` is `winlog.event_data.X` (Winlogbeat's layout, kept by our
  Windows parser); the few System fields Sigma names map to their `winlog.*` homes.
- Web server, Linux process creation and antivirus rules: the ECS names listed below.
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

# Security 4688 names the image fields differently from Sysmon 1 (logsources-thor.yml maps them);
# reading both keeps one compiled rule valid for either source.
WINDOWS_PROCESS_CREATION_ALIASES: dict[str, list[str]] = {
    "Image": [WINDOWS_EVENT_DATA + "Image", WINDOWS_EVENT_DATA + "NewProcessName"],
    "ParentImage": [WINDOWS_EVENT_DATA + "ParentImage", WINDOWS_EVENT_DATA + "ParentProcessName"],
}

# Defender detections (category antivirus) per logsources-thor.yml.
ANTIVIRUS_FIELDS: dict[str, str | list[str]] = {
    "Signature": [WINDOWS_EVENT_DATA + "ThreatName", "Signature"],
    "Filename": [WINDOWS_EVENT_DATA + "Path", "Filename"],
}

WEBSERVER_FIELDS: dict[str, str | list[str]] = {
    "c-ip": "source.ip",
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "cs-uri": "url.original",
    "sc-status": "http.response.status_code",
    "cs-user-agent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-host": "url.domain",
    "cs-username": "user.name",
}

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


def canhgac_pipeline() -> ProcessingPipeline:
    """Field mapping for every rule; a new pipeline each call because pySigma pipelines keep state."""
    items = [
        # Aliases first: a field mapped once is not mapped again by the prefixing function below.
        ProcessingItem(
            identifier="canhgac_windows_process_creation",
            transformation=FieldMappingTransformation(WINDOWS_PROCESS_CREATION_ALIASES),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(product="windows", category="process_creation")],
        ),
        _mapping("canhgac_antivirus", ANTIVIRUS_FIELDS, category="antivirus"),
        _mapping("canhgac_webserver", WEBSERVER_FIELDS, category="webserver"),
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

"""Components are found one way: a module registers its class in a Registry, and the kind's
catalog module imports every such module. These tests fail when a module registers something but
its catalog does not import it (so production would never see it), and when an ordering written as
data (stage start order, syslog body-format precedence) misses a registered name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# (folder in the checkout, its package, the catalog module)
CATALOGS = [
    ("collectors", "canhgac.collectors", "canhgac.collectors.catalog"),
    ("pipeline/normalize", "canhgac.pipeline.normalize", "canhgac.pipeline.normalize.catalog"),
    ("pipeline/notify/notifiers", "canhgac.pipeline.notify.notifiers", "canhgac.pipeline.notify.notifiers.catalog"),
    ("pipeline", "canhgac.pipeline", "canhgac.pipeline.catalog"),
]
REGISTERS = re.compile(r"^\s*@?\w+\.register(?:_enricher)?\(", re.MULTILINE)


def registering_modules(folder: str, package: str) -> set[str]:
    found = set()
    for path in sorted((REPO / folder).rglob("*.py")):
        if path.name == "catalog.py" or "__pycache__" in path.parts:
            continue
        if REGISTERS.search(path.read_text(encoding="utf-8")):
            dotted = ".".join(path.relative_to(REPO / folder).with_suffix("").parts)
            found.add(f"{package}.{dotted}")
    return found


def modules_loaded_by(catalog: str) -> set[str]:
    # A fresh interpreter: what the catalog alone imports, not what earlier tests imported.
    code = f"import sys, {catalog}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


@pytest.mark.parametrize(("folder", "package", "catalog"), CATALOGS, ids=[c[2] for c in CATALOGS])
def test_catalog_imports_every_registering_module(folder: str, package: str, catalog: str) -> None:
    wanted = registering_modules(folder, package)
    assert wanted, f"no module in {folder} registers anything: the pattern is stale"
    missing = wanted - modules_loaded_by(catalog)
    assert not missing, f"{catalog} does not import {sorted(missing)}"


def test_stage_order_lists_every_registered_stage_once() -> None:
    from canhgac.pipeline.catalog import ALL_STAGES, COMPANIONS, STAGES

    companions = [c for names in COMPANIONS.values() for c in names]
    assert sorted([*ALL_STAGES, *companions]) == STAGES.names()
    assert set(COMPANIONS) <= set(ALL_STAGES)
    assert len(set(ALL_STAGES)) == len(ALL_STAGES)


def test_body_format_precedence_lists_every_registered_body_format_once() -> None:
    from canhgac.pipeline.normalize import catalog  # noqa: F401
    from canhgac.pipeline.normalize.syslog import SyslogParser
    from canhgac.pipeline.normalize.syslog_extensions import BODY_FORMAT_PRECEDENCE, body_formats

    assert sorted(BODY_FORMAT_PRECEDENCE) == body_formats.names()
    assert len(set(BODY_FORMAT_PRECEDENCE)) == len(BODY_FORMAT_PRECEDENCE)
    assert [b.name for b in SyslogParser()._bodies] == list(BODY_FORMAT_PRECEDENCE)


def test_leef_from_a_fortigate_is_read_as_leef_not_as_fortigate_key_values() -> None:
    """Precedence matters: FortiGate can send LEEF, whose attributes hold devname=/devid= too
    (alphabetical order tried `fortigate` before `leef`)."""
    from canhgac.core.envelope import RawEnvelope
    from canhgac.pipeline.normalize.syslog import SyslogParser

    line = (
        "<134>Dec  6 10:00:00 fw01 LEEF:1.0|Fortinet|FortiGate|7.2|13|"
        "devname=FGT-SO\tdevid=FG100F\tdate=2026-12-06\tsrc=10.1.2.3\tdst=203.0.113.7"
    )
    raw = RawEnvelope.from_json(
        b'{"id":"01J0000000000000000000TEST","received_at":"2026-12-06T03:00:00Z","source_id":"fw",'
        b'"agency":"a","collector":"syslog-tcp","peer":{"ip":"10.0.0.1"},"format":"syslog","message":'
        + __import__("orjson").dumps(line)
        + b"}"
    )
    event = SyslogParser().parse(raw)
    assert event["canhgac"]["dataset"] == "leef", event["canhgac"]


def test_catalog_file_names_match() -> None:
    for folder, _, catalog in CATALOGS:
        assert (REPO / folder / "catalog.py").is_file(), catalog
    assert Path(REPO / "pipeline" / "catalog.py").read_text().count(".register(") >= 6

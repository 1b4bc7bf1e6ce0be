"""Completeness: every module registers what it defines; every parser has golden files."""

from __future__ import annotations

import importlib
import pkgutil

import canhgac.pipeline.normalize as package
import pytest
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.syslog_extensions import body_formats, program_enrichers
from golden_runner import GOLDEN

# Modules that hold shared machinery, not a format.
HELPERS = {"base", "catalog", "syslog_extensions", "timestamps", "fieldvalues", "windows_ecs", "shipped", "geoip"}
# The Windows parsers keep their golden files in one directory of their own layout.
WINDOWS_MODULES = {"windows", "syslog_windows"}


def _registered_modules() -> set[str]:
    modules = {parsers.get(name).__module__ for name in parsers}
    modules |= {type(body_formats.get(name)).__module__ for name in body_formats}
    modules |= {program_enrichers.get(name).__module__ for name in program_enrichers}
    return {m.rsplit(".", 1)[-1] for m in modules}


def test_every_module_registers_something() -> None:
    registered = _registered_modules()
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
        if info.name in HELPERS:
            continue
        assert info.name in registered, f"pipeline/normalize/{info.name}.py registers no parser/body/enricher"


@pytest.mark.parametrize("name", parsers.names())
def test_parser_is_constructible_and_named(name: str) -> None:
    cls = parsers.get(name)
    assert cls.name == name
    assert callable(cls().parse)


@pytest.mark.parametrize("name", parsers.names())
def test_every_parser_has_golden_files(name: str) -> None:
    module = parsers.get(name).__module__.rsplit(".", 1)[-1]
    if module in WINDOWS_MODULES:
        assert (GOLDEN / "windows").is_dir(), "Windows parsers' golden directory is missing"
        return
    assert (GOLDEN / name / "input.log").is_file(), f"golden/{name}/input.log missing"
    assert (GOLDEN / name / "expected.jsonl").is_file(), f"golden/{name}/expected.jsonl missing"


@pytest.mark.parametrize("name", body_formats.names())
def test_body_format_names_match(name: str) -> None:
    assert body_formats.get(name).name == name


def test_issue_parser_list_is_registered() -> None:
    wanted = {
        "syslog", "linux-auth", "auditd", "nginx-access", "nginx-error", "apache-access", "apache-error",
        "iis-w3c", "fortigate", "pfsense", "cisco-asa", "cef", "leef", "json", "motcua-audit",
    }  # fmt: skip
    assert wanted <= set(parsers.names())

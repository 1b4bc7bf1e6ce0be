"""Every collector module registers itself; multi-line joining and file offsets."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import canhgac.collectors as package
from canhgac.collectors.file.tail import Joiner, TailedFile
from canhgac.collectors.registry import COLLECTORS, load_builtin
from canhgac.core.config import CollectorsConfig


def test_every_collector_class_is_registered_and_has_a_config_section() -> None:
    load_builtin()
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            concrete = isinstance(obj, type) and not getattr(obj, "_is_protocol", False)
            if concrete and obj.__module__ == module.__name__ and hasattr(obj, "build") and hasattr(obj, "enabled"):
                assert obj in [COLLECTORS.get(n) for n in COLLECTORS], f"{obj} is not registered"
    assert set(COLLECTORS.names()) <= set(CollectorsConfig.model_fields)


def test_multiline_records_end_offsets_and_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"2026 start one\n  at x\n  at y\n2026 start two\npartial")
    tailed = TailedFile(
        str(path), 0, joiner=Joiner(re.compile(rb"^\d{4} "), 100), max_message_bytes=1000, multiline_timeout_secs=60
    )
    records = tailed.read(100)
    assert [r.text for r in records] == ["2026 start one\n  at x\n  at y"]
    assert records[0].end == len(b"2026 start one\n  at x\n  at y\n")
    last = tailed.read(100, at_end_of_life=True)
    assert [r.text for r in last] == ["2026 start two\npartial"]  # not a start line: it continues
    tailed.close()

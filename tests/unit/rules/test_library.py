"""Live reload: changed files are recompiled; a file that breaks keeps its previous rules."""

from __future__ import annotations

import os
from pathlib import Path

from canhgac.rules.library import RuleLibrary

from .support import event, rule


def _touch_write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # mtime granularity


def test_reload_picks_up_changes_and_keeps_working_rules(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(rule("sel:\n  a: x\ncondition: sel"), encoding="utf-8")
    lib = RuleLibrary([tmp_path])
    assert lib.engine.match(event({"a": "x"}))
    assert lib.reload_if_changed() is False

    _touch_write(path, rule("sel:\n  a: y\ncondition: sel"))
    assert lib.reload_if_changed() is True
    assert lib.engine.match(event({"a": "y"})) and not lib.engine.match(event({"a": "x"}))

    _touch_write(path, "title: [broken\n")
    lib.reload_if_changed()
    assert lib.engine.match(event({"a": "y"}))  # previous version still serves
    assert [r.reason for r in lib.last_rejected] == ["invalid YAML"]

    (tmp_path / "new.yml").write_text(rule("sel:\n  b: z\ncondition: sel"), encoding="utf-8")
    assert lib.reload_if_changed() is True
    assert lib.engine.match(event({"b": "z"}))

    path.unlink()
    assert lib.reload_if_changed() is True
    assert not lib.engine.match(event({"a": "y"}))

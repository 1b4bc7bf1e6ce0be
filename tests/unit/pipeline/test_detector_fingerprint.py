"""The detector's rule-file fingerprint changes exactly when a rule file is added, edited or
removed (what makes it reload), and not for other files."""

from __future__ import annotations

import os
from pathlib import Path

from canhgac.pipeline.detector import fingerprint

RULE = "title: t\nlogsource: {product: linux}\ndetection: {sel: {a: b}, condition: sel}\n"


def test_rule_files_added_edited_and_removed_change_the_fingerprint(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "deep" / "er").mkdir(parents=True)
    (rules / "one.yml").write_text(RULE)
    start = fingerprint([rules])
    assert [Path(p).name for p, _, _ in start] == ["one.yml"]
    assert fingerprint([rules]) == start  # nothing changed: the same

    (rules / "README.md").write_text("not a rule")
    (rules / "deep" / "notes.txt").write_text("not a rule")
    assert fingerprint([rules]) == start

    (rules / "deep" / "er" / "two.yaml").write_text(RULE)
    added = fingerprint([rules])
    assert sorted(Path(p).name for p, _, _ in added) == ["one.yml", "two.yaml"]

    (rules / "one.yml").write_text(RULE + "# edited\n")
    edited = fingerprint([rules])
    assert edited != added

    stamp = os.stat(rules / "one.yml")
    (rules / "one.yml").write_text(RULE.replace("b", "c"))  # same size
    os.utime(rules / "one.yml", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    assert fingerprint([rules]) != edited

    (rules / "deep" / "er" / "two.yaml").unlink()
    assert [Path(p).name for p, _, _ in fingerprint([rules])] == ["one.yml"]


def test_a_single_file_and_several_roots(tmp_path: Path) -> None:
    single = tmp_path / "alone.yml"
    single.write_text(RULE)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "a.yml").write_text(RULE)
    found = fingerprint([single, pack, tmp_path / "missing"])
    assert [p for p, _, _ in found] == [str(single), str(pack / "a.yml")]
    assert all(mtime > 0 and size == len(RULE) for _, mtime, size in found)

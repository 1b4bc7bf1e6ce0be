"""Every parser against its golden files; a difference fails, nothing is rewritten here."""

from __future__ import annotations

import orjson
import pytest
from golden_runner import GOLDEN, golden_names, run

NAMES = golden_names()


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    expected_file = GOLDEN / name / "expected.jsonl"
    assert expected_file.exists(), f"{expected_file} missing: run golden_runner.py {name} and review it"
    expected = [orjson.loads(line) for line in expected_file.read_text(encoding="utf-8").removesuffix("\n").split("\n")]
    actual = run(name)
    assert len(actual) == len(expected), f"{name}: {len(actual)} events, golden has {len(expected)}"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert got == want, f"{name} input line {number} differs from golden"

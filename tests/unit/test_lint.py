"""The code base stays clean: ruff and mypy as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-5000:]


def test_mypy_is_clean() -> None:
    result = run("mypy", ".")
    assert result.returncode == 0, result.stdout[-5000:]

"""The code base stays clean: ruff (lint and format) and mypy with every canhgac.* import resolved
(scripts/typecheck.py). scripts/lint.sh runs the same checks by hand."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = run("-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-5000:]


def test_ruff_format_is_applied() -> None:
    result = run("-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-5000:]


def test_mypy_is_clean_with_imports_resolved() -> None:
    result = run("scripts/typecheck.py")
    assert result.returncode == 0, result.stdout[-5000:]
    # The tree must really resolve our imports: a run that saw only a handful of files would be empty.
    found = re.search(r"in (\d+) source files", result.stdout)
    assert found and int(found.group(1)) > 150, result.stdout

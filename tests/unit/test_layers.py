"""The layers hold (import-linter contracts in pyproject.toml), and the check can fail.

Runs on the wheel-shaped tree scripts/typecheck.py lays out (symlinks), where every
`canhgac.*` module is at its installed name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from typecheck import build_tree


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(lint), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contracts_hold(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    build_tree(tree)
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_new_leak_breaks_a_contract(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    package = build_tree(tree)
    # A real copy of core/ with one module that reaches up into a stage.
    (package / "core").unlink()
    shutil.copytree(REPO / "core", package / "core", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "core" / "leak.py").write_text("from canhgac.pipeline import detector  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "core imports nothing of ours BROKEN" in result.stdout

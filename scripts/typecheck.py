"""Type-check the `canhgac` package with every `canhgac.*` import resolved to its real module.

Why a link tree: the top-level folders (`core/`, `api/`, …) install as `canhgac.core`, `canhgac.api`, …
(pyproject's `package-dir`). An editable install maps them with an import hook that mypy cannot see,
so every cross-folder import would silently be `Any`. This script lays the folders out as the wheel
does, under `build/typecheck/canhgac/` (symlinks, so it is instant and always current), and runs mypy
there with the project's config. Error paths read `canhgac/<folder>/…`: drop the `canhgac/` prefix
(or the folder mapping) to find the file in the checkout.

    .venv/bin/python scripts/typecheck.py            # the whole package
    .venv/bin/python scripts/typecheck.py --strict   # extra mypy flags pass through
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"


def package_dirs() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])


def build_tree(tree: Path = TREE) -> Path:
    """Lay the folders out as the wheel does under `tree` (symlinks); returns `tree/canhgac`."""
    shutil.rmtree(tree, ignore_errors=True)
    package = tree / "canhgac"
    package.mkdir(parents=True)
    for name, folder in package_dirs().items():
        source = ROOT / folder
        if name == "canhgac":  # the root package's own files sit beside the linked folders
            for item in source.iterdir():
                if item.suffix in (".py", ".typed"):
                    os.symlink(item, package / item.name)
        else:
            os.symlink(source, package / name.removeprefix("canhgac."), target_is_directory=True)
    return package


def main(argv: list[str]) -> int:
    build_tree()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *argv, "canhgac"]
    return subprocess.call(command, cwd=TREE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Packages are discovered, not listed: each top-level folder of the architecture (`core/`,
`collectors/`, …) installs as `canhgac.<folder>` with every sub-package found under it.

The folder -> package mapping is `[tool.setuptools] package-dir` in pyproject.toml (read here, and by
scripts/typecheck.py, so there is one list). A folder with Python files but no `__init__.py` is not
a package and is refused, so a forgotten marker fails the build instead of a user's import.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent


def package_dirs() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])


def discover(mapping: dict[str, str]) -> list[str]:
    packages: list[str] = []
    for name, folder in mapping.items():
        base = ROOT / folder
        packages.append(name)
        # Namespace discovery also lists data-only folders (rule packs, the console's js/): setuptools
        # wants every importable directory named, and their files come from package-data.
        skip = ["*__pycache__*", "*node_modules*"]
        packages += [f"{name}.{sub}" for sub in find_namespace_packages(str(base), exclude=skip)]
        for directory in [base, *(p for p in base.rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts or "node_modules" in directory.parts:
                continue
            if any(directory.glob("*.py")) and not (directory / "__init__.py").exists():
                raise SystemExit(f"{directory.relative_to(ROOT)} has Python files but no __init__.py")
    return sorted(set(packages))


setup(packages=discover(package_dirs()))

"""Operators install a wheel, not an editable checkout: build it, install it into a fresh virtualenv,
and use it from there (away from the checkout, so nothing resolves to the source folders).

The fresh virtualenv gets the project's dependencies by a path entry pointing at the test run's own
site-packages (a `.pth` line adds the directory without processing the editable install's hooks in
it), so the test needs no network and checks exactly what the wheel ships."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fresh virtualenv's bin/ directory, with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(root / "dist")], root)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((root / "dist").glob("canhgac-*.whl"))
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    purelib = Path(
        run(
            [str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root
        ).stdout.strip()
    )
    (purelib / "_canhgac_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        root,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir / "bin"


def test_wheel_installs_and_runs(installed: Path, tmp_path: Path) -> None:
    python = str(installed / "python")
    where = run([python, "-c", "import canhgac.api.app, canhgac.core; print(canhgac.core.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr[-3000:]
    assert "site-packages" in where.stdout and str(REPO) not in where.stdout, where.stdout

    help_text = run([str(installed / "canhgac"), "--help"], tmp_path)
    assert help_text.returncode == 0, help_text.stderr[-3000:]
    assert "sigma" in help_text.stdout and "run" in help_text.stdout

    packs = run(
        [python, "-c", "import canhgac.rules, pathlib; print(pathlib.Path(canhgac.rules.__file__).parent / 'packs')"],
        tmp_path,
    ).stdout.strip()
    assert str(REPO) not in packs
    check = run([str(installed / "canhgac"), "sigma", "check", packs], tmp_path)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert "loaded" in check.stdout

    console = run(
        [
            python,
            "-c",
            "import canhgac.web, pathlib; print(sorted(p.name for p in pathlib.Path(canhgac.web.__file__).parent.rglob('*.js'))[:3])",
        ],
        tmp_path,
    )
    assert console.returncode == 0 and ".js" in console.stdout, console.stdout + console.stderr


def test_installed_package_is_typed(installed: Path, tmp_path: Path) -> None:
    """A type checker pointed at the installed package sees real types (py.typed), not Any."""
    snippet = tmp_path / "uses_canhgac.py"
    snippet.write_text("from canhgac.core.config import Settings\n\nwrong: int = Settings()\n")
    result = run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--python-executable",
            str(installed / "python"),
            "--no-incremental",
            str(snippet),
        ],
        tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'expression has type "Settings", variable has type "int"' in result.stdout, result.stdout

"""The SigmaHQ conformance scorer passes with the whole corpus loaded (shared/ sits beside the repo)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCORER = REPO / ".." / "shared" / "conformance" / "run-sigma-conformance"


def test_sigma_conformance_passes(tmp_path: Path) -> None:
    """Exact on a cold load, and again when every rule file comes from the compiled-rule cache."""
    # CI and every developer machine have shared/ beside the repository: its absence is a failure.
    assert SCORER.exists(), f"conformance scorer not found at {SCORER} (shared/ must sit beside the repository)"
    log = tmp_path / "engine.log"
    # the engine's summary line (stderr) says how many files came from the cache
    engine = shlex.join(
        ["sh", "-c", f'exec "$0" -m canhgac sigma match "$@" 2>>{shlex.quote(str(log))}', sys.executable]
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _run in ("cold", "cached"):
        proc = subprocess.run(
            [sys.executable, str(SCORER), "--engine", engine],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=REPO,
            env=env,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:] + log.read_text()
    cold, cached = log.read_text().splitlines()[-2:]
    assert "0 files from cache, 3780 compiled" in cold, cold
    assert "3780 files from cache, 0 compiled" in cached, cached

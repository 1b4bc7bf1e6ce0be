"""The SigmaHQ conformance scorer passes with the whole corpus loaded (shared/ sits beside the repo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCORER = REPO / ".." / "shared" / "conformance" / "run-sigma-conformance"


def test_sigma_conformance_passes() -> None:
    # CI and every developer machine have shared/ beside the repository: its absence is a failure.
    assert SCORER.exists(), f"conformance scorer not found at {SCORER} (shared/ must sit beside the repository)"
    proc = subprocess.run(
        [sys.executable, str(SCORER), "--engine", f"{sys.executable} -m canhgac sigma match"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

"""The systemd units (deploy/systemd) pass `systemd-analyze verify` for every stage instance, the
collectors and the API, keep their hardening, and `--instance STAGE-N` names what they run."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from canhgac.pipeline.catalog import ALL_STAGES

from canhgac.cmd_run import parse_instance
from tests.unit.deploy.support import DEPLOY

UNITS = DEPLOY / "systemd"
INSTALLED_BINARY = "/opt/canhgac/venv/bin/canhgac"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "User": "canhgac",
    "UMask": "0077",
}


def service(name: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string((UNITS / name).read_text(encoding="utf-8"))
    return dict(parser["Service"])


def test_units_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at this checkout's canhgac.
    binary = shutil.which("canhgac", path=str(Path(sys.executable).parent))
    assert binary, "canhgac is not installed next to this Python"
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8")
        assert INSTALLED_BINARY in text or unit.suffix == ".target", unit.name
        (tmp_path / unit.name).write_text(text.replace(INSTALLED_BINARY, binary), encoding="utf-8")
    names = [f"canhgac-stage@{stage}-1.service" for stage in ALL_STAGES]
    names += ["canhgac-collectors.service", "canhgac-api.service", "canhgac.target"]
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"}
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # An unknown or misspelt option is only a warning for systemd: none is allowed here.
    assert result.stdout + result.stderr == ""


@pytest.mark.parametrize("unit", ["canhgac-stage@.service", "canhgac-collectors.service", "canhgac-api.service"])
def test_units_are_hardened(unit: str) -> None:
    options = service(unit)
    for key, value in HARDENING.items():
        assert options.get(key) == value, (unit, key)
    assert options["KillSignal"] == "SIGTERM" and int(options["TimeoutStopSec"]) >= 30  # room to drain
    if unit != "canhgac-collectors.service":
        assert options["CapabilityBoundingSet"] == ""  # no capability at all
    else:  # only to bind syslog's ports below 1024
        assert options["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"


def test_stage_units_run_the_instance_they_are_named_after() -> None:
    options = service("canhgac-stage@.service")
    assert options["ExecStart"] == f"{INSTALLED_BINARY} run --instance %i"
    assert options["StateDirectory"] == "canhgac/%i"


def test_instance_names() -> None:
    assert parse_instance("detector") == ("detector", 0)
    assert parse_instance("alert-indexer-2") == ("alert-indexer", 2)
    assert parse_instance("source-health-11") == ("source-health", 11)
    for bad in ("alert", "detector-x", "collectors-1", ""):
        with pytest.raises(ValueError):
            parse_instance(bad)

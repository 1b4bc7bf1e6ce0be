"""The image's Dockerfile copies every folder the wheel installs and runs unprivileged."""

from __future__ import annotations

import re
import tomllib

from tests.unit.deploy.support import DEPLOY, REPO

DOCKERFILE = (DEPLOY / "container" / "Dockerfile").read_text(encoding="utf-8")


def test_every_package_folder_is_copied() -> None:
    with open(REPO / "pyproject.toml", "rb") as f:
        folders = set(tomllib.load(f)["tool"]["setuptools"]["package-dir"].values())
    copied = set(re.findall(r"^COPY (\S+) \./\1$", DOCKERFILE, flags=re.MULTILINE))
    assert folders <= copied, f"not copied into the image: {sorted(folders - copied)}"


def test_the_image_runs_unprivileged_with_one_data_volume() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert users and users[-1] == "10001:10001"
    assert "VOLUME /var/lib/canhgac" in DOCKERFILE
    assert 'ENTRYPOINT ["canhgac"]' in DOCKERFILE
    assert "-c constraints.txt" in DOCKERFILE  # the versions CI tests


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = {
        "pyproject.toml",
        "setup.py",
        "constraints.txt",
        "README.md",
        *re.findall(r"^COPY (\S+) ", DOCKERFILE, re.M),
    }
    assert not ignored & needed

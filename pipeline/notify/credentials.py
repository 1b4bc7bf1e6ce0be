"""Secrets named by configuration: an environment variable or a file, never the config itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from canhgac.core.errors import ConfigError


def resolve_secret(what: str, *, env: str | None, file: str | None, environ: Mapping[str, str]) -> str | None:
    """The secret's value, None when neither is given; a named but missing secret is a ConfigError
    at start-up, not a failed delivery at 3 a.m."""
    if env is not None:
        value = environ.get(env)
        if not value:
            raise ConfigError(f"{what}: environment variable {env} is not set")
        return value
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file: {exc.strerror}", where=file) from exc
        if not value:
            raise ConfigError(f"{what}: secret file is empty", where=file)
        return value
    return None


def require_secret(what: str, *, env: str | None, file: str | None, environ: Mapping[str, str]) -> str:
    value = resolve_secret(what, env=env, file=file, environ=environ)
    if value is None:
        raise ConfigError(f"{what}: no secret configured")
    return value

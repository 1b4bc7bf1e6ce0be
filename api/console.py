"""Serves the console (web/): static ES modules and CSS, no build step."""

from __future__ import annotations

from pathlib import Path

from canhgac.core.config import ApiConfig
from canhgac.core.errors import ConfigError
from starlette.staticfiles import StaticFiles


def console_dir(cfg: ApiConfig) -> Path:
    if cfg.console_dir:
        path = Path(cfg.console_dir)
    else:
        import canhgac.web as web_pkg  # the web/ folder, installed as a data package

        path = Path(next(iter(web_pkg.__path__)))
    if not (path / "index.html").is_file():
        raise ConfigError("console files not found (index.html missing)", where=str(path))
    return path


def console_app(cfg: ApiConfig) -> StaticFiles:
    return StaticFiles(directory=console_dir(cfg), html=True)

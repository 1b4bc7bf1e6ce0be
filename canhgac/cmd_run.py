"""`canhgac run`: collectors, pipeline stages, detector and API in one process."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("run", help="run collectors, pipeline, detector and API in one process")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

"""`canhgac demo`: send a realistic provincial log feed to the syslog listener."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("demo", help="send a demo feed of provincial logs over syslog")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

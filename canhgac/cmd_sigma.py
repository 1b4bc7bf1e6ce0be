"""`canhgac sigma …`: check, match and convert Sigma rules (implemented in canhgac.rules)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sigma", help="check, match and convert Sigma rules")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

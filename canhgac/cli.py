"""`canhgac` command line. Each sub-command lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from canhgac import __version__

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Register]:
    # Imported here so `canhgac --version` stays fast and one broken command cannot hide the others.
    from canhgac import (
        cmd_archive,
        cmd_audit,
        cmd_demo,
        cmd_kafka,
        cmd_notify,
        cmd_receipts,
        cmd_run,
        cmd_sigma,
        cmd_users,
    )

    return [
        cmd_run.register,
        cmd_demo.register,
        cmd_sigma.register,
        cmd_notify.register,
        cmd_users.register,
        cmd_kafka.register,
        cmd_audit.register,
        cmd_receipts.register,
        cmd_archive.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canhgac", description="Canhgac: log monitoring and Sigma detection for a provincial SOC."
    )
    parser.add_argument("--version", action="version", version=f"canhgac {__version__}")
    parser.add_argument("--config", help="YAML settings file (default: $CANHGAC_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

"""`canhgac notify test CHANNEL`: send one test message through a configured channel."""

from __future__ import annotations

import argparse
import asyncio

from canhgac.core.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("notify", help="on-call notifications")
    commands = parser.add_subparsers(dest="notify_command", metavar="COMMAND")
    test = commands.add_parser("test", help="send a test message through a channel")
    test.add_argument("channel", help="channel name from the `notify.channels` settings")
    test.set_defaults(func=run_test)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def run_test(args: argparse.Namespace) -> int:
    from canhgac.pipeline.notify.cli import run_send_test

    settings = load_settings(args.config)
    return asyncio.run(run_send_test(settings.notify, data_dir=settings.data_dir, channel=args.channel))

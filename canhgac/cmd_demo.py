"""`canhgac demo`: send the demo feed of provincial logs to a running syslog listener."""

from __future__ import annotations

import argparse
import asyncio

from canhgac.core.config import load_settings
from canhgac.demo_feed import demo_lines, send_lines


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="send the demo feed of provincial logs over syslog TCP")
    parser.add_argument("--host", help="syslog host (default: from settings)")
    parser.add_argument("--port", type=int, help="syslog TCP port (default: from settings)")
    parser.add_argument("--octet-counting", action="store_true", help="frame with RFC 6587 octet counts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    host = args.host or settings.collectors.syslog_tcp.host
    port = args.port or settings.collectors.syslog_tcp.port
    sent = asyncio.run(send_lines(host, port, demo_lines(), octet_counting=args.octet_counting))
    print(f"sent {sent} demo lines to {host}:{port}")
    return 0

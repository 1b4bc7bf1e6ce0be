"""`canhgac demo`: send the demo feed of provincial logs to a running syslog listener."""

from __future__ import annotations

import argparse
import asyncio

from canhgac.core.config import load_settings
from canhgac.demo_feed import DEMO_AGENCIES, demo_lines, send_demo, send_lines


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
    if args.octet_counting:  # one connection, octet-counted, from this host's address
        sent = asyncio.run(send_lines(host, port, demo_lines(), octet_counting=True))
        print(f"sent {sent} demo lines to {host}:{port}")
        return 0
    by_agency = asyncio.run(send_demo(host, port))
    print(f"sent demo lines to {host}:{port} by agency: {by_agency}")
    sources = ", ".join(f"{a.source_id} ({a.agency}, {a.address})" for a in DEMO_AGENCIES)
    print(f"the listener must declare their sources (`canhgac run --demo` does): {sources}")
    return 0

"""`canhgac kafka`: set up a secured Kafka for Canhgac (topics and ACLs) and show the ACL matrix."""

from __future__ import annotations

import argparse
import asyncio

from canhgac.core.config import load_settings
from canhgac.core.errors import CanhgacError
from canhgac.core.kafka import ensure_topics
from canhgac.core.kafka_acl import apply_acls, grants


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kafka", help="set up topics and ACLs on a Kafka cluster")
    kafka = parser.add_subparsers(dest="kafka_command", metavar="ACTION", required=True)
    setup = kafka.add_parser(
        "setup", help="create the contract topics and every component's ACLs (as the admin principal)"
    )
    setup.set_defaults(func=run_setup)
    acls = kafka.add_parser("acls", help="print what each component's principal may do")
    acls.set_defaults(func=run_acls)


def run_setup(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)

    async def setup() -> int:
        await ensure_topics(settings.kafka)
        return await apply_acls(settings.kafka)

    try:
        count = asyncio.run(setup())
    except CanhgacError as exc:
        print(f"kafka setup failed: {exc}")
        return 1
    print(f"topics present; {count} ACL bindings in place")
    return 0


def run_acls(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    credentials = settings.kafka.security.credentials
    for grant in grants(settings.kafka):
        who = credentials[grant.component].username if grant.component in credentials else f"({grant.component})"
        ops = ",".join(op.name for op in grant.operations)
        print(f"{grant.component:<14} {who:<24} {ops:<15} {grant.resource.name:<6} {grant.name}*")
    return 0

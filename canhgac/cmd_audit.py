"""`canhgac audit verify`: recompute every tenant's audit hash chain as stored in OpenSearch and say
where it is broken (an edited, deleted or reordered record). Exit status 1 when any chain is."""

from __future__ import annotations

import argparse
import asyncio
import sys

from canhgac.api.audit.chain import verify
from canhgac.core.config import load_settings
from canhgac.core.errors import CanhgacError
from canhgac.core.hashchain import ChainReport
from canhgac.core.store import make_client


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="the audit log's tamper evidence")
    audit = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    check = audit.add_parser("verify", help="verify the audit log's hash chains (every tenant, or one)")
    check.add_argument("--tenant", help="only this tenant's chain (an agency, or soc)")
    check.set_defaults(func=run_verify)


async def verify_audit(config: str | None, tenant: str | None) -> list[ChainReport]:
    settings = load_settings(config)
    client = make_client(settings.opensearch, component="api")
    try:
        return await verify(client, settings.opensearch.audit_index, tenant)
    finally:
        await client.close()


def run_verify(args: argparse.Namespace) -> int:
    try:
        reports = asyncio.run(verify_audit(args.config, args.tenant))
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    broken = 0
    for report in reports:
        if report.ok:
            print(f"{report.tenant}: ok, {report.records} records, head seq {report.head_seq} {report.head_hash}")
            continue
        broken += 1
        print(f"{report.tenant}: BROKEN ({len(report.problems)} problems in {report.records} records)")
        for problem in report.problems:
            print(f"  {problem.kind} at seq {problem.seq} ({problem.record_id or '-'}): {problem.detail}")
    if not reports:
        print("no chained audit records")
    return 1 if broken else 0

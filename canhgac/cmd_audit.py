"""`canhgac audit verify`: recompute every tenant's audit hash chain as stored in OpenSearch and say
where it is broken (an edited, deleted or reordered record). Exit status 1 when any chain is."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from canhgac.api.audit.chain import anchor_heads, verify
from canhgac.api.indices import ensure_api_indices
from canhgac.core.config import Settings, load_settings
from canhgac.core.errors import CanhgacError, ConfigError
from canhgac.core.hashchain import ChainReport, load_signing_key
from canhgac.core.store import make_client


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="the audit log's tamper evidence")
    audit = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    check = audit.add_parser("verify", help="verify the audit log's hash chains (every tenant, or one)")
    check.add_argument("--tenant", help="only this tenant's chain (an agency, or soc)")
    check.set_defaults(func=run_verify)
    anchor = audit.add_parser(
        "anchor", help="sign every chain's current head for today (the API does it daily with receipts)"
    )
    anchor.set_defaults(func=run_anchor)


def _key(settings: Settings) -> bytes | None:
    """The receipt key checks the anchors' signatures; without it anchors are taken as stored."""
    path = settings.receipts.signing_key_file
    return load_signing_key(path) if path else None


async def verify_audit(config: str | None, tenant: str | None) -> list[ChainReport]:
    settings = load_settings(config)
    client = make_client(settings.opensearch, component="api")
    try:
        return await verify(client, settings.opensearch.audit_index, tenant, _key(settings))
    finally:
        await client.close()


async def anchor_audit(config: str | None) -> list[dict[str, Any]]:
    settings = load_settings(config)
    key = _key(settings)
    if key is None:
        raise ConfigError("set receipts.signing_key_file: anchors are signed with it", where="receipts")
    client = make_client(settings.opensearch, component="api")
    try:
        await ensure_api_indices(client, settings.opensearch)
        now = datetime.now(UTC)
        today = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
        return await anchor_heads(client, settings.opensearch.audit_index, key, today, now.isoformat())
    finally:
        await client.close()


def run_anchor(args: argparse.Namespace) -> int:
    try:
        anchors = asyncio.run(anchor_audit(args.config))
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for anchor in anchors:
        print(f"anchored {anchor['tenant']}: seq {anchor['seq']} {anchor['hash']}")
    print(f"{len(anchors)} heads anchored")
    return 0


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

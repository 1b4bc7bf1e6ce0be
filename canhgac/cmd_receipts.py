"""`canhgac receipts`: seal the signed daily receipts of a day now (`seal`), and check one against
the records stored now (`verify`; exit status 1 when it no longer agrees)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime
from typing import Any

from canhgac.api.indices import ensure_api_indices
from canhgac.api.receipts.service import due_days, seal_day
from canhgac.core.config import Settings, load_settings
from canhgac.core.errors import CanhgacError, ConfigError
from canhgac.core.hashchain import load_signing_key
from canhgac.core.receipts import get_receipt, verify_receipt
from canhgac.core.store import make_client


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("receipts", help="signed daily receipts per source")
    receipts = parser.add_subparsers(dest="receipts_command", metavar="ACTION", required=True)
    seal = receipts.add_parser("seal", help="seal the receipts of a day (default: every due day not sealed yet)")
    seal.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD in the settings' time zone")
    seal.set_defaults(func=run_seal)
    check = receipts.add_parser("verify", help="verify a source's receipt of a day against the stored records")
    check.add_argument("--source", required=True)
    check.add_argument("--day", required=True, type=date.fromisoformat)
    check.set_defaults(func=run_verify)


def _key(settings: Settings) -> bytes:
    if not settings.receipts.signing_key_file:
        raise ConfigError("set receipts.signing_key_file", where="receipts")
    return load_signing_key(settings.receipts.signing_key_file)


async def seal(settings: Settings, day: date | None) -> list[dict[str, Any]]:
    key = _key(settings)
    client = make_client(settings.opensearch, component="api")
    try:
        await ensure_api_indices(client, settings.opensearch)
        sealed = []
        for one in [day] if day else due_days(settings, datetime.now(UTC)):
            sealed += await seal_day(client, settings, one, key)
        return sealed
    finally:
        await client.close()


async def verify(settings: Settings, source_id: str, day: date) -> tuple[dict[str, Any], list[str]]:
    key = _key(settings)
    client = make_client(settings.opensearch, component="api")
    try:
        receipt = await get_receipt(client, settings.opensearch, source_id, day)
        return receipt, await verify_receipt(client, settings.opensearch, receipt, key)
    finally:
        await client.close()


def run_seal(args: argparse.Namespace) -> int:
    try:
        sealed = asyncio.run(seal(load_settings(args.config), args.day))
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for receipt in sealed:
        print(f"sealed {receipt['id']}: {receipt['count']} records, head {receipt['chain_head']}")
    print(f"{len(sealed)} receipts sealed")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    try:
        receipt, problems = asyncio.run(verify(load_settings(args.config), args.source, args.day))
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(receipt, ensure_ascii=False, indent=2))
    if problems:
        print("BROKEN:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"ok: {receipt['count']} records of {args.source} on {args.day} match the signed receipt")
    return 0

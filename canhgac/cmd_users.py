"""`canhgac users`: create local users, reset passwords (the first admin comes from here) and lift
login waits (`unlock`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import sys

from pydantic import ValidationError

from canhgac.api.auth.models import ROLES
from canhgac.api.indices import ensure_api_indices
from canhgac.api.users import service
from canhgac.api.users.models import UserCreate, UserUpdate
from canhgac.core.config import Settings, load_settings
from canhgac.core.errors import CanhgacError
from canhgac.core.store import make_client


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("users", help="manage console and API users")
    users = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    create = users.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--agency", help="required for agency_viewer and agency_analyst: their agency")
    create.add_argument("--display-name")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(func=run_create)
    reset = users.add_parser("set-password", help="set a new password (ends the user's sessions)")
    reset.add_argument("--username", required=True)
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=run_set_password)
    unlock = users.add_parser(
        "unlock", help="lift login waits of an account (at every address), of an address, or of both together"
    )
    unlock.add_argument("--username")
    unlock.add_argument("--address", help="the client address the API saw (see the audit log)")
    unlock.set_defaults(func=run_unlock)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("passwords differ")
    return first


async def create_user(settings: Settings, user: UserCreate, by: str = "cli") -> None:
    client = make_client(settings.opensearch, component="api")
    try:
        await ensure_api_indices(client, settings.opensearch)
        await service.create_user(client, settings.opensearch.users_index, user, by=by)
    finally:
        await client.close()


async def set_password(settings: Settings, username: str, password: str) -> None:
    from canhgac.api.auth.service import TtlCache, revoke_all_of

    client = make_client(settings.opensearch, component="api")
    try:
        await ensure_api_indices(client, settings.opensearch)
        await service.update_user(client, settings.opensearch.users_index, username, UserUpdate(password=password))
        await revoke_all_of(client, settings.opensearch.sessions_index, username.lower(), TtlCache())
    finally:
        await client.close()


async def unlock_logins(settings: Settings, *, username: str | None, address: str | None) -> None:
    """Record an unlock; running API replicas lift the matching waits at the next login attempt."""
    from canhgac.api.auth.unlocks import record_unlock, unlocks_index

    client = make_client(settings.opensearch, component="api")
    try:
        account = username.strip().lower() if username else None
        await record_unlock(client, unlocks_index(settings.opensearch), account=account, address=address, by="cli")
    finally:
        await client.close()


def run_unlock(args: argparse.Namespace) -> int:
    if not args.username and not args.address:
        print("give --username, --address or both", file=sys.stderr)
        return 2
    address = args.address
    if address is not None:
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            print(f"invalid: {address!r} is not an IP address", file=sys.stderr)
            return 2
    try:
        asyncio.run(unlock_logins(load_settings(args.config), username=args.username, address=address))
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"login waits lifted for {' at '.join(x for x in (args.username, address) if x)}")
    return 0


def run_create(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        user = UserCreate(
            username=args.username,
            role=args.role,
            agency=args.agency,
            display_name=args.display_name,
            password=_password(args.password_stdin),
        )
        asyncio.run(create_user(settings, user))
    except ValidationError as exc:
        print(
            "invalid: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
            file=sys.stderr,
        )
        return 2
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created user {user.username} ({user.role})")
    return 0


def run_set_password(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        password = _password(args.password_stdin)
        UserUpdate(password=password)
        asyncio.run(set_password(settings, args.username, password))
    except ValidationError as exc:
        print("invalid: " + "; ".join(e["msg"] for e in exc.errors()), file=sys.stderr)
        return 2
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"password of {args.username} changed; its sessions and tokens are revoked")
    return 0

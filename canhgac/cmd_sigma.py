"""`canhgac sigma …`: check, match and convert Sigma rules (implemented in canhgac.rules)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence

import orjson


def _placeholders(args: argparse.Namespace) -> Mapping[str, Sequence[str]] | None:
    if not getattr(args, "config", None):
        return None
    from canhgac.core.config import load_settings

    return load_settings(args.config).rules.placeholders or None


def _check(args: argparse.Namespace) -> int:
    from canhgac.rules.loader import load_rules

    started = time.perf_counter()
    result = load_rules(args.paths, _placeholders(args))
    took = time.perf_counter() - started
    if args.verbose:
        for r in result.rejected:
            print(f"rejected\t{r.reason}\t{r.path}\t{r.rule_id or '-'}\t{r.message}")
    tally = result.tally()
    total = len(result.rules) + len(result.rejected) + len(result.correlation_rules)
    print(f"rules: {total} in {len(result.files)} files, {took:.1f}s")
    print(f"  loaded: {tally.pop('loaded')}")
    print(f"  correlation: {tally.pop('correlation')}")
    for reason, count in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  rejected, {reason}: {count}")
    return 0


def _match(args: argparse.Namespace) -> int:
    from canhgac.rules.engine import Engine
    from canhgac.rules.loader import load_rules
    from canhgac.sigma_match import MatchStats, match_files

    started = time.perf_counter()
    loaded = load_rules(args.rules, _placeholders(args))
    engine = Engine(loaded.rules)
    load_secs = time.perf_counter() - started
    stats = MatchStats()
    out = sys.stdout.buffer
    started = time.perf_counter()
    for path, index, metas in match_files(engine, args.events, args.input_format, stats):
        for meta in metas:
            out.write(orjson.dumps({"rule_id": meta.id, "file": path, "index": index}) + b"\n")
    out.flush()
    secs = time.perf_counter() - started
    rate = stats.events / secs if secs > 0 else 0.0
    print(
        f"rules loaded {len(loaded.rules)}, rejected {len(loaded.rejected)}, correlation "
        f"{len(loaded.correlation_rules)} ({load_secs:.1f}s); events {stats.events}, unreadable "
        f"{stats.unreadable}, matches {stats.matches}; {rate:,.0f} events/s",
        file=sys.stderr,
    )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from canhgac.rules.convert import convert_rules
    from canhgac.rules.loader import Rejection

    rejected: list[Rejection] = []
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    count = 0
    try:
        for c in convert_rules(args.rules, _placeholders(args), rejected):
            out.write(orjson.dumps({"rule_id": c.rule_id, "title": c.title, "query": c.query}) + b"\n")
            count += 1
    finally:
        if args.output:
            out.close()
    print(f"converted {count} queries; {len(rejected)} rules not convertible", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sigma", help="check, match and convert Sigma rules")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    actions = parser.add_subparsers(dest="sigma_command", metavar="ACTION")

    check = actions.add_parser("check", help="load rules and print the tally of loaded/rejected by reason")
    check.add_argument("paths", nargs="+", help="rule files or folders (searched recursively)")
    check.add_argument("--verbose", "-v", action="store_true", help="list every rejected rule")
    check.set_defaults(func=_check)

    match = actions.add_parser("match", help="run rules over event files; one JSON line per match")
    match.add_argument("--rules", action="append", required=True, help="rule file or folder (repeatable)")
    match.add_argument("--input-format", choices=["evtx-json", "ecs-ndjson"], default="ecs-ndjson")
    match.add_argument("--events", nargs="+", required=True, help="NDJSON event files")
    match.set_defaults(func=_match)

    convert = actions.add_parser("convert", help="convert rules to OpenSearch Lucene queries (JSON lines)")
    convert.add_argument("--rules", nargs="+", action="extend", required=True, help="rule files or folders")
    convert.add_argument("--output", help="write to this file instead of stdout")
    convert.set_defaults(func=_convert)

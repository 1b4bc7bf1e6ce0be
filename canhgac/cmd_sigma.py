"""`canhgac sigma …`: check, match and convert Sigma rules (implemented in canhgac.rules)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from canhgac.rules.rule_cache import RuleCache


def _placeholders(args: argparse.Namespace) -> Mapping[str, Sequence[str]] | None:
    if not getattr(args, "config", None):
        return None
    from canhgac.core.config import load_settings

    return load_settings(args.config).rules.placeholders or None


def _cache(args: argparse.Namespace) -> RuleCache | None:
    """The compiled-rule cache: --cache-dir, else $XDG_CACHE_HOME/canhgac/rules; --no-cache: none."""
    from canhgac.rules.rule_cache import RuleCache, default_cache_dir

    if args.no_cache:
        return None
    return RuleCache(args.cache_dir or default_cache_dir())


def _cache_note(cache: RuleCache | None) -> str:
    if cache is None:
        return "no cache"
    if not cache.usable():
        return f"cache {cache.directory} not usable"
    return f"{cache.hits} files from cache, {cache.misses} compiled"


def _check(args: argparse.Namespace) -> int:
    from canhgac.rules.loader import load_rules

    started = time.perf_counter()
    cache = _cache(args)
    result = load_rules(args.paths, _placeholders(args), cache)
    took = time.perf_counter() - started
    if args.verbose:
        for r in result.rejected:
            print(f"rejected\t{r.reason}\t{r.path}\t{r.rule_id or '-'}\t{r.message}")
    tally = result.tally()
    total = len(result.rules) + len(result.rejected) + len(result.correlation_rules)
    print(f"rules: {total} in {len(result.files)} files, {took:.1f}s ({_cache_note(cache)})")
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
    cache = _cache(args)
    loaded = load_rules(args.rules, _placeholders(args), cache)
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
        f"{len(loaded.correlation_rules)} ({load_secs:.2f}s, {_cache_note(cache)}); events {stats.events}, unreadable "
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


def _cache_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", help="compiled-rule cache folder (default: $XDG_CACHE_HOME/canhgac/rules, ~/.cache/…)"
    )
    parser.add_argument("--no-cache", action="store_true", help="compile every rule file, read and write no cache")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sigma", help="check, match and convert Sigma rules")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    actions = parser.add_subparsers(dest="sigma_command", metavar="ACTION")

    check = actions.add_parser("check", help="load rules and print the tally of loaded/rejected by reason")
    check.add_argument("paths", nargs="+", help="rule files or folders (searched recursively)")
    check.add_argument("--verbose", "-v", action="store_true", help="list every rejected rule")
    _cache_options(check)
    check.set_defaults(func=_check)

    match = actions.add_parser("match", help="run rules over event files; one JSON line per match")
    match.add_argument("--rules", action="append", required=True, help="rule file or folder (repeatable)")
    match.add_argument("--input-format", choices=["evtx-json", "ecs-ndjson"], default="ecs-ndjson")
    match.add_argument("--events", nargs="+", required=True, help="NDJSON event files")
    _cache_options(match)
    match.set_defaults(func=_match)

    convert = actions.add_parser("convert", help="convert rules to OpenSearch Lucene queries (JSON lines)")
    convert.add_argument("--rules", nargs="+", action="extend", required=True, help="rule files or folders")
    convert.add_argument("--output", help="write to this file instead of stdout")
    convert.set_defaults(func=_convert)

"""`canhgac sigma …`: check, match and convert Sigma rules (implemented in canhgac.rules)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from canhgac.rules.model import CompiledRule
    from canhgac.rules.rule_cache import RuleCache
    from canhgac.sigma_lists import ListSource


def _placeholders(args: argparse.Namespace) -> Mapping[str, Sequence[str]] | None:
    if not getattr(args, "config", None):
        return None
    from canhgac.core.config import load_settings

    return load_settings(args.config).rules.placeholders or None


def _lists(args: argparse.Namespace) -> ListSource:
    """Where rules naming a watch list get it from (sigma_lists.py); ConfigError for a bad --lists file."""
    from canhgac.sigma_lists import list_source

    return list_source(getattr(args, "lists", None), getattr(args, "config", None))


def _report_missing(lists: ListSource) -> None:
    if lists.missing:
        names = ", ".join(sorted(lists.missing))
        print(f"watch lists named by rules but not in {lists.origin} (they hold nothing): {names}", file=sys.stderr)


def _with_lists(rules: list[CompiledRule], lists: ListSource) -> list[CompiledRule]:
    """The rules `match` can run: with lists supplied, the process's live lists (what a rule's
    `%list:NAME%` looks up per event) are set from them; without, a rule naming a list is refused
    with a message saying which list and how to supply it."""
    from canhgac.core.watchlists import LISTS
    from canhgac.sigma_lists import plan_lists, unsupplied

    named = [plan_lists(r.plan) for r in rules]
    wanted: set[str] = set().union(*named)
    if not wanted:
        return rules
    if lists.supplied:
        found = lists.loaded()
        if lists.error is None:
            LISTS.replace(found.values())
            lists.missing |= wanted - set(found)
            return rules
    kept: list[CompiledRule] = []
    for rule, names in zip(rules, named, strict=True):
        if not names:
            kept.append(rule)
            continue
        why = lists.error or unsupplied(*sorted(names))
        print(f"refused\t{rule.meta.id}\t{rule.meta.path}\t{why}", file=sys.stderr)
    return kept


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


def _print_list_users(rules: list[CompiledRule]) -> None:
    """How many loaded rules name watch lists (convert and match need the lists for them)."""
    from canhgac.sigma_lists import plan_lists

    named = [plan_lists(r.plan) for r in rules]
    users = sum(1 for names in named if names)
    if users:
        names = ", ".join(sorted(set[str]().union(*named)))
        print(f"  of which naming watch lists: {users} ({names}; convert/match read them from --lists or --config)")


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
    _print_list_users(result.rules)
    print(f"  correlation: {tally.pop('correlation')}")
    for reason, count in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  rejected, {reason}: {count}")
    return 0


def _match(args: argparse.Namespace) -> int:
    from canhgac.core.errors import ConfigError
    from canhgac.rules.engine import Engine
    from canhgac.rules.loader import load_rules
    from canhgac.sigma_match import MatchStats, match_files

    try:
        lists = _lists(args)
    except ConfigError as exc:
        print(f"canhgac sigma match: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    cache = _cache(args)
    loaded = load_rules(args.rules, _placeholders(args), cache)
    rules = _with_lists(loaded.rules, lists)
    if lists.error is not None:
        print(f"canhgac sigma match: {lists.error}", file=sys.stderr)
        return 1
    _report_missing(lists)
    engine = Engine(rules)
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
        f"rules loaded {len(rules)}, rejected {len(loaded.rejected) + len(loaded.rules) - len(rules)}, correlation "
        f"{len(loaded.correlation_rules)} ({load_secs:.2f}s, {_cache_note(cache)}); events {stats.events}, unreadable "
        f"{stats.unreadable}, matches {stats.matches}; {rate:,.0f} events/s",
        file=sys.stderr,
    )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from canhgac.core.errors import ConfigError
    from canhgac.rules.convert import convert_rules
    from canhgac.rules.loader import Rejection
    from canhgac.sigma_lists import REASON

    try:
        lists = _lists(args)
    except ConfigError as exc:
        print(f"canhgac sigma convert: {exc}", file=sys.stderr)
        return 2
    rejected: list[Rejection] = []
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    count = 0
    try:
        for c in convert_rules(args.rules, _placeholders(args), rejected, lists):
            out.write(orjson.dumps({"rule_id": c.rule_id, "title": c.title, "query": c.query}) + b"\n")
            count += 1
    finally:
        if args.output:
            out.close()
    for r in rejected:
        if r.reason == REASON:  # actionable: the list is missing from the command, or cannot be queried
            print(f"not converted\t{r.rule_id or '-'}\t{r.path}\t{r.message}", file=sys.stderr)
    _report_missing(lists)
    print(f"converted {count} queries; {len(rejected)} rules not convertible", file=sys.stderr)
    if lists.error is not None:
        print(f"canhgac sigma convert: {lists.error}", file=sys.stderr)
        return 1
    return 0


def _cache_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", help="compiled-rule cache folder (default: $XDG_CACHE_HOME/canhgac/rules, ~/.cache/…)"
    )
    parser.add_argument("--no-cache", action="store_true", help="compile every rule file, read and write no cache")


def _lists_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lists",
        action="append",
        metavar="FILE",
        help="watch lists for rules naming %%list:NAME%%: JSON as GET /api/v1/lists/NAME answers (one list, an "
        "array of them or {items: [...]}); repeatable. Without it, `canhgac --config FILE` reads the stored lists",
    )


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
    _lists_option(match)
    match.set_defaults(func=_match)

    convert = actions.add_parser("convert", help="convert rules to OpenSearch Lucene queries (JSON lines)")
    convert.add_argument("--rules", nargs="+", action="extend", required=True, help="rule files or folders")
    convert.add_argument("--output", help="write to this file instead of stdout")
    _lists_option(convert)
    convert.set_defaults(func=_convert)

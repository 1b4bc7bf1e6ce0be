"""The compiled-rule cache (rules/rule_cache.py): a hit equals a cold load, an edited file
recompiles alone, and a corrupt, foreign or hostile cache is ignored, never trusted or fatal."""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
from pathlib import Path

import orjson
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules.engine import Engine
from canhgac.rules.loader import RULE_SUFFIXES, LoadResult, iter_rule_files, load_rules
from canhgac.rules.rule_cache import MAGIC, DeferredPredicate, RuleCache
from canhgac.rules.ruleset import BUNDLED_PACKS

from .support import event, rule

REPO = Path(__file__).resolve().parents[3]
CONFORMANCE = REPO / ".." / "shared" / "conformance" / "sigmahq"

ALIASED = """title: Image or NewProcessName
id: 22222222-2222-4222-8222-222222222222
status: test
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: '\\evil.exe'
    filter_optional_null:
        ParentImage: null
    condition: sel and not filter_optional_null
"""


def _corpus(tmp_path: Path) -> list[Path]:
    """The conformance case rules, the bundled packs and a rule on a per-source field."""
    with open(CONFORMANCE / "dev" / "cases.tsv", newline="") as handle:
        case_rules = sorted(
            {CONFORMANCE / "rules" / row["rule_path"] for row in csv.DictReader(handle, delimiter="\t")}
        )
    aliased = tmp_path / "aliased.yml"
    aliased.write_text(ALIASED, encoding="utf-8")
    return [*case_rules, BUNDLED_PACKS, aliased]


def _events() -> list[dict]:
    events = [
        from_evtx_json(orjson.loads(line))
        for path in sorted((CONFORMANCE / "dev" / "events").glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]
    for service, image, parent in (
        ("sysmon", "Image", "ParentImage"),
        ("security", "NewProcessName", "ParentProcessName"),
    ):
        for fields in ({image: "C:\\x\\evil.exe", parent: "C:\\cmd.exe"}, {image: "C:\\x\\evil.exe"}):
            events.append(
                event(
                    {"winlog": {"event_data": fields}}, product="windows", category="process_creation", service=service
                )
            )
    return events


def _matches(loaded: LoadResult, events: list[dict]) -> list[list[str]]:
    engine = Engine(loaded.rules)
    fast = [[m.id for m in engine.match(ev)] for ev in events]
    assert fast == [[m.id for m in engine.match_all_applicable(ev)] for ev in events]
    return fast


def test_cache_hit_gives_what_a_cold_load_gives(tmp_path: Path) -> None:
    paths = _corpus(tmp_path)
    cold = load_rules(paths)
    cache = RuleCache(tmp_path / "cache")
    first = load_rules(paths, cache=cache)  # compiles and stores
    assert cache.hits == 0 and cache.misses == len(first.files)

    restarted = RuleCache(tmp_path / "cache")
    hit = load_rules(paths, cache=restarted)
    correlation_files = sum(1 for f in cold.files.values() if f.correlation_rules)
    assert restarted.hits == len(cold.files) - correlation_files and restarted.hits > 100
    assert restarted.misses == correlation_files
    from_cache = [r for f in hit.files.values() if not f.correlation_rules for r in f.rules]
    assert from_cache and all(isinstance(r.predicate, DeferredPredicate) for r in from_cache)

    assert [r.meta for r in hit.rules] == [r.meta for r in cold.rules]
    assert [r.prefilter for r in hit.rules] == [r.prefilter for r in cold.rules]
    assert [r.plan for r in hit.rules] == [r.plan for r in cold.rules]
    assert hit.rejected == cold.rejected
    assert [c.id for c in hit.correlation_rules] == [c.id for c in cold.correlation_rules]

    events = _events()
    expected = _matches(cold, events)
    assert sum(map(len, expected)) > 100  # the events do match
    assert _matches(hit, events) == expected
    # the aliased rule: Sysmon and Security events each read their own name, null included
    aliased = "22222222-2222-4222-8222-222222222222"
    assert [aliased in ids for ids in expected[-4:]] == [True, False, True, False]
    # a rule's first evaluation put the real predicate in place of the deferred one
    evaluated = {i for ev in events for i in Engine(hit.rules)._route(ev).rules}
    assert evaluated and not any(isinstance(hit.rules[i].predicate, DeferredPredicate) for i in evaluated)


def _three_files(folder: Path) -> list[Path]:
    folder.mkdir()
    files = []
    for name, value in (("a", "one"), ("b", "two"), ("c", "three")):
        path = folder / f"{name}.yml"
        text = rule(f"sel:\n  f: {value}\ncondition: sel").replace(
            "11111111-1111-4111-8111-111111111111", f"{name * 8}-1111-4111-8111-111111111111"
        )
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def _read_pack(pack: Path) -> tuple[str, dict[str, tuple[str, bytes]]]:
    return pickle.loads(pack.read_bytes()[len(MAGIC) + 32 :])  # after the magic and the SHA-256


def _write_pack(pack: Path, fingerprint: str, entries: dict[str, tuple[str, bytes]]) -> None:
    payload = pickle.dumps((fingerprint, entries))
    pack.write_bytes(MAGIC + hashlib.sha256(payload).digest() + payload)


def _pack_entries(cache_dir: Path) -> dict[str, tuple[str, bytes]]:
    (pack,) = cache_dir.glob("rules-*.cache")
    return _read_pack(pack)[1]


def test_an_edited_rule_file_invalidates_only_its_entry(tmp_path: Path) -> None:
    a, b, c = _three_files(tmp_path / "rules")
    load_rules([tmp_path / "rules"], cache=RuleCache(tmp_path / "cache"))
    before = _pack_entries(tmp_path / "cache")

    b.write_text(b.read_text(encoding="utf-8").replace("f: two", "f: deux"), encoding="utf-8")
    cache = RuleCache(tmp_path / "cache")
    loaded = load_rules([tmp_path / "rules"], cache=cache)
    assert (cache.hits, cache.misses) == (2, 1)
    engine = Engine(loaded.rules)
    assert engine.match(event({"f": "deux"})) and not engine.match(event({"f": "two"}))
    assert engine.match(event({"f": "one"})) and engine.match(event({"f": "three"}))

    after = _pack_entries(tmp_path / "cache")
    assert after[str(a)] == before[str(a)] and after[str(c)] == before[str(c)]
    assert after[str(b)][0] != before[str(b)][0]

    again = RuleCache(tmp_path / "cache")
    load_rules([tmp_path / "rules"], cache=again)
    assert (again.hits, again.misses) == (3, 0)


def test_other_placeholders_use_another_pack(tmp_path: Path) -> None:
    _three_files(tmp_path / "rules")
    load_rules([tmp_path / "rules"], cache=RuleCache(tmp_path / "cache"))
    cache = RuleCache(tmp_path / "cache")
    load_rules([tmp_path / "rules"], {"admins": ["root"]}, cache=cache)
    assert (cache.hits, cache.misses) == (0, 3)
    assert len(list((tmp_path / "cache").glob("rules-*.cache"))) == 2


def _assert_cold_result(loaded: LoadResult) -> None:
    engine = Engine(loaded.rules)
    assert len(loaded.rules) == 3 and not loaded.rejected
    assert engine.match(event({"f": "two"}))


def test_a_corrupt_or_truncated_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    _three_files(tmp_path / "rules")
    load_rules([tmp_path / "rules"], cache=RuleCache(tmp_path / "cache"))
    (pack,) = (tmp_path / "cache").glob("rules-*.cache")
    good = pack.read_bytes()
    for damaged in (b"", b"garbage", good[: len(good) // 2], MAGIC + b"\x80\x05garbage", good.replace(b"two", b"twx")):
        pack.write_bytes(damaged)
        os.chmod(pack, 0o600)
        cache = RuleCache(tmp_path / "cache")
        _assert_cold_result(load_rules([tmp_path / "rules"], cache=cache))
        assert cache.hits == 0
        restarted = RuleCache(tmp_path / "cache")
        _assert_cold_result(load_rules([tmp_path / "rules"], cache=restarted))
        assert restarted.hits == 3  # rewritten


class _Exploit:
    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))

    def __init__(self, marker: Path) -> None:
        self.marker = marker


def test_an_entry_that_would_run_code_is_refused(tmp_path: Path) -> None:
    files = _three_files(tmp_path / "rules")
    cache_dir = tmp_path / "cache"
    load_rules([tmp_path / "rules"], cache=RuleCache(cache_dir))
    (pack,) = cache_dir.glob("rules-*.cache")
    fingerprint, entries = _read_pack(pack)
    marker = tmp_path / "pwned"
    digest = entries[str(files[1])][0]
    entries[str(files[1])] = (digest, pickle.dumps(_Exploit(marker)))
    _write_pack(pack, fingerprint, entries)

    cache = RuleCache(cache_dir)
    _assert_cold_result(load_rules([tmp_path / "rules"], cache=cache))
    assert not marker.exists()
    assert (cache.hits, cache.misses) == (2, 1)


def test_a_cache_directory_others_can_write_is_not_used(tmp_path: Path) -> None:
    _three_files(tmp_path / "rules")
    cache_dir = tmp_path / "cache"
    load_rules([tmp_path / "rules"], cache=RuleCache(cache_dir))
    os.chmod(cache_dir, 0o777)
    cache = RuleCache(cache_dir)
    _assert_cold_result(load_rules([tmp_path / "rules"], cache=cache))
    assert not cache.usable() and cache.hits == 0

    os.chmod(cache_dir, 0o700)
    (pack,) = cache_dir.glob("rules-*.cache")
    os.chmod(pack, 0o666)
    cache = RuleCache(cache_dir)
    _assert_cold_result(load_rules([tmp_path / "rules"], cache=cache))
    assert cache.usable() and cache.hits == 0


def test_the_cache_directory_is_created_private(tmp_path: Path) -> None:
    _three_files(tmp_path / "rules")
    cache_dir = tmp_path / "deep" / "cache"
    load_rules([tmp_path / "rules"], cache=RuleCache(cache_dir))
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    (pack,) = cache_dir.glob("rules-*.cache")
    assert pack.stat().st_mode & 0o777 == 0o600
    assert not list(cache_dir.glob(".rules-*"))  # no temporary file left


def test_rule_files_are_listed_in_path_order_as_rglob_lists_them(tmp_path: Path) -> None:
    # iter_rule_files walks with scandir (start-up reads 3,780 names); the order decides which of two
    # rules with one id wins, so it must stay what `sorted(rglob)` gave
    for name in (".yml", "a.yml", "b.yaml", "c.yml.bak", "d.YML", "sub/e.yml", "sub/z/f.yaml", "A.yml", "a-b.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "dir.yml").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "link.yml").symlink_to(tmp_path / "a.yml")
    for root in (tmp_path, BUNDLED_PACKS, CONFORMANCE / "rules"):
        expected = sorted(p for p in root.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        assert iter_rule_files([root]) == expected

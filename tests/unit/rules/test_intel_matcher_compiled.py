"""The compiled indicator readers (rules/intel/matcher.py: per-shape plans of straight-line field
reads) find exactly what the generic walk of the event found before them (the walk is kept here
as the reference): same indicators, same field and observed value, same order, on a corpus of
generated events carrying every kind of observable, lists, flat dotted keys, wrong types and
planted indicator values, written in the field lists' order; and the same indicators whatever
the order of the event's keys."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from canhgac.rules.intel.indicators import Indicator, IndicatorType, normalise
from canhgac.rules.intel.matcher import FIELDS_BY_KIND, Hit, IndicatorMatcher, _keep

T = IndicatorType
NOW = 1_800_000_000.0


def reference_match(matcher: IndicatorMatcher, event: Mapping[str, Any], agency: str | None, now: float) -> list[Hit]:
    """The generic walk the compiled readers replaced (commit ceb4e22), verbatim in behaviour."""
    if not matcher.size:
        return []
    hits: list[Hit] = []

    def leaf(entry: tuple[Any, str], value: Any) -> None:
        lookup, field = entry
        if isinstance(value, str):
            found = lookup(value, event) if value else ()
            if found:
                _keep(hits, found, field, value, agency, now)
        elif isinstance(value, list):
            for text in value:
                if isinstance(text, str) and text:
                    found = lookup(text, event)
                    if found:
                        _keep(hits, found, field, text, agency, now)

    def walk(node: dict[str, Any], table: dict[str, Any]) -> None:
        for key, value in node.items():
            sub = table.get(key)
            if sub is None:
                continue
            if isinstance(sub, tuple):
                leaf(sub, value)
            elif isinstance(value, dict):
                walk(value, sub)

    related = None
    for key, value in event.items():
        sub = matcher._tree.get(key)
        if sub is None:
            if "." in key and key in matcher._flat:
                leaf(matcher._flat[key], value)
        elif key == "related":
            related = value
        elif isinstance(value, dict):
            walk(value, sub)
    if isinstance(related, dict):
        walk(related, matcher._tree["related"])
    return hits


def ind(kind: IndicatorType, value: str, n: int, agency: str | None = None, expires: float | None = None) -> Indicator:
    final_kind, final_value = normalise(kind, value)
    return Indicator(id=f"i{n}", type=final_kind, value=final_value, feed="t", agency=agency, expires_at=expires)


def indicators(rng: random.Random) -> tuple[list[Indicator], dict[str, list[str]]]:
    """A mixed set, and the event-side spellings that should meet them (by kind of field)."""
    out: list[Indicator] = []
    planted: dict[str, list[str]] = {kind: [] for kind in FIELDS_BY_KIND}
    n = 0
    for _ in range(60):
        n += 1
        a = f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        out.append(ind(T.IPV4, a, n, agency=rng.choice((None, None, "so-a", "so-b"))))
        planted["ip"].append(a)
    for prefix in (8, 16, 24, 30):
        n += 1
        out.append(ind(T.CIDR, f"10.{rng.randint(0, 3)}.0.0/{prefix}", n))
    n += 1
    out.append(ind(T.IPV6, "2001:db8::7", n))
    planted["ip"] += ["2001:db8::7", "2001:DB8:0::7", "::ffff:198.51.0.1", "10.1.2.3", "10.0.0.1"]
    for i in range(40):
        n += 1
        d = f"bad{i}.example"
        out.append(ind(T.DOMAIN, d, n, expires=rng.choice((None, NOW - 5, NOW + 5))))
        planted["domain"] += [d, f"cdn.{d}", f"A.B.{d.upper()}.", f"not{d}"]
    for i in range(20):
        n += 1
        out.append(ind(T.URL, f"http://dl{i}.example/p/{i}.exe", n))
        out.append(ind(T.DOMAIN, f"dl{i}.example", n + 1000))
        planted["url"] += [f"https://dl{i}.example/p/{i}.exe", f"/p/{i}.exe", f"http://bad{i}.example/x", "/other"]
    for i in range(20):
        n += 1
        h = f"{i:064x}"
        out.append(ind(T.SHA256, h, n))
        out.append(ind(T.MD5, f"{i:032x}", n + 2000))
        planted["hash"] += [h, h.upper(), f"{i:032x}", f"{i:032X}", "123", f"{i + 999:064x}"]
    for i in range(10):
        n += 1
        out.append(ind(T.EMAIL, f"phish{i}@bad.example", n))
        out.append(ind(T.USER_AGENT, f"EvilAgent/{i}", n + 3000))
        planted["email"] += [f"phish{i}@bad.example", f" Phish{i}@Bad.Example ", "ok@good.example"]
        planted["agent"] += [f"EvilAgent/{i}", f" EvilAgent/{i}\t", f"evilagent/{i}", "Mozilla/5.0"]
    return out, planted


def value(rng: random.Random, pool: list[str]) -> Any:
    pick = rng.random()
    if pick < 0.6:
        return rng.choice(pool)
    if pick < 0.75:
        return [rng.choice(pool) for _ in range(rng.randint(0, 3))] + rng.choice(([], [None], [7], [""]))
    if pick < 0.85:
        return rng.choice(("", None, 42, {"nested": rng.choice(pool)}, ["x"]))
    return f"203.0.113.{rng.randint(1, 254)}"  # meets nothing


def event(rng: random.Random, planted: dict[str, list[str]]) -> dict[str, Any]:
    fields = [(kind, f) for kind, names in FIELDS_BY_KIND.items() for f in names]
    out: dict[str, Any] = {"@timestamp": "2026-12-06T00:00:00Z", "event": {"id": "x"}, "message": "m"}
    # Fields go in in the lists' order (as a normaliser writes them: always the same order), so
    # the walk (event order) and the readers (lists' order) visit them alike; key order: below.
    for kind, field in sorted(rng.sample(fields, rng.randint(0, 8)), key=fields.index):
        v = value(rng, planted[kind])
        if rng.random() < 0.1:
            out[field] = v  # a flat dotted key
            continue
        *parents, last = field.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[last] = v
    if rng.random() < 0.05:
        out["source"] = "not an object"
    if rng.random() < 0.05:
        out["url"] = {"domain": {"wrong": "type"}, "original": rng.choice(planted["url"])}
    return out


def shuffled(rng: random.Random, node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = list(node.items())
    rng.shuffle(items)
    return {k: shuffled(rng, v) for k, v in items}


def as_tuples(hits: list[Hit]) -> list[tuple[str, str, str]]:
    return [(h.indicator.id, h.field, h.observed) for h in hits]


def test_compiled_readers_find_what_the_walk_found() -> None:
    rng = random.Random(15)
    loaded, planted = indicators(rng)
    matcher = IndicatorMatcher(loaded)
    corpus = [event(rng, planted) for _ in range(2000)]
    compared = with_hits = 0
    for e in corpus:
        for agency in ("so-a", "so-b", None):
            for now in (NOW, NOW + 10):
                expected = as_tuples(reference_match(matcher, e, agency, now))
                assert as_tuples(matcher.match(e, agency, now)) == expected, e
                compared += 1
                with_hits += bool(expected)
    # The corpus exercises the matcher: many events meet indicators, of every kind of field.
    assert with_hits > compared // 4
    fields_hit = {h.field.split(".")[0] for e in corpus for h in matcher.match(e, "so-a", NOW)}
    assert {"source", "destination", "url", "dns", "file", "process", "email", "user_agent", "related"} <= fields_hit


def test_same_indicators_whatever_the_key_order() -> None:
    """Inside one object the compiled readers visit fields in the lists' order, the walk in the
    event's: an indicator met in two fields of one object may be named by the other one, the set
    of indicators met is the same."""
    rng = random.Random(16)
    loaded, planted = indicators(rng)
    matcher = IndicatorMatcher(loaded)
    for _ in range(1500):
        e = shuffled(rng, event(rng, planted))
        expected = sorted(h.indicator.id for h in reference_match(matcher, e, "so-a", NOW))
        assert sorted(h.indicator.id for h in matcher.match(e, "so-a", NOW)) == expected


def test_plans_are_per_shape_and_bounded() -> None:
    matcher = IndicatorMatcher([ind(T.IPV4, "192.0.2.1", 1)])
    assert [
        h.field for h in matcher.match({"related": {"ip": ["192.0.2.1"]}, "source": {"ip": "192.0.2.1"}}, None, NOW)
    ] == ["source.ip"]
    assert [
        h.field for h in matcher.match({"source": {"ip": "192.0.2.1"}, "related": {"ip": ["192.0.2.1"]}}, None, NOW)
    ] == ["source.ip"]
    assert len(matcher._plans) == 2
    for i in range(5000):
        matcher.match({f"k{i}": 1, "source.ip": "192.0.2.1"}, None, NOW)
    assert len(matcher._plans) <= 4096
    # A matcher whose set has no addresses compiles no address reads at all.
    assert IndicatorMatcher([ind(T.DOMAIN, "evil.com", 2)]).match({"source": {"ip": "192.0.2.1"}}, None, NOW) == []

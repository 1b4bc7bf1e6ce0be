"""Bad input never crashes a parser: it returns a JSON-serialisable dict or raises ParseError."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from canhgac.core.errors import ParseError
from canhgac.pipeline.normalize.base import parsers
from golden_runner import GOLDEN, golden_names
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from normalize_testkit import envelope

NAMES = parsers.names()
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Real lines of every format, to mutate: random text rarely gets past a parser's first check.
SEEDS = [
    line
    for name in golden_names()
    for line in (GOLDEN / name / "input.log").read_text(encoding="utf-8").removesuffix("\n").split("\n")
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(["@timestamp", "ts", "time", "message", "msg", "action", "user", "client_ip", "source",
                     "source.ip", "event", "ecs", "host", "cs-uri-stem", "c-ip", "date", "EventID", "Channel"])
    | st.text(max_size=10),
    json_values,
    max_size=8,
)  # fmt: skip


@st.composite
def mutated_seed(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(SEEDS))
    cut = draw(st.integers(0, len(line)))
    action = draw(st.sampled_from(["truncate", "insert", "replace", "swap-seed-tail"]))
    noise = draw(st.text(max_size=8))
    if action == "truncate":
        return line[:cut]
    if action == "insert":
        return line[:cut] + noise + line[cut:]
    if action == "replace":
        return line[:cut] + noise + line[cut + len(noise) :]
    other = draw(st.sampled_from(SEEDS))
    return line[:cut] + other[draw(st.integers(0, len(other))) :]


def check(name: str, message: str | None = None, payload: dict[str, Any] | None = None) -> None:
    parser = parsers.get(name)()
    try:
        event = parser.parse(envelope(name, message, payload))
    except ParseError:
        return
    assert isinstance(event, dict)
    orjson.dumps(event)  # must be serialisable as it is: no datetimes, no NaN keys …


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(name: str, text: str) -> None:
    check(name, text)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_decoded_like_the_collector(name: str, data: bytes) -> None:
    check(name, data.decode("utf-8", errors="replace"))


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(line=mutated_seed())
def test_mutated_real_lines(name: str, line: str) -> None:
    check(name, line)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(obj=json_objects)
def test_odd_json_as_payload_and_as_text(name: str, obj: dict[str, Any]) -> None:
    check(name, payload=obj)
    check(name, orjson.dumps(obj).decode())

"""LiteralSet (the pre-filter's one-pass substring search) finds exactly the literals `in` finds."""

from __future__ import annotations

import random

import pytest
from canhgac.rules.literal_set import LiteralSet

ALPHABET = "ab\\.:-x \x00éΣσς😀\u0130i"


def _naive(literals: list[str], text: str) -> set[int]:
    return {i for i, lit in enumerate(literals) if lit in text}


def test_overlapping_and_repeated_literals_are_each_found_once() -> None:
    literals = ["abc", "bc", "c", "abcabc", "zz"]
    found = LiteralSet(literals).find("xabcabcx")
    assert sorted(found) == [0, 1, 2, 3]


def test_non_ascii_nul_and_lone_surrogates() -> None:
    literals = ["é", "σς", "😀x", "\x00a", "\ud800", "i̇"]
    text = "-é-σς-😀x-\x00a-\ud800-i̇-"
    assert sorted(LiteralSet(literals).find(text)) == [0, 1, 2, 3, 4, 5]
    # a literal never matches across the bytes of a multi-byte character
    assert LiteralSet(["\x80", "\xa9"]).find("é😀") == []


def test_random_literals_agree_with_substring_test() -> None:
    rng = random.Random(11)
    for _ in range(200):
        literals = list(
            dict.fromkeys("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 5))) for _ in range(30))
        )
        lits = LiteralSet(literals)
        for _ in range(10):
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
            assert set(lits.find(text)) == _naive(literals, text), (literals, text)


def test_many_literals_on_long_text() -> None:
    # a route's CommandLine field holds ~10,000 literals; 1 KB of text must still be searched exactly
    rng = random.Random(3)
    literals = list(dict.fromkeys(f"{rng.randrange(16**6):06x}-{n % 97}" for n in range(10_000)))
    text = " ".join(rng.choice(literals) if rng.random() < 0.05 else "filler" for _ in range(200))
    assert set(LiteralSet(literals).find(text)) == _naive(literals, text)


def test_an_empty_set_is_refused() -> None:
    with pytest.raises(ValueError):
        LiteralSet([])

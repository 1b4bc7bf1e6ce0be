"""The audit chain's verification and the receipt signature, without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from canhgac.core.config import RetentionConfig
from canhgac.core.errors import ConfigError
from canhgac.core.hashchain import (
    GENESIS,
    PRUNED_ACTION,
    canonical_json,
    load_signing_key,
    next_head,
    record_hash,
    sign,
    signature_valid,
    verify_chain,
)
from canhgac.core.systems import Inventory, alert_priority


def chain(n: int, start: int = 1, prev: str = GENESIS) -> list[dict[str, Any]]:
    out = []
    for seq in range(start, start + n):
        doc: dict[str, Any] = {"id": f"soc:{seq}", "seq": seq, "prev_hash": prev, "action": "x", "details": {"n": seq}}
        doc["hash"] = record_hash(doc)
        prev = doc["hash"]
        out.append(doc)
    return out


def test_canonical_json_is_key_order_free_and_keeps_vietnamese() -> None:
    assert canonical_json({"b": 1, "a": "đã"}) == canonical_json({"a": "đã", "b": 1}) == '{"a":"đã","b":1}'.encode()


def test_a_clean_chain_verifies_and_each_tampering_is_named() -> None:
    records = chain(5)
    assert verify_chain("soc", records).ok
    edited = [dict(r) for r in records]
    edited[2]["details"] = {"n": 99}
    assert [(p.kind, p.seq) for p in verify_chain("soc", edited).problems] == [("edited", 3)]
    deleted = records[:2] + records[3:]
    assert [(p.kind, p.seq) for p in verify_chain("soc", deleted).problems] == [("missing", 3)]
    swapped = [records[0], records[2], records[1], *records[3:]]
    kinds = {p.kind for p in verify_chain("soc", swapped).problems}
    assert kinds and kinds <= {"out_of_order", "broken_link", "missing"}


def test_a_pruned_start_is_accepted_only_with_its_marker() -> None:
    records = chain(6)
    marker: dict[str, Any] = {
        "id": "soc:7",
        "seq": 7,
        "prev_hash": records[-1]["hash"],
        "action": PRUNED_ACTION,
        "details": {"up_to_seq": 3, "up_to_hash": records[2]["hash"]},
    }
    marker["hash"] = record_hash(marker)
    kept = [*records[3:], marker]
    report = verify_chain("soc", kept)
    assert report.ok and report.pruned_up_to == 3 and report.head_seq == 7
    # Someone also deletes record 4 by hand: the chain no longer starts where the marker says.
    assert [p.kind for p in verify_chain("soc", kept[1:]).problems] == ["missing"]
    # Without a marker a chain starting at 4 is missing 1..3.
    assert [(p.kind, p.seq) for p in verify_chain("soc", records[3:]).problems] == [("missing", 1)]


def test_receipt_signature_and_head() -> None:
    key = b"k" * 32
    receipt = {"source_id": "s", "count": 2, "chain_head": next_head(next_head(GENESIS, {"a": 1}), {"b": 2})}
    receipt["signature"] = sign(receipt, key)
    assert signature_valid(receipt, key)
    assert not signature_valid({**receipt, "count": 3}, key)
    assert not signature_valid(receipt, b"x" * 32)
    assert next_head(next_head(GENESIS, {"b": 2}), {"a": 1}) != receipt["chain_head"]  # order matters


def test_retention_defaults_meet_twelve_months_and_partial_overrides_keep_the_rest() -> None:
    cfg = RetentionConfig()
    assert all(days >= 365 for days in cfg.days_by_level.values()) and set(cfg.days_by_level) == {1, 2, 3, 4, 5}
    assert cfg.alerts_days >= 365 and cfg.audit_days >= 365 and cfg.short_levels() == []
    short = RetentionConfig(days_by_level={1: 30})
    assert short.days_by_level == {1: 30, 2: 365, 3: 365, 4: 730, 5: 1095} and short.short_levels() == [1]


def test_priority_score_and_inventory_lookup() -> None:
    assert alert_priority("critical", 5, None) == 25
    assert alert_priority("low", 1, None) == 2
    assert alert_priority("high", None, None) == 12  # no system: level 3
    assert alert_priority("high", 5, 50) == 10
    inventory = Inventory(
        [
            {"id": "db", "name": "DB", "agency": "a", "security_level": 5, "hosts": ["db01"], "sources": []},
            {"id": "web", "name": "Web", "agency": "a", "security_level": 2, "hosts": [], "sources": ["relay"]},
        ]
    )
    assert inventory.system_of("a", ["DB01"], "relay").id == "db"  # type: ignore[union-attr]  # host first
    assert inventory.system_of("a", ["other"], "relay").id == "web"  # type: ignore[union-attr]
    assert inventory.system_of("b", ["db01"], "relay") is None  # another agency's system never applies


def test_an_anchor_catches_the_newest_records_removed_and_an_edited_anchored_one() -> None:
    records = chain(5)
    anchors = [(5, records[4]["hash"])]
    assert verify_chain("soc", records, anchors=anchors).ok
    assert [(p.kind, p.seq) for p in verify_chain("soc", records[:3], anchors=anchors).problems] == [("missing", 4)]
    assert verify_chain("soc", records[:3]).ok  # without the anchor the shorter chain looks whole
    assert [p.kind for p in verify_chain("soc", records, anchors=[(5, "0" * 64)]).problems] == ["edited"]


def test_a_raw_key_is_read_whole_and_a_text_key_without_its_newline(tmp_path: Path) -> None:
    # `head -c 32 /dev/urandom` (docs/agencies.md) gives whitespace at an end about one time in
    # twenty: stripping it refused the key at start-up or silently shortened it (found by a flaky CI run)
    raw = b"\n" + bytes(range(128, 158)) + b" "
    (tmp_path / "raw.key").write_bytes(raw)
    assert load_signing_key(str(tmp_path / "raw.key")) == raw
    hex_key = "ab" * 32
    (tmp_path / "hex.key").write_text(hex_key + "\n", encoding="ascii")
    assert load_signing_key(str(tmp_path / "hex.key")) == hex_key.encode()
    (tmp_path / "short.key").write_text("abc\n", encoding="ascii")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_signing_key(str(tmp_path / "short.key"))

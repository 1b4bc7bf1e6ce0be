"""Hash chains: the audit log's (per tenant) and a source's daily receipt (over its stored records).

A link's hash is SHA-256 over the canonical JSON of what it covers (keys sorted, no spaces, UTF-8,
no ASCII escaping), so anyone can recompute it from the stored JSON with any language's standard
library. The first link's `prev_hash` is `GENESIS`. Receipts are signed with HMAC-SHA256 over the
canonical JSON of the receipt without its `signature` field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canhgac.core.errors import ConfigError

GENESIS = "0" * 64
PRUNED_ACTION = "audit.pruned"
MIN_KEY_BYTES = 32


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(record: Mapping[str, Any], *, exclude: str = "hash") -> str:
    """The hash a chained record carries: over every field but the hash itself."""
    return sha256_hex(canonical_json({k: v for k, v in record.items() if k != exclude}))


def next_head(prev_head: str, document: Mapping[str, Any]) -> str:
    """A receipt chain's head after one more record: H(prev_head ‖ H(canonical record))."""
    return sha256_hex((prev_head + sha256_hex(canonical_json(document))).encode())


@dataclass
class ChainProblem:
    """Where a chain is broken and how (`edited`, `missing`, `broken_link`, `out_of_order`)."""

    kind: str
    seq: int
    record_id: str | None
    detail: str


@dataclass
class ChainReport:
    tenant: str
    records: int = 0
    first_seq: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    pruned_up_to: int | None = None  # records 1..this were removed by retention, as the chain records
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    tenant: str,
    records: Iterable[Mapping[str, Any]],
    *,
    expect_first_seq: int = 1,
    anchors: Iterable[tuple[int, str]] = (),
) -> ChainReport:
    """Check records of one tenant given in `seq` order: each hash recomputes, each `prev_hash` is
    the hash before it, and the sequence has no gap. A record edited in place fails its own hash;
    a deleted one leaves a gap; records moved (a changed `seq` or `prev_hash`) fail hash or link.
    A chain may start after 1 only where a later `audit.pruned` record of the chain says so.
    `anchors` are (seq, hash) heads signed earlier (daily): each must still be in the chain, which
    catches the newest records removed, the one deletion that leaves no gap."""
    report = ChainReport(tenant=tenant)
    records = list(records)

    def problem(kind: str, seq: int, record_id: Any, detail: str) -> None:
        report.problems.append(ChainProblem(kind, seq, None if record_id is None else str(record_id), detail))

    prev_hash: str | None = GENESIS if expect_first_seq == 1 else None
    expected_seq = expect_first_seq
    # Retention removes a chain's oldest records only after appending a record that names the last
    # one removed and its hash (PRUNED_ACTION): the chain then starts right after it.
    first = next((r for r in records if isinstance(r.get("seq"), int)), None)
    if first is not None and first["seq"] > expect_first_seq:
        cut = first["seq"] - 1
        for marker in records:
            details = marker.get("details") if marker.get("action") == PRUNED_ACTION else None
            if isinstance(details, dict) and details.get("up_to_seq") == cut and isinstance(marker.get("seq"), int):
                if marker["seq"] > cut and details.get("up_to_hash") == first.get("prev_hash"):
                    expected_seq, prev_hash = first["seq"], str(details["up_to_hash"])
                    report.pruned_up_to = cut
    for record in records:
        seq = record.get("seq")
        record_id = record.get("id")
        if not isinstance(seq, int):
            problem("edited", -1, record_id, "no integer seq")
            continue
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
        if seq < expected_seq:
            problem("out_of_order", seq, record_id, f"seq {seq} after {expected_seq - 1}")
        elif seq > expected_seq:
            problem("missing", expected_seq, None, f"records {expected_seq}..{seq - 1} are missing")
            prev_hash = None  # the link over the gap cannot be checked; the gap is the finding
        stored = record.get("hash")
        actual = record_hash(record)
        if stored != actual:
            problem("edited", seq, record_id, "its content does not match its hash")
        if prev_hash is not None and record.get("prev_hash") != prev_hash:
            problem("broken_link", seq, record_id, "prev_hash is not the hash of the record before it")
        prev_hash = str(stored) if isinstance(stored, str) else actual
        expected_seq = max(expected_seq, seq + 1)
        report.head_seq = seq
        report.head_hash = prev_hash
    by_seq = {r["seq"]: r for r in records if isinstance(r.get("seq"), int)}
    for seq, anchored_hash in sorted(set(anchors)):
        if report.pruned_up_to is not None and seq <= report.pruned_up_to:
            continue
        found = by_seq.get(seq)
        if found is None and (report.head_seq or 0) < seq:
            problem("missing", (report.head_seq or 0) + 1, None, f"records up to {seq} were anchored and are gone")
        elif found is not None and found.get("hash") != anchored_hash:
            problem("edited", seq, found.get("id"), "its hash is not the one anchored")
    return report


def load_signing_key(path: str) -> bytes:
    """The receipt signing key: a file of at least 32 random bytes (raw, or hex/base64 text).
    A text key loses the whitespace an editor or `echo` adds around it; a raw key is read whole —
    random bytes start or end with a whitespace byte about one time in twenty."""
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the receipt signing key: {exc}", where=path) from exc
    if all(0x20 <= b < 0x7F or b in b"\t\n\r" for b in key):
        key = key.strip()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the receipt signing key must hold at least {MIN_KEY_BYTES} bytes", where=path)
    return key


def key_id(key: bytes) -> str:
    """Names the key a receipt was signed with, without revealing it."""
    return sha256_hex(b"canhgac-receipt-key:" + key)[:16]


def sign(receipt: Mapping[str, Any], key: bytes) -> str:
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def signature_valid(receipt: Mapping[str, Any], key: bytes) -> bool:
    signature = receipt.get("signature")
    return isinstance(signature, str) and hmac.compare_digest(signature, sign(receipt, key))

"""Spool segments: framing, crc, torn tails cut at open, cursor and segment deletion."""

from __future__ import annotations

from pathlib import Path

from canhgac.collectors.spool.segments import SegmentSpool, decode_records, encode_record


def test_records_round_trip_and_partial_tail_is_left() -> None:
    data = encode_record(b"k", b"v1") + encode_record(b"", b"v2")
    decoded = decode_records(data + encode_record(b"k", b"v3")[:-1])
    assert decoded.records == [(b"k", b"v1"), (b"", b"v2")] and decoded.consumed == len(data) and not decoded.corrupt


def test_bad_checksum_is_corrupt() -> None:
    data = bytearray(encode_record(b"k", b"value"))
    data[-1] ^= 0xFF
    assert decode_records(bytes(data)).corrupt


def test_append_sync_read_commit_across_segments_and_reopen(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path, max_bytes=10**7, segment_bytes=100)
    spool.open()
    for i in range(20):
        spool.append(encode_record(b"k", b"record-%d" % i))
    assert spool.read(max_records=100, max_bytes=10**6).records == []  # nothing durable yet
    spool.sync()
    assert len(list(tmp_path.glob("*.seg"))) > 3
    got: list[bytes] = []
    batch = spool.read(max_records=3, max_bytes=10**6)
    got += [v for _, v in batch.records]
    spool.commit(batch.end)
    spool.close()

    again = SegmentSpool(tmp_path, max_bytes=10**7, segment_bytes=100)
    again.open()
    while True:
        batch = again.read(max_records=5, max_bytes=10**6)
        if not batch.records and batch.end == again.cursor:
            break
        got += [v for _, v in batch.records]
        again.commit(batch.end)
    assert got == [b"record-%d" % i for i in range(20)]
    assert again.is_empty() and len(list(tmp_path.glob("*.seg"))) == 1


def test_torn_append_is_cut_at_open(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path, max_bytes=10**7, segment_bytes=10**6)
    spool.open()
    spool.append(encode_record(b"k", b"whole"))
    spool.append(encode_record(b"k", b"torn")[:7])
    spool.close()
    again = SegmentSpool(tmp_path, max_bytes=10**7, segment_bytes=10**6)
    again.open()
    assert again.torn_bytes == 7
    assert [v for _, v in again.read(max_records=10, max_bytes=10**6).records] == [b"whole"]

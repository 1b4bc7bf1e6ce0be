"""Append-only spool segment files.

Layout: `<dir>/<20-digit number>.seg`, each a run of records framed as
`[u32 body length][u32 crc32 of body][u16 key length][key][value]` (big endian), plus `<dir>/cursor`
naming the first record not yet acknowledged by Kafka (`<segment> <offset>`, replaced atomically).

Durability: appends reach the page cache at once and the disk at the next `sync()` (the sink calls it
on a group-commit timer and resolves a caller's future only after it). A crash can leave a torn
record at the end of the last segment: `open()` cuts it off, which loses nothing acknowledged.
A bad checksum in the middle of a segment (disk damage) skips the rest of that segment; it is
counted by the caller, never silently.

This class does blocking file I/O and is not thread safe: the sink calls `sync()` in a worker thread
and everything else from the event loop, never two at once.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HEADER = struct.Struct(">II")
KEY_LENGTH = struct.Struct(">H")
MAX_RECORD_BYTES = 64 * 1024 * 1024


def encode_record(key: bytes, value: bytes) -> bytes:
    body = KEY_LENGTH.pack(len(key)) + key + value
    return HEADER.pack(len(body), zlib.crc32(body)) + body


@dataclass(slots=True)
class Decoded:
    records: list[tuple[bytes, bytes]]
    consumed: int  # bytes of whole, valid records
    corrupt: bool  # a complete record failed its checksum or length check


def decode_records(data: bytes | memoryview, *, max_records: int | None = None) -> Decoded:
    """Whole records at the start of `data`; a partial record at the end is left unconsumed."""
    records: list[tuple[bytes, bytes]] = []
    pos, end = 0, len(data)
    view = memoryview(data)
    while pos + HEADER.size <= end and (max_records is None or len(records) < max_records):
        length, crc = HEADER.unpack_from(view, pos)
        if length < KEY_LENGTH.size or length > MAX_RECORD_BYTES:
            return Decoded(records, pos, True)
        if pos + HEADER.size + length > end:
            break
        body = view[pos + HEADER.size : pos + HEADER.size + length]
        if zlib.crc32(body) != crc:
            return Decoded(records, pos, True)
        (key_length,) = KEY_LENGTH.unpack_from(body, 0)
        if KEY_LENGTH.size + key_length > length:
            return Decoded(records, pos, True)
        key = bytes(body[KEY_LENGTH.size : KEY_LENGTH.size + key_length])
        records.append((key, bytes(body[KEY_LENGTH.size + key_length :])))
        pos += HEADER.size + length
    return Decoded(records, pos, False)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(slots=True)
class Batch:
    records: list[tuple[bytes, bytes]]
    end: Position  # commit this once every record is acknowledged
    corrupt_skipped: bool = False


class SegmentSpool:
    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._sizes: dict[int, int] = {}  # segment number -> bytes written (synced or not)
        self._active: BinaryIO | None = None
        self._active_no = 0
        self._to_sync: list[BinaryIO] = []
        self._dir_dirty = False
        self.durable_end = Position(0, 0)  # everything before this is on disk
        self._written_end = Position(0, 0)
        self.cursor = Position(0, 0)
        self.torn_bytes = 0  # cut off at open (crash mid-append)

    # -- lifecycle ---------------------------------------------------------------------------------
    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())
        for n in numbers:
            self._sizes[n] = (self.directory / _name(n)).stat().st_size
        cursor_file = self.directory / "cursor"
        if cursor_file.exists():
            seg, off = cursor_file.read_text().split()
            self.cursor = Position(int(seg), int(off))
        elif numbers:
            self.cursor = Position(numbers[0], 0)
        for n in [n for n in numbers if n < self.cursor.segment]:
            self._delete(n)  # acknowledged, but the process died before deleting it
        if numbers and numbers[-1] >= self.cursor.segment:
            last = numbers[-1]
            self._cut_torn_tail(last)
            self._active_no = last
        else:
            self._active_no = max([*numbers, self.cursor.segment, 0]) + 1
            self._sizes[self._active_no] = 0
            self.cursor = Position(self._active_no, 0)
        self._active = open(self.directory / _name(self._active_no), "ab")
        self._written_end = self.durable_end = Position(self._active_no, self._sizes[self._active_no])

    def close(self) -> None:
        self.sync()
        if self._active:
            self._active.close()
            self._active = None

    # -- writer ------------------------------------------------------------------------------------
    @property
    def bytes_used(self) -> int:
        return sum(self._sizes.values())

    def is_empty(self) -> bool:
        return self.cursor >= self._written_end

    def append(self, encoded: bytes) -> None:
        """Append already framed records (see `encode_record`); durable after the next `sync()`."""
        assert self._active is not None, "spool not open"
        if self._sizes[self._active_no] >= self.segment_bytes:
            self._roll()
        self._active.write(encoded)
        self._sizes[self._active_no] += len(encoded)
        self._written_end = Position(self._active_no, self._sizes[self._active_no])

    def sync(self) -> Position:
        """Flush and fsync everything appended so far; returns the new durable end."""
        end = self._written_end
        for f in self._to_sync:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        self._to_sync.clear()
        if self._active:
            self._active.flush()
            os.fsync(self._active.fileno())
        if self._dir_dirty:
            # A new segment's directory entry must be durable too, or the file may vanish on crash.
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._dir_dirty = False
        self.durable_end = end
        return end

    def _roll(self) -> None:
        assert self._active is not None
        self._to_sync.append(self._active)
        self._active_no += 1
        self._sizes[self._active_no] = 0
        self._active = open(self.directory / _name(self._active_no), "ab")
        self._dir_dirty = True

    # -- reader ------------------------------------------------------------------------------------
    def read(self, *, max_records: int, max_bytes: int) -> Batch:
        """Durable records from the cursor on, in append order (empty when caught up)."""
        pos = self.cursor
        while pos < self.durable_end:
            limit = self.durable_end.offset if pos.segment == self.durable_end.segment else self._sizes[pos.segment]
            if pos.offset >= limit:
                pos = Position(self._next_segment(pos.segment), 0)
                continue
            with open(self.directory / _name(pos.segment), "rb") as f:
                f.seek(pos.offset)
                data = f.read(min(limit - pos.offset, max(max_bytes, _record_length(f, pos.offset))))
            decoded = decode_records(data, max_records=max_records)
            if decoded.corrupt or (not decoded.records and pos.offset + len(data) >= limit):
                # Nothing valid can follow in this segment: skip to the next one.
                return Batch(decoded.records, Position(self._next_segment(pos.segment), 0), True)
            return Batch(decoded.records, Position(pos.segment, pos.offset + decoded.consumed))
        return Batch([], pos)

    def commit(self, end: Position) -> None:
        """Everything before `end` is in Kafka: remember it (atomically) and delete used segments."""
        tmp = self.directory / "cursor.tmp"
        with open(tmp, "w") as f:
            f.write(f"{end.segment} {end.offset}")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / "cursor")
        self.cursor = end
        for n in [n for n in self._sizes if n < end.segment]:
            self._delete(n)

    def _next_segment(self, n: int) -> int:
        later = [m for m in self._sizes if m > n]
        return min(later) if later else n + 1

    def _delete(self, n: int) -> None:
        (self.directory / _name(n)).unlink(missing_ok=True)
        self._sizes.pop(n, None)

    def _cut_torn_tail(self, n: int) -> None:
        path = self.directory / _name(n)
        data = path.read_bytes()
        start = self.cursor.offset if n == self.cursor.segment else 0
        decoded = decode_records(memoryview(data)[start:])
        good = start + decoded.consumed
        if good < len(data):
            self.torn_bytes += len(data) - good
            with open(path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self._sizes[n] = good


def _name(n: int) -> str:
    return f"{n:020d}.seg"


def _record_length(f: BinaryIO, offset: int) -> int:
    """Bytes the record at `offset` occupies, so a read never stops inside one big record."""
    header = f.read(HEADER.size)
    f.seek(offset)
    if len(header) < HEADER.size:
        return HEADER.size
    return HEADER.size + min(HEADER.unpack(header)[0], MAX_RECORD_BYTES)

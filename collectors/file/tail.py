"""One followed file: identity, reading lines, joining multi-line records.

Identity is device + inode, confirmed by a fingerprint of the file's first bytes, so a recycled
inode (a new file after a delete) is not mistaken for the old one. Offsets count bytes of whole
records: a record's `end` is the offset just after its last line, which is what a checkpoint
stores once the record is acknowledged; lines of a multi-line record still being joined are
re-read after a restart, never lost.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import BinaryIO

FINGERPRINT_BYTES = 1024
READ_BYTES = 256 * 1024


@dataclass(slots=True)
class Record:
    text: str
    end: int
    error: str | None = None


def fingerprint(fh: BinaryIO, length: int) -> str:
    head = os.pread(fh.fileno(), length, 0)
    return hashlib.sha256(head).hexdigest()


class Joiner:
    """Joins continuation lines onto the record whose first line matched `start`."""

    def __init__(self, start: re.Pattern[bytes] | None, max_lines: int) -> None:
        self.start = start
        self.max_lines = max_lines
        self.lines: list[bytes] = []
        self.end = 0
        self.error: str | None = None

    def add(self, line: bytes, end: int, error: str | None, out: list[Record]) -> None:
        if self.start is None:
            out.append(_record([line], end, error))
            return
        if self.lines and (self.start.match(line) or len(self.lines) >= self.max_lines):
            self.flush(out)
        self.lines.append(line)
        self.end = end
        self.error = self.error or error

    def flush(self, out: list[Record]) -> None:
        if self.lines:
            out.append(_record(self.lines, self.end, self.error))
        self.lines, self.error = [], None


def _record(lines: list[bytes], end: int, error: str | None) -> Record:
    data = b"\n".join(lines)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        error = f"{error}; invalid UTF-8 replaced" if error else "invalid UTF-8 replaced"
    return Record(text, end, error)


class TailedFile:
    def __init__(
        self, path: str, offset: int, *, joiner: Joiner, max_message_bytes: int, multiline_timeout_secs: float
    ) -> None:
        self.path = path
        self.fh: BinaryIO = open(path, "rb")
        st = os.fstat(self.fh.fileno())
        self.key = f"{st.st_dev}:{st.st_ino}"
        self.joiner = joiner
        self.max_message_bytes = max_message_bytes
        self.multiline_timeout_secs = multiline_timeout_secs
        self.committed = offset  # acknowledged up to here
        self.read_offset = offset  # bytes consumed from the file into buffer/joiner/records
        self._buffer = bytearray()
        self._skipping = False
        self._last_data = time.monotonic()
        self.fp_len = 0
        self.fp = ""
        self.gone_since: float | None = None  # path no longer names this file (rotated or deleted)
        self.truncations = 0
        self.fh.seek(offset)
        self._refresh_fingerprint()

    def close(self) -> None:
        self.fh.close()

    def matches(self, fp: str, fp_len: int) -> bool:
        return fp_len > 0 and fingerprint(self.fh, fp_len) == fp

    def _refresh_fingerprint(self) -> None:
        if self.fp_len < FINGERPRINT_BYTES:
            self.fp_len = min(os.fstat(self.fh.fileno()).st_size, FINGERPRINT_BYTES)
            self.fp = fingerprint(self.fh, self.fp_len)

    def _truncated(self) -> bool:
        size = os.fstat(self.fh.fileno()).st_size
        # copytruncate: smaller than what we read, or refilled past it with different first bytes.
        return size < self.read_offset or (self.fp_len > 0 and fingerprint(self.fh, self.fp_len) != self.fp)

    def rewind(self) -> None:
        """Forget what was read but not acknowledged (its delivery failed); read it again."""
        self.fh.seek(self.committed)
        self.read_offset = self.committed
        self._buffer.clear()
        self._skipping = False
        self.joiner.lines, self.joiner.error = [], None

    def read(self, max_records: int, *, at_end_of_life: bool = False) -> list[Record]:
        out: list[Record] = []
        if self._truncated():
            self.truncations += 1
            self.joiner.flush(out)
            self._buffer.clear()
            self.fh.seek(0)
            self.read_offset = self.committed = 0
            self.fp_len, self.fp = 0, ""
        while len(out) < max_records:
            chunk = self.fh.read(READ_BYTES)
            if not chunk:
                break
            self._last_data = time.monotonic()
            self._split(chunk, out)
        self._refresh_fingerprint()
        idle = time.monotonic() - self._last_data > self.multiline_timeout_secs
        if at_end_of_life:
            if self._buffer:  # last line without a newline: the file will not grow any more
                self.joiner.add(bytes(self._buffer), self.read_offset, None, out)
                self._buffer.clear()
            self.joiner.flush(out)
        elif idle and not self._buffer:
            self.joiner.flush(out)
        return out

    def _split(self, chunk: bytes, out: list[Record]) -> None:
        base = self.read_offset - len(self._buffer)
        self._buffer += chunk
        self.read_offset += len(chunk)
        start = 0
        while True:
            newline = self._buffer.find(b"\n", start)
            if newline < 0:
                break
            line = bytes(self._buffer[start:newline]).rstrip(b"\r")
            end = base + newline + 1
            if self._skipping:
                self._skipping = False
            elif len(line) > self.max_message_bytes:
                self.joiner.add(line[: self.max_message_bytes], end, "line truncated", out)
            elif line:
                self.joiner.add(line, end, None, out)
            start = newline + 1
        del self._buffer[:start]
        if len(self._buffer) > self.max_message_bytes and not self._skipping:
            # An endless line: keep its head, skip to its newline.
            end = self.read_offset - len(self._buffer)
            self.joiner.add(bytes(self._buffer[: self.max_message_bytes]), end, "line truncated", out)
            self._skipping = True
        if self._skipping:
            self._buffer.clear()

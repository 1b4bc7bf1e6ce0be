"""One followed file: identity, reading lines, joining multi-line records.

Identity is device + inode, confirmed by a fingerprint of the file's first bytes, so a recycled
inode (a new file after a delete) is not mistaken for the old one. Offsets count bytes of whole
records: a record's `end` is the offset just after its last line, which is what a checkpoint
stores once the record is acknowledged; lines of a multi-line record still being joined are
re-read after a restart, never lost.

copytruncate (logrotate copies the file, then truncates it) is seen as the size going below what
was read, or the first bytes changing. What was not read yet before the truncate is then read
from the copy, when one is found next to the file (`<name>.1`, `<name>-20261206` …, uncompressed,
with the same first bytes and at least as long as what was read); only what the application wrote
between the end of the copy and the truncate is lost, logrotate's own race.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
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
        self.recovered_from: str | None = None  # the copy the last truncation's tail was read from
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
            self.recovered_from = self._read_rest_from_copy(out)
            if self._buffer and not self._skipping:  # the copy ended inside a line: it is whole now
                self.joiner.add(bytes(self._buffer), self.read_offset, None, out)
            self.joiner.flush(out)
            for record in out:
                record.end = 0  # acknowledged: the truncated file is read from its start
            self._buffer.clear()
            self._skipping = False
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

    def _copy_of_old_content(self) -> str | None:
        """The rotated copy of this file's content before the truncate, if it is next to it."""
        directory, name = os.path.split(self.path)
        best: tuple[float, str] | None = None
        try:
            entries = list(os.scandir(directory or "."))
        except OSError:
            return None
        for entry in entries:
            rest = entry.name[len(name) :]
            if not entry.name.startswith(name) or not rest or rest[0] not in ".-_":
                continue
            if rest.endswith((".gz", ".bz2", ".xz", ".zst", ".lz4")):
                continue
            try:
                st = entry.stat()
                if not stat.S_ISREG(st.st_mode) or f"{st.st_dev}:{st.st_ino}" == self.key:
                    continue
                if st.st_size < self.read_offset or self.fp_len == 0:
                    continue
                with open(entry.path, "rb") as fh:
                    if fingerprint(fh, self.fp_len) != self.fp:
                        continue
            except OSError:
                continue
            if best is None or st.st_mtime > best[0]:
                best = (st.st_mtime, entry.path)
        return best[1] if best else None

    def _read_rest_from_copy(self, out: list[Record]) -> str | None:
        copy = self._copy_of_old_content()
        if copy is None:
            return None
        try:
            with open(copy, "rb") as fh:
                fh.seek(self.read_offset)
                while chunk := fh.read(READ_BYTES):
                    self._split(chunk, out)
        except OSError:
            return None
        return copy

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

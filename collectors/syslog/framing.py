"""Split a syslog TCP byte stream into messages (RFC 6587).

A connection uses one framing (RFC 6587 section 3.4), decided from its first frame: it is
octet-counted when that frame is `<digits> <` (a count, a space, then a syslog PRI), and
newline-framed otherwise. On a newline-framed connection a line that starts with digits and a
space ("404 not found", "2024 Nov ...") is just a line, never a count. On an octet-counted
connection a frame without a count is still read up to its LF (lenient: a message starting with
`<` cannot be mistaken for a count).

Over-long messages are not dropped: the first `max_message_bytes` are kept and flagged, the rest
is skipped and counted, so an analyst can still see that a sender misbehaved. An octet count over
the limit is recorded in `over_limit_counts` (the collector logs and counts it at once), and the
bytes it announced are skipped: the stream stays in step with the sender's framing.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_COUNT_DIGITS = 9
OCTET_COUNTING = "octet-counting"
NEWLINE = "newline"


@dataclass(slots=True, frozen=True)
class Frame:
    data: bytes
    error: str | None = None  # why the frame is suspect; the message is still kept


class SyslogFramer:
    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        # Octet-counted frame in progress: how many bytes remain, and whether it was truncated.
        self._pending_count: int | None = None
        self._pending_truncated = 0
        self._skip_until_newline = False
        self.bytes_discarded = 0
        self.framing: str | None = None  # OCTET_COUNTING or NEWLINE, once the first frame decided it
        self.over_limit_counts: list[int] = []  # octet counts over the limit, in order seen

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._buffer:
            if self._pending_count is not None:
                if not self._take_counted(frames):
                    break
                continue
            if self._skip_until_newline:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    self.bytes_discarded += len(self._buffer)
                    self._buffer.clear()
                    break
                self.bytes_discarded += newline
                del self._buffer[: newline + 1]
                self._skip_until_newline = False
                continue
            first = self._buffer[0]
            if first in b"\r\n\0 \t":
                # Stray separators between frames carry nothing.
                del self._buffer[:1]
                continue
            if self.framing is None:
                decided = self._decide_framing()
                if decided is None:
                    break  # need more bytes to decide
                self.framing = decided
            if self.framing == OCTET_COUNTING and 0x31 <= first <= 0x39:  # '1'..'9': an octet count
                space = self._buffer.find(b" ", 0, _MAX_COUNT_DIGITS + 1)
                if space < 0 and len(self._buffer) <= _MAX_COUNT_DIGITS:
                    break  # need more bytes to read the count
                if space > 0 and self._buffer[:space].isdigit():
                    self._pending_count = int(self._buffer[:space])
                    self._pending_truncated = 0
                    if self._pending_count > self.max_message_bytes:
                        self.over_limit_counts.append(self._pending_count)
                    del self._buffer[: space + 1]
                    continue
            if not self._take_line(frames):
                break
        return frames

    def _decide_framing(self) -> str | None:
        """From the first frame: `<digits> <` is octet-counting, anything else newline framing;
        None while the bytes seen so far could still be either."""
        digits = 0
        while digits < len(self._buffer) and 0x30 <= self._buffer[digits] <= 0x39:
            digits += 1
        if digits == 0 or digits > _MAX_COUNT_DIGITS or self._buffer[0] == 0x30:
            return NEWLINE
        if digits == len(self._buffer) or digits + 1 == len(self._buffer):
            return None if self._buffer[digits:] in (b"", b" ") else NEWLINE
        if self._buffer[digits] == 0x20 and self._buffer[digits + 1] == 0x3C:  # " <"
            return OCTET_COUNTING
        return NEWLINE

    def flush(self) -> list[Frame]:
        """At end of stream: whatever is left is a last, unterminated message."""
        frames: list[Frame] = []
        if self._pending_count is not None:
            if self._buffer:
                frames.append(Frame(bytes(self._buffer), "connection closed inside an octet-counted frame"))
        elif self._buffer and not self._skip_until_newline:
            frames.append(Frame(bytes(self._buffer).rstrip(b"\r")))
        self._buffer.clear()
        self._pending_count = None
        self._skip_until_newline = False
        return frames

    def _take_counted(self, frames: list[Frame]) -> bool:
        assert self._pending_count is not None
        want = self._pending_count
        if want > self.max_message_bytes:
            # Keep the head, skip the tail as it streams past.
            keep = self.max_message_bytes
            if len(self._buffer) < keep and self._pending_truncated == 0:
                return False
            if self._pending_truncated == 0:
                frames.append(Frame(bytes(self._buffer[:keep]), f"message of {want} bytes truncated to {keep}"))
                del self._buffer[:keep]
                self._pending_truncated = keep
            remaining = want - self._pending_truncated
            drop = min(remaining, len(self._buffer))
            del self._buffer[:drop]
            self._pending_truncated += drop
            self.bytes_discarded += drop
            if self._pending_truncated >= want:
                self._pending_count = None
                return True
            return False
        if len(self._buffer) < want:
            return False
        frames.append(Frame(bytes(self._buffer[:want]).rstrip(b"\r\n")))
        del self._buffer[:want]
        self._pending_count = None
        return True

    def _take_line(self, frames: list[Frame]) -> bool:
        newline = self._buffer.find(b"\n", 0, self.max_message_bytes + 1)
        if newline >= 0:
            frames.append(Frame(bytes(self._buffer[:newline]).rstrip(b"\r")))
            del self._buffer[: newline + 1]
            return True
        if len(self._buffer) > self.max_message_bytes:
            frames.append(
                Frame(
                    bytes(self._buffer[: self.max_message_bytes]),
                    f"line longer than {self.max_message_bytes} bytes truncated",
                )
            )
            # The rest of this line is skipped (and counted) up to its newline; later lines survive.
            del self._buffer[: self.max_message_bytes]
            self._skip_until_newline = True
            return True
        return False

"""Split a syslog TCP byte stream into messages (RFC 6587).

Both framings may appear on one connection: a frame that starts with a digit is octet-counted
(`<len> <msg>`), anything else runs to the next LF. Over-long messages are not dropped: the
first `max_message_bytes` are kept and flagged, the rest is skipped and counted, so an analyst can
still see that a sender misbehaved.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_COUNT_DIGITS = 9


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
        self._skipped_line_truncated: Frame | None = None
        self.bytes_discarded = 0

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
            if 0x31 <= first <= 0x39:  # '1'..'9': maybe an octet count
                space = self._buffer.find(b" ", 0, _MAX_COUNT_DIGITS + 1)
                if space < 0 and len(self._buffer) <= _MAX_COUNT_DIGITS:
                    break  # need more bytes to decide
                if space > 0 and self._buffer[:space].isdigit():
                    self._pending_count = int(self._buffer[:space])
                    self._pending_truncated = 0
                    del self._buffer[: space + 1]
                    continue
            if not self._take_line(frames):
                break
        return frames

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

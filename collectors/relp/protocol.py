"""RELP framing and session rules (librelp's doc/relp.md, version 0/1 as rsyslog speaks it).

A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: TXNR and DATALEN are 1-9 digits, COMMAND
1-32 letters, and DATA exactly DATALEN octets. Commands come from the client (`open`, `syslog`,
`close`); the server answers each with `rsp` carrying the same TXNR, in the order the commands
came. TXNR 0 is reserved for hints (`serverclose`, sent by the server before it closes).

The parser is pure (bytes in, frames out) so every framing rule is unit-tested. Anything that is
not a frame is a `RelpProtocolError`: the session is aborted without answering the commands still
outstanding, which is what RELP asks for (the client resends what was never acknowledged).
A DATA part longer than `max_data_bytes` is not an error: its head is kept and flagged, the rest
skipped as it streams past, so one over-long message cannot wedge a client that would otherwise
resend it forever.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TXNR = 999_999_999
_MAX_DIGITS = 9
_MAX_COMMAND = 32
# A header is at most 9 + 1 + 32 + 1 + 9 + 1 octets; more without a complete header is garbage.
_MAX_HEADER = _MAX_DIGITS * 2 + _MAX_COMMAND + 3
# What we can negotiate: relp_version 0 (what librelp speaks to this day) and 1 (the document).
SERVER_RELP_VERSION = 1
SOFTWARE = "canhgac,1,https://github.com/canhgac"


class RelpProtocolError(Exception):
    """The peer sent something that is not RELP: the session must be aborted (see `RelpParser.error`)."""


@dataclass(slots=True, frozen=True)
class RelpFrame:
    txnr: int
    command: str
    data: bytes
    truncated_from: int | None = None  # the announced DATALEN when only the head was kept


class RelpParser:
    """Splits a RELP byte stream into frames."""

    def __init__(self, max_data_bytes: int) -> None:
        self.max_data_bytes = max_data_bytes
        self._buffer = bytearray()
        self._header: tuple[int, str, int] | None = None  # txnr, command, datalen of the frame in progress
        self._kept = bytearray()  # head of an over-long DATA part
        self._to_skip = 0  # octets of an over-long DATA part still to skip
        self.bytes_skipped = 0
        self.error: str | None = None

    def feed(self, data: bytes) -> list[RelpFrame]:
        """The frames completed by `data`. After a framing error, `error` says what it was and the
        frames before it are still returned; nothing more is read."""
        if self.error:
            return []
        self._buffer += data
        frames: list[RelpFrame] = []
        try:
            while True:
                if self._header is None and not self._read_header():
                    return frames
                frame = self._read_body()
                if frame is None:
                    return frames
                frames.append(frame)
        except RelpProtocolError as exc:
            self.error = str(exc)
            self._buffer.clear()
            return frames

    def _read_header(self) -> bool:
        # Three space-separated fields; DATALEN ends with SP (data follows) or LF (no data).
        first = self._buffer.find(b" ")
        second = self._buffer.find(b" ", first + 1) if first >= 0 else -1
        if second < 0:
            if len(self._buffer) > _MAX_HEADER:
                raise RelpProtocolError(f"no RELP header in the first {_MAX_HEADER} octets")
            return False
        end = second + 1
        while end < len(self._buffer) and 0x30 <= self._buffer[end] <= 0x39:
            end += 1
        if end == len(self._buffer):
            if end - second - 1 > _MAX_DIGITS:
                raise RelpProtocolError("DATALEN longer than 9 digits")
            return False  # DATALEN may go on
        txnr_text, command_raw, datalen_text = (
            bytes(self._buffer[:first]),
            bytes(self._buffer[first + 1 : second]),
            bytes(self._buffer[second + 1 : end]),
        )
        if not txnr_text.isdigit() or len(txnr_text) > _MAX_DIGITS:
            raise RelpProtocolError(f"bad TXNR {txnr_text[:16]!r}")
        if not command_raw.isalpha() or not command_raw.isascii() or len(command_raw) > _MAX_COMMAND:
            raise RelpProtocolError(f"bad command {command_raw[:40]!r}")
        if not datalen_text or len(datalen_text) > _MAX_DIGITS:
            raise RelpProtocolError(f"bad DATALEN {datalen_text[:16]!r}")
        datalen = int(datalen_text)
        terminator = self._buffer[end]
        if terminator == 0x0A:  # LF: no data part, the frame is complete
            if datalen != 0:
                raise RelpProtocolError(f"DATALEN {datalen} but no data")
            del self._buffer[:end]  # the LF is the trailer, consumed by _read_body
        elif terminator == 0x20:
            del self._buffer[: end + 1]
        else:
            raise RelpProtocolError(f"unexpected octet {terminator:#x} after DATALEN")
        self._header = (int(txnr_text), command_raw.decode("ascii"), datalen)
        if datalen > self.max_data_bytes:
            self._to_skip = datalen - self.max_data_bytes
        return True

    def _read_body(self) -> RelpFrame | None:
        assert self._header is not None
        txnr, command, datalen = self._header
        keep = min(datalen, self.max_data_bytes)
        if len(self._kept) < keep:
            take = min(keep - len(self._kept), len(self._buffer))
            self._kept += self._buffer[:take]
            del self._buffer[:take]
            if len(self._kept) < keep:
                return None
        if self._to_skip:
            drop = min(self._to_skip, len(self._buffer))
            del self._buffer[:drop]
            self._to_skip -= drop
            self.bytes_skipped += drop
            if self._to_skip:
                return None
        if not self._buffer:
            return None  # the trailer has not arrived yet
        if self._buffer[0] != 0x0A:
            raise RelpProtocolError(f"frame {txnr} not terminated by LF")
        del self._buffer[:1]
        frame = RelpFrame(txnr, command, bytes(self._kept), datalen if datalen > keep else None)
        self._header = None
        self._kept.clear()
        return frame


def next_txnr(txnr: int) -> int:
    return 1 if txnr >= MAX_TXNR else txnr + 1


def txnr_follows(previous: int, txnr: int) -> bool:
    """Commands' TXNRs increase (and wrap after 999,999,999 to 1)."""
    return txnr > previous or (previous >= MAX_TXNR - 1000 and txnr < 1000)


def parse_offers(data: bytes) -> dict[str, list[str]]:
    """`name=value,value` lines of an `open` command (values may be absent)."""
    offers: dict[str, list[str]] = {}
    for line in data.decode("utf-8", errors="replace").split("\n"):
        if not line:
            continue
        name, _, values = line.partition("=")
        offers[name.strip()] = [v for v in values.split(",") if v] if values else []
    return offers


def open_response(offers: dict[str, list[str]]) -> tuple[bytes, str | None]:
    """The `rsp` data answering an `open`, and the reason when the session must not start."""
    versions = offers.get("relp_version") or []
    if not versions or not versions[0].isdigit():
        return b"500 relp_version offer missing", "no relp_version offer"
    version = min(int(versions[0]), SERVER_RELP_VERSION)
    if "syslog" not in (offers.get("commands") or []):
        return b"500 required command not supported by client", "client does not offer the syslog command"
    body = f"200 OK\nrelp_version={version}\nrelp_software={SOFTWARE}\ncommands=syslog"
    return body.encode(), None


def frame(txnr: int, command: str, data: bytes = b"") -> bytes:
    if not data:
        return f"{txnr} {command} 0\n".encode()
    return f"{txnr} {command} {len(data)} ".encode() + data + b"\n"


OK = b"200 OK"
SERVERCLOSE = frame(0, "serverclose")

"""RFC 6587 framing: newline and octet-counted frames, split reads, over-long input."""

from __future__ import annotations

import pytest
from canhgac.collectors.syslog.framing import Frame, SyslogFramer


def feed_all(framer: SyslogFramer, *chunks: bytes) -> list[Frame]:
    frames: list[Frame] = []
    for chunk in chunks:
        frames += framer.feed(chunk)
    return frames + framer.flush()


def test_newline_framing_splits_lines_and_strips_cr() -> None:
    frames = feed_all(SyslogFramer(1024), b"<34>one\r\n<34>two\n")
    assert [f.data for f in frames] == [b"<34>one", b"<34>two"]
    assert all(f.error is None for f in frames)


def test_octet_counting_frame_split_across_reads() -> None:
    msg = b"<165>1 2003-10-11T22:14:15.003Z host app - - - hello world"
    stream = str(len(msg)).encode() + b" " + msg
    framer = SyslogFramer(1024)
    # Every split point, including inside the length prefix.
    for cut in range(1, len(stream)):
        framer = SyslogFramer(1024)
        frames = feed_all(framer, stream[:cut], stream[cut:])
        assert [f.data for f in frames] == [msg], cut


def test_octet_counted_message_may_contain_newlines() -> None:
    msg = b"<13>1 - h a - - - line one\nline two"
    frames = feed_all(SyslogFramer(1024), str(len(msg)).encode() + b" " + msg)
    assert [f.data for f in frames] == [msg]


def test_mixed_framings_on_one_connection() -> None:
    a = b"<13>counted"
    frames = feed_all(SyslogFramer(1024), str(len(a)).encode() + b" " + a + b"<14>plain line\n")
    assert [f.data for f in frames] == [a, b"<14>plain line"]


def test_line_that_starts_with_digits_but_no_count_is_a_line() -> None:
    frames = feed_all(SyslogFramer(1024), b"2024x not a count\n")
    assert [f.data for f in frames] == [b"2024x not a count"]


def test_over_long_line_is_truncated_flagged_and_next_line_survives() -> None:
    framer = SyslogFramer(16)
    frames = feed_all(framer, b"A" * 40 + b"\n<13>next\n")
    assert frames[0].data == b"A" * 16
    assert frames[0].error is not None and "truncated" in frames[0].error
    assert frames[1] == Frame(b"<13>next")
    assert framer.bytes_discarded == 24


def test_over_long_octet_counted_frame_is_truncated_and_stream_resyncs() -> None:
    framer = SyslogFramer(10)
    big = b"B" * 30
    frames = feed_all(framer, b"30 " + big[:12], big[12:] + b"<13>ok\n")
    assert frames[0].data == b"B" * 10 and frames[0].error and "30 bytes" in frames[0].error
    assert frames[1] == Frame(b"<13>ok")
    assert framer.bytes_discarded == 20


@pytest.mark.parametrize("junk", [b"\x00\x01\x02\xff\xfe\n", bytes(range(256)) + b"\n"])
def test_binary_junk_does_not_raise(junk: bytes) -> None:
    frames = feed_all(SyslogFramer(64), junk * 3)
    assert frames  # kept (flagged later by the decoder), never lost


def test_unterminated_last_line_is_emitted_at_close() -> None:
    frames = feed_all(SyslogFramer(64), b"<13>no newline")
    assert [f.data for f in frames] == [b"<13>no newline"]


def test_connection_closed_inside_counted_frame_keeps_what_arrived() -> None:
    frames = feed_all(SyslogFramer(64), b"50 partial")
    assert frames == [Frame(b"partial", "connection closed inside an octet-counted frame")]

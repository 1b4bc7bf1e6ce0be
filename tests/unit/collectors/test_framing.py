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
    big = b"<13>" + b"B" * 26
    frames = feed_all(framer, b"30 " + big[:12], big[12:] + b"<13>ok\n")
    assert frames[0].data == big[:10] and frames[0].error and "30 bytes" in frames[0].error
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
    frames = feed_all(SyslogFramer(64), b"50 <13>partial")
    assert frames == [Frame(b"<13>partial", "connection closed inside an octet-counted frame")]


# Issue 10, finding 7: the framing of a connection is decided once, from its first frame (RFC 6587:
# a connection uses one framing), and an octet count over the limit is reported, never silent.


def test_lf_connection_line_starting_with_digits_and_space_is_not_an_octet_count() -> None:
    stream = b"<13>first\n100 apples were counted\n<13>third\n<13>fourth\n"
    frames = feed_all(SyslogFramer(1024), stream)
    assert [f.data for f in frames] == [b"<13>first", b"100 apples were counted", b"<13>third", b"<13>fourth"]
    assert all(f.error is None for f in frames)


def test_lf_connection_whose_first_line_starts_with_digits_keeps_every_line() -> None:
    # A device that sends no PRI: "2024 ..." must not swallow the next 2,024 bytes.
    stream = b"2024 Nov 26 10:00:00 fw01 accepted\n<13>second\n<13>third\n"
    frames = feed_all(SyslogFramer(1024), stream)
    assert [f.data for f in frames] == [b"2024 Nov 26 10:00:00 fw01 accepted", b"<13>second", b"<13>third"]


def test_lf_connection_digit_lines_split_across_reads_stay_lines() -> None:
    framer = SyslogFramer(1024)
    frames = feed_all(framer, b"<13>a\n", b"5", b"0 ", b"items\n<13>b\n")
    assert [f.data for f in frames] == [b"<13>a", b"50 items", b"<13>b"]


def test_counted_connection_is_recognised_by_count_then_pri() -> None:
    a, b = b"<13>one", b"<14>two words"
    stream = str(len(a)).encode() + b" " + a + str(len(b)).encode() + b" " + b
    framer = SyslogFramer(1024)
    assert [f.data for f in feed_all(framer, stream)] == [a, b]
    assert framer.framing == "octet-counting"


def test_over_limit_octet_count_is_reported() -> None:
    framer = SyslogFramer(16)
    head = b"<13>" + b"B" * 36
    frames = feed_all(framer, b"40 " + head + b"6 <13>ok")
    assert frames[0].data == head[:16] and frames[0].error and "40 bytes" in frames[0].error
    assert frames[1] == Frame(b"<13>ok")
    assert framer.over_limit_counts == [40]
    assert framer.bytes_discarded == 24

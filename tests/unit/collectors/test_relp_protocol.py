"""RELP framing (collectors/relp/protocol.py): frames as librelp writes them, split anywhere."""

from __future__ import annotations

import pytest
from canhgac.collectors.relp.protocol import (
    RelpFrame,
    RelpParser,
    frame,
    open_response,
    parse_offers,
    txnr_follows,
)

OPEN = b"relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog"
STREAM = b"1 open %d " % len(OPEN) + OPEN + b"\n2 syslog 27 <38>1 - web01 sshd - - - hi\n3 syslog 4 x\ny\n\n4 close 0\n"


def test_a_session_as_librelp_sends_it() -> None:
    frames = RelpParser(1024).feed(STREAM)
    assert frames == [
        RelpFrame(1, "open", OPEN),
        RelpFrame(2, "syslog", b"<38>1 - web01 sshd - - - hi"),
        RelpFrame(3, "syslog", b"x\ny\n"),  # DATA is counted, so it may hold LFs
        RelpFrame(4, "close", b""),
    ]


@pytest.mark.parametrize("step", [1, 2, 3, 7, 13])
def test_split_at_any_octet_gives_the_same_frames(step: int) -> None:
    parser = RelpParser(1024)
    frames = []
    for i in range(0, len(STREAM), step):
        frames += parser.feed(STREAM[i : i + step])
    assert frames == RelpParser(1024).feed(STREAM)
    assert parser.error is None


def test_over_long_data_keeps_its_head_and_the_stream_stays_in_step() -> None:
    parser = RelpParser(8)
    frames = parser.feed(b"5 syslog 20 0123456789ABCDEFGHIJ\n6 syslog 2 ok\n")
    assert frames == [RelpFrame(5, "syslog", b"01234567", truncated_from=20), RelpFrame(6, "syslog", b"ok")]
    assert parser.bytes_skipped == 12


@pytest.mark.parametrize(
    "garbage",
    [
        b"<38>Dec  6 10:00:00 web01 sshd[1]: plain syslog on the RELP port\n",
        b"1 syslog 3 abcd\n",  # DATA longer than DATALEN: no LF where the trailer must be
        b"1 syslog 5\n",  # DATALEN but no data
        b"x" * 100,
        b"1 sys-log 1 a\n",
        b"1234567890 syslog 1 a\n",
    ],
)
def test_what_is_not_relp_is_an_error_after_the_good_frames(garbage: bytes) -> None:
    parser = RelpParser(1024)
    frames = parser.feed(b"1 open 0\n" + garbage)
    assert frames == [RelpFrame(1, "open", b"")]
    assert parser.error
    assert parser.feed(b"2 syslog 1 a\n") == []  # nothing more is read


def test_open_response_negotiates_version_and_syslog_command() -> None:
    body, refused = open_response(parse_offers(OPEN))
    assert refused is None
    lines = body.split(b"\n")
    assert lines[0] == b"200 OK"
    assert b"relp_version=0" in lines and b"commands=syslog" in lines
    assert open_response(parse_offers(b"relp_version=5\ncommands=syslog"))[0].split(b"\n")[1] == b"relp_version=1"
    assert open_response(parse_offers(b"commands=syslog"))[1]
    assert open_response(parse_offers(b"relp_version=0\ncommands=eventlog"))[1]


def test_frames_and_txnr_order() -> None:
    assert frame(7, "rsp", b"200 OK") == b"7 rsp 6 200 OK\n"
    assert frame(0, "serverclose") == b"0 serverclose 0\n"
    assert txnr_follows(1, 2) and txnr_follows(1, 5)
    assert not txnr_follows(5, 5) and not txnr_follows(5, 3)
    assert txnr_follows(999_999_999, 1)

"""Inputs built to make regular expressions backtrack: every parser must finish them quickly.

A 64 KiB line (the collector's default limit) once took 50 s in the Cisco ASA parser; the timeout
below is generous on purpose — it catches exponential behaviour, not slowness."""

from __future__ import annotations

import pytest
from canhgac.core.errors import ParseError
from canhgac.pipeline.normalize.base import parsers
from normalize_testkit import envelope

N = 65536
H = "<13>Nov 26 07:00:00 h "
HOSTILE = {
    "asa-interfaces": "<166>%ASA-4-106023: Deny tcp src " + "a:" * (N // 2),
    "asa-aaa": "<166>%ASA-6-113004: AAA user authentication Successful :" + " a" * (N // 2),
    "asa-built": "<166>%ASA-6-302013: Built inbound TCP connection 1 for " + "a:b:c" * (N // 5),
    "asa-acl": "<166>%ASA-4-106100: access-list x denied tcp " + "a/" * (N // 2),
    "pam-repeated": H + "sshd[1]: " + "pam_x(" * (N // 6),
    "sshd-from": H + "sshd[1]: Failed password for " + " from x port 1 z" * (N // 16),
    "sd-escapes": "<13>1 2026-11-26T00:00:00Z h a - - [x " + 'a="\\' * (N // 4),
    "cef-keys": "CEF:0|a|b|c|d|e|5|" + " k=" * (N // 3),
    "fortigate-quotes": 'devname="a" logid=' + '"\\' * (N // 2),
    "access-brackets": "1 2 3 4 [" * (N // 9),
    "audit-quote": 'type=SYSCALL msg=audit(1:1): a="' + "b " * (N // 2),
    "backslashes": "\\" * N,
    "quotes": '"' * N,
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", parsers.names())
def test_hostile_lines_finish(name: str) -> None:
    parser = parsers.get(name)()
    for text in HOSTILE.values():
        try:
            event = parser.parse(envelope(name, text))
        except ParseError:
            continue  # a refusal with a reason is a correct answer
        assert isinstance(event, dict)

"""Feed formats -> indicators (canhgac.rules.intel.formats): STIX 2.1 patterns, MISP events, CSV and
plain lists; what is not an indicator is counted with its reason."""

from __future__ import annotations

import pytest
from canhgac.core.alert import Severity
from canhgac.rules.intel.formats import parse_csv, parse_misp_event, parse_plain, parse_stix_bundle
from canhgac.rules.intel.indicators import IndicatorType as T


def stix_indicator(pattern: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--" + "0" * 36,
        "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-02T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        **extra,
    }


def test_stix_patterns() -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            stix_indicator(
                "[ipv4-addr:value = '203.0.113.0/24'] OR [domain-name:value = 'Evil.example']",
                confidence=85,
                valid_until="2027-01-01T00:00:00Z",
                indicator_types=["malicious-activity"],
                name="C2 of campaign X",
                kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
                external_references=[{"source_name": "mitre-attack", "external_id": "T1071"}],
            ),
            stix_indicator("[file:hashes.'SHA-256' = '" + "A" * 64 + "']"),
            stix_indicator("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
            stix_indicator("[url:value = 'http://bad.example/x.php']"),
            stix_indicator("[email-addr:value = 'a@evil.example']"),
            stix_indicator("[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'EvilUA/1']"),
            stix_indicator("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]"),
            stix_indicator("[process:name = 'evil.exe']"),
            stix_indicator("[ipv4-addr:value = '1.2.3.4']", revoked=True),
            stix_indicator("alert tcp any any", pattern_type="snort"),
            {"type": "malware", "id": "malware--1", "name": "x", "is_family": True},
        ],
    }
    parsed = parse_stix_bundle(bundle)
    got = {(c.type, c.value) for c in parsed.candidates}
    assert got == {
        (T.CIDR, "203.0.113.0/24"),
        (T.DOMAIN, "evil.example"),
        (T.SHA256, "a" * 64),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (T.URL, "bad.example/x.php"),
        (T.EMAIL, "a@evil.example"),
        (T.USER_AGENT, "EvilUA/1"),
    }
    first = parsed.candidates[0]
    assert first.confidence == 85 and first.expires_at is not None and first.expires_at.year == 2027
    assert first.reason == "C2 of campaign X"
    assert {"malicious-activity", "attack.t1071", "attack.command_and_control"} <= set(first.tags)
    assert sum(parsed.skipped.values()) == 4 and parsed.skipped["revoked"] == 1
    with pytest.raises(ValueError):
        parse_stix_bundle({"type": "indicator"})


def test_misp_event() -> None:
    event = {
        "Event": {
            "uuid": "5f0c0b7e-0000-4000-8000-000000000001",
            "info": "Phishing wave against provincial agencies",
            "threat_level_id": "1",
            "Tag": [{"name": "tlp:amber"}],
            "Attribute": [
                {"type": "ip-dst", "value": "198.51.100.7", "to_ids": True, "uuid": "a1", "timestamp": "1760000000"},
                {"type": "domain|ip", "value": "evil.example|192.0.2.5", "to_ids": True},
                {"type": "filename|sha256", "value": "x.exe|" + "c" * 64, "to_ids": True},
                {"type": "ip-dst|port", "value": "2001:db8::5|443", "to_ids": True},
                {"type": "url", "value": "hxxp://evil[.]example/login", "to_ids": True, "comment": "landing page"},
                {"type": "ip-src", "value": "10.0.0.1", "to_ids": False},
                {"type": "text", "value": "hello", "to_ids": True},
            ],
            "Object": [{"Attribute": [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e", "to_ids": True}]}],
        }
    }
    parsed = parse_misp_event(event)
    got = {(c.type, c.value) for c in parsed.candidates}
    assert got == {
        (T.IPV4, "198.51.100.7"),
        (T.DOMAIN, "evil.example"),
        (T.IPV4, "192.0.2.5"),
        (T.SHA256, "c" * 64),
        (T.IPV6, "2001:db8::5"),
        (T.URL, "evil.example/login"),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
    }
    assert all(c.severity is Severity.HIGH and "tlp:amber" in c.tags for c in parsed.candidates)
    assert next(c for c in parsed.candidates if c.type is T.URL).reason == "landing page"
    assert sum(parsed.skipped.values()) == 2


def test_csv_and_plain() -> None:
    text = (
        "Type,Value,Confidence,Severity,Tags,Expires_At,Reason\n"
        "ipv4,203.0.113.9,90,critical,c2;apt,2027-01-01T00:00:00+07:00,bulletin 12/2026\n"
        ",evil[.]example,,,,,\n"
        "user_agent,EvilUA/2,,,,,\n"
        "md5,nothex,,,,,\n"
    )
    parsed = parse_csv(text)
    assert [(c.type, c.value) for c in parsed.candidates] == [
        (T.IPV4, "203.0.113.9"),
        (T.DOMAIN, "evil.example"),
        (T.USER_AGENT, "EvilUA/2"),
    ]
    first = parsed.candidates[0]
    assert first.confidence == 90 and first.severity is Severity.CRITICAL and first.tags == ("c2", "apt")
    assert first.expires_at is not None and first.expires_at.utcoffset() is not None
    assert sum(parsed.skipped.values()) == 1
    with pytest.raises(ValueError):
        parse_csv("a,b\n1,2\n")
    plain = parse_plain("# bulletin\n203.0.113.10\nevil2.example  # C2\n\nnot a value\n" + "e" * 40 + "\n")
    assert [(c.type, c.value) for c in plain.candidates] == [
        (T.IPV4, "203.0.113.10"),
        (T.DOMAIN, "evil2.example"),
        (T.SHA1, "e" * 40),
    ]
    assert sum(plain.skipped.values()) == 1

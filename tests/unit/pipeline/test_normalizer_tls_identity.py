"""The verified TLS client identity a collector recorded reaches the event (ECS `tls.client.*`)."""

from __future__ import annotations

from canhgac.core.envelope import Peer, RawEnvelope
from canhgac.pipeline.normalizer import ParserCache, normalize

FINGERPRINT = "0687F666A054EF17A08E2F2162EAB4CBC0D265E1D7875BE74BF3C712CA92DAF0"


def envelope(peer: Peer, payload: dict | None = None) -> RawEnvelope:
    return RawEnvelope(
        source_id="tthdl-tls",
        agency="tthdl",
        collector="syslog-tls",
        format="json" if payload else "syslog",
        message=None if payload else "<38>1 2026-12-06T10:00:00Z web01 sshd 42 - - Accepted publickey for lan",
        payload=payload,
        peer=peer,
    )


def test_tls_client_subject_and_certificate_hash_are_in_the_event() -> None:
    raw = envelope(Peer(ip="10.1.2.3", port=51234, tls_subject="CN=web01,O=So TTTT,C=VN", tls_hash_sha256=FINGERPRINT))
    event, dlq = normalize(raw, ParserCache(), None)
    assert dlq is None
    assert event["tls"]["client"]["subject"] == "CN=web01,O=So TTTT,C=VN"
    assert event["tls"]["client"]["hash"]["sha256"] == FINGERPRINT


def test_over_tls_the_proved_identity_replaces_what_the_record_says() -> None:
    forged = {"message": "hi", "tls": {"client": {"subject": "CN=soc-admin", "hash": {"sha256": "00"}}}}
    proved = Peer(ip="10.1.2.3", port=1, tls_subject="CN=web01", tls_hash_sha256=FINGERPRINT)
    event, _ = normalize(envelope(proved, forged), ParserCache(), None)
    assert event["tls"]["client"]["subject"] == "CN=web01"
    assert event["tls"]["client"]["hash"] == {"sha256": FINGERPRINT}


def test_envelope_round_trip_keeps_the_hash_and_plain_records_keep_their_bytes() -> None:
    plain = envelope(Peer(ip="10.1.2.3", port=1))
    assert b"tls_hash_sha256" not in plain.to_json()
    tls = envelope(Peer(ip="10.1.2.3", port=1, tls_subject="CN=web01", tls_hash_sha256=FINGERPRINT))
    assert RawEnvelope.from_json(tls.to_json()).peer.tls_hash_sha256 == FINGERPRINT

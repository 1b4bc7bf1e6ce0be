from __future__ import annotations

from datetime import timedelta

import pytest
from canhgac.pipeline.notify import AckTokenError, ManualClock
from canhgac.pipeline.notify.ack import AckSigner

from tests.unit.notify.support import START


def _signer(key: bytes = b"k" * 32) -> tuple[AckSigner, ManualClock]:
    clock = ManualClock(START)
    return AckSigner(key, clock), clock


def test_round_trip_until_expiry() -> None:
    signer, clock = _signer()
    token = signer.make_ack_token("a-ssh-1", START + timedelta(hours=1))
    assert signer.verify_ack_token(token) == "a-ssh-1"
    clock.advance(minutes=59, seconds=59)
    assert signer.verify_ack_token(token) == "a-ssh-1"
    clock.advance(seconds=1)
    with pytest.raises(AckTokenError, match="expired") as err:
        signer.verify_ack_token(token)
    assert err.value.reason == "expired"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
        (lambda t: "e30" + t[t.index(".") :], "bad_signature"),  # payload {} with the old MAC
        (lambda t: t.replace(".", ""), "malformed"),
        (lambda t: "!!!." + t.split(".")[1], "bad_signature"),  # the MAC is checked before decoding
        (lambda t: "", "malformed"),
    ],
)
def test_tampering_is_refused(mangle, reason: str) -> None:  # type: ignore[no-untyped-def]
    signer, _ = _signer()
    token = signer.make_ack_token("a-ssh-1", START + timedelta(hours=1))
    with pytest.raises(AckTokenError) as err:
        signer.verify_ack_token(mangle(token))
    assert err.value.reason == reason


def test_another_key_does_not_verify() -> None:
    signer, _ = _signer(b"k" * 32)
    other, _ = _signer(b"x" * 32)
    with pytest.raises(AckTokenError, match="signature"):
        other.verify_ack_token(signer.make_ack_token("a", START + timedelta(hours=1)))


def test_token_for_another_purpose_is_refused() -> None:
    import base64
    import hashlib
    import hmac
    import json

    key = b"k" * 32
    signer, _ = _signer(key)
    payload = base64.urlsafe_b64encode(json.dumps({"p": "reset", "a": "x", "e": 9999999999}).encode())
    payload = payload.rstrip(b"=")
    mac = hmac.new(key, b"canhgac-ack-v1." + payload, hashlib.sha256).digest()
    token = payload.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(AckTokenError) as err:
        signer.verify_ack_token(token)
    assert err.value.reason == "wrong_purpose"


def test_mac_is_checked_before_the_payload_is_parsed() -> None:
    """Issue 10, finding 8: a deeply nested payload with a wrong MAC was parsed first (RecursionError, a 500)."""
    import base64

    signer, _ = _signer()
    nested = base64.urlsafe_b64encode(b"[" * 200_000 + b"]" * 200_000).rstrip(b"=").decode()
    with pytest.raises(AckTokenError) as err:
        signer.verify_ack_token(nested + "." + "A" * 43)
    assert err.value.reason in ("bad_signature", "malformed")


def test_over_long_token_is_refused_before_any_work() -> None:
    signer, _ = _signer()
    token = signer.make_ack_token("a" * 3000, START + timedelta(hours=1))  # alert ids are far shorter
    with pytest.raises(AckTokenError) as err:
        signer.verify_ack_token(token)
    assert err.value.reason == "malformed"

"""Signed acknowledgement links.

Token = base64url(payload) "." base64url(HMAC-SHA256(key, "canhgac-ack-v1." + payload)), payload =
compact JSON {"p": "ack", "a": alert id, "e": expiry epoch seconds}. The purpose field and the
domain-separation prefix keep a token from being used as anything but an acknowledgement of that
one alert; the expiry bounds a leaked mail. The MAC is checked before the payload is decoded.

Tokens are single-use: the API records each use (see canhgac.api.notify.service), because the
API, not the notifier, is where links are followed, and it may run in another process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime

from canhgac.pipeline.notify.clock import Clock
from canhgac.pipeline.notify.errors import AckTokenError

_DOMAIN = b"canhgac-ack-v1."
_PURPOSE = "ack"
# A token for a 256-character alert id is about 450 characters; anything much longer is refused
# before any decoding.
MAX_TOKEN_CHARS = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckSigner:
    def __init__(self, key: bytes, clock: Clock) -> None:
        if len(key) < 16:
            raise ValueError("the acknowledgement key must be at least 16 bytes")
        self._key = key
        self._clock = clock

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _DOMAIN + payload, hashlib.sha256).digest()

    def make_ack_token(self, alert_id: str, expires_at: datetime) -> str:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime")
        body = {"p": _PURPOSE, "a": alert_id, "e": int(expires_at.timestamp())}
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode()).encode()
        return payload.decode() + "." + _b64(self._mac(payload))

    def verify_ack_token(self, token: str) -> str:
        """The alert id the token acknowledges; AckTokenError says why it does not."""
        token = token.strip()
        if len(token) > MAX_TOKEN_CHARS:
            raise AckTokenError("acknowledgement link is malformed", reason="malformed")
        payload_text, dot, mac_text = token.partition(".")
        if not dot or not payload_text or not mac_text:
            raise AckTokenError("acknowledgement link is malformed", reason="malformed")
        # The MAC first: nothing a stranger wrote is parsed before we know we wrote it.
        try:
            mac = _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise AckTokenError("acknowledgement link is malformed", reason="malformed") from None
        if not hmac.compare_digest(mac, self._mac(payload_text.encode())):
            raise AckTokenError("acknowledgement link signature does not verify", reason="bad_signature")
        try:
            body = json.loads(_unb64(payload_text))
        except (binascii.Error, ValueError):
            raise AckTokenError("acknowledgement link is malformed", reason="malformed") from None
        if not isinstance(body, dict) or body.get("p") != _PURPOSE:
            raise AckTokenError("token is not an acknowledgement link", reason="wrong_purpose")
        alert_id, expires = body.get("a"), body.get("e")
        if not isinstance(alert_id, str) or not isinstance(expires, int):
            raise AckTokenError("acknowledgement link is malformed", reason="malformed")
        if self._clock.now().timestamp() >= expires:
            raise AckTokenError("acknowledgement link has expired", reason="expired")
        return alert_id

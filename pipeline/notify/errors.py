"""Notification errors, branches of the one tree in `canhgac.core.errors`."""

from __future__ import annotations

from canhgac.core.errors import CanhgacError, InvalidRequest, ParseError


class DeliveryError(CanhgacError):
    """A channel did not take a message. `retriable` is decided per failure, not per class:
    5xx, 429, timeouts and refused connections can succeed later; other 4xx and refused
    credentials will not."""

    def __init__(
        self,
        message: str,
        *,
        retriable: bool,
        retry_after_secs: float | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, where=where)
        self.retriable = retriable
        self.retry_after_secs = retry_after_secs


class AckTokenError(InvalidRequest):
    """An acknowledgement link is not valid; `reason` is one of malformed, bad_signature,
    wrong_purpose, expired."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidAlertError(ParseError):
    """A record on the alerts topic is not an alert; it goes to the DLQ with this reason."""

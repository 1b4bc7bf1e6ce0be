"""One tree of errors. `retriable` tells a supervisor whether trying again can help."""

from __future__ import annotations


class CanhgacError(Exception):
    """Root of every error Canhgac raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where  # file:line, source id, topic/partition/offset … whatever locates it

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(CanhgacError):
    """Settings or a component's configuration are invalid."""


class ParseError(CanhgacError):
    """A raw record could not be turned into an event; it goes to the DLQ with this reason."""


class FramingError(ParseError):
    """A byte stream could not be split into messages (bad octet count, line too long …)."""


class RuleError(CanhgacError):
    """A Sigma rule was rejected; `reason` is a short machine-friendly tally key."""

    def __init__(self, message: str, *, reason: str, where: str | None = None) -> None:
        super().__init__(message, where=where)
        self.reason = reason


class BackendUnavailable(CanhgacError):
    """Kafka or OpenSearch could not be reached; trying again later can help."""

    retriable = True


class PermanentWriteError(CanhgacError):
    """A downstream write was refused for good (mapping conflict …); the record goes to the DLQ."""


class NotFound(CanhgacError):
    """The thing asked for does not exist."""


class InvalidRequest(CanhgacError):
    """A request is well-formed but asks for something we refuse (too expensive, bad range …)."""


class RuleRejected(InvalidRequest):
    """Uploaded or pasted Sigma YAML did not compile; `rejections` says why, rule by rule."""

    def __init__(self, message: str, *, rejections: list[dict[str, object]], where: str | None = None) -> None:
        super().__init__(message, where=where)
        self.rejections = rejections


class Conflict(CanhgacError):
    """The request conflicts with the current state (a status that cannot follow, a name taken …)."""


class Unauthenticated(CanhgacError):
    """No valid session or token, or wrong credentials."""


class PermissionDenied(CanhgacError):
    """Authenticated, but the role does not allow this action."""


class RateLimited(CanhgacError):
    """Too many attempts; `retry_after_secs` says when to try again."""

    retriable = True

    def __init__(self, message: str, *, retry_after_secs: int, where: str | None = None) -> None:
        super().__init__(message, where=where)
        self.retry_after_secs = retry_after_secs


class Overloaded(CanhgacError):
    """At capacity (spool full, too many requests): the sender should retry later, nothing was kept."""

    retriable = True


class TooLarge(InvalidRequest):
    """A request or message is over a configured size limit (HTTP 413)."""

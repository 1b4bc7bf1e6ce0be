"""Argon2id password hashes (verification runs in a thread: it is deliberately slow) and the
password policy: at least MIN_PASSWORD_CHARS characters and a zxcvbn strength score of at least
MIN_PASSWORD_SCORE (0-4; 3 = "safely unguessable" against online attacks and slow offline ones),
with the user's own name and display name counted as guessable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from canhgac.core.errors import InvalidRequest
from zxcvbn import zxcvbn

MIN_PASSWORD_CHARS = 10
MIN_PASSWORD_SCORE = 3
_ZXCVBN_MAX_CHARS = 72  # zxcvbn's own limit; the estimate of a longer password is that of its start
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("canhgac-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, stored_hash, password)


def check_password_policy(password: str, user_inputs: Iterable[str | None] = ()) -> None:
    """InvalidRequest (400) with the reason when the password is too short or too easy to guess;
    the reason never repeats the password."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidRequest(f"passwords have at least {MIN_PASSWORD_CHARS} characters")
    words = ["canhgac", "soc"]
    for value in user_inputs:
        if value:
            words += [value, *value.replace(".", " ").replace("-", " ").replace("_", " ").split()]
    estimate = zxcvbn(password[:_ZXCVBN_MAX_CHARS], user_inputs=words)
    if estimate["score"] < MIN_PASSWORD_SCORE:
        feedback = estimate.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        reason = " ".join(h.strip() for h in hints if h and h.strip())
        raise InvalidRequest(
            f"password is too easy to guess (strength {estimate['score']} of 4, at least {MIN_PASSWORD_SCORE} needed)"
            + (f": {reason}" if reason else "")
            + " A few uncommon words together make a good one."
        )

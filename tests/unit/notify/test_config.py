from __future__ import annotations

from typing import Any

import pytest
from canhgac.core.notify_config import EmailChannel
from canhgac.pipeline.notify import NotifyConfig
from pydantic import ValidationError

from tests.unit.notify.support import config_dict


def _fails(match: str, **changes: Any) -> None:
    with pytest.raises(ValidationError, match=match):
        NotifyConfig.model_validate(config_dict(**changes))


def test_defaults_are_valid_and_frozen() -> None:
    config = NotifyConfig()
    assert config.routes[0].match.is_catch_all()
    with pytest.raises(ValidationError):
        config.timezone = "UTC"  # type: ignore[misc]


def test_unknown_keys_are_rejected() -> None:
    _fails("Extra inputs are not permitted", retry={"max_attempts": 3, "backof_secs": 1})


def test_last_route_must_be_catch_all() -> None:
    _fails("last route must be a catch-all", routes=[{"name": "r", "match": {"min_severity": "high"}}])


def test_references_must_exist() -> None:
    _fails("unknown channel 'nope'", routes=[{"name": "r", "channels": ["nope"]}])
    _fails("unknown rotation 'oncall'", routes=[{"name": "r", "rotation": "oncall"}])
    _fails(
        "escalation after_mins must be strictly increasing",
        routes=[
            {
                "name": "r",
                "escalation": [
                    {"after_mins": 30, "channels": ["tg-an"]},
                    {"after_mins": 15, "channels": ["tg-lead"]},
                ],
            }
        ],
    )


def test_secrets_are_named_not_given() -> None:
    with pytest.raises(ValidationError, match="exactly one of token_env, token_file"):
        NotifyConfig.model_validate(config_dict(channels={"tg": {"type": "telegram", "chat_id": "1"}}))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        NotifyConfig.model_validate(
            config_dict(channels={"tg": {"type": "telegram", "chat_id": "1", "token": "123:abc"}})
        )
    with pytest.raises(ValidationError, match="without TLS"):
        EmailChannel(
            type="email",
            host="h",
            from_addr="a@b",
            to=("c@d",),
            security="none",
            username="u",
            password_env="P",
        )


def test_ack_links_need_a_secret() -> None:
    _fails("needs ack_secret_env", ack_secret_env=None)

"""Every channel config type has exactly one registered notifier, and the other way round."""

from __future__ import annotations

import typing

from canhgac.core.notify_config import ChannelConfig
from canhgac.pipeline.notify.notifiers import notifiers


def _config_types() -> dict[str, type]:
    union = typing.get_args(ChannelConfig)[0]
    out = {}
    for model in typing.get_args(union):
        (type_name,) = typing.get_args(model.model_fields["type"].annotation)
        out[type_name] = model
    return out


def test_every_channel_type_is_registered_with_its_config_model() -> None:
    config_types = _config_types()
    assert sorted(config_types) == notifiers.names() == ["email", "slack", "teams", "telegram", "webhook"]
    for name, model in config_types.items():
        assert notifiers.get(name).config_type is model

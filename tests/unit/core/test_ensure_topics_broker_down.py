"""`ensure_topics` while one broker of a cluster is down: the admin client connects through a live
broker, then the metadata request goes to the dead one. That is a wait, not a crash: the chaos
test (tests/chaos) saw a stage restarted during a broker's restart exit with NodeNotReadyError
out of `wait_for_backends`."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from canhgac.core import kafka
from canhgac.core.config import KafkaConfig
from canhgac.core.errors import BackendUnavailable


class _AdminOneBrokerDown:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    async def start(self) -> None:  # bootstrap through a live broker works
        return None

    async def list_topics(self) -> list[str]:
        raise self.error

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "error",
    [
        NodeNotReadyError("Attempt to send a request to node which is not ready (node id 1)."),
        KafkaConnectionError("Connection at 127.0.0.1:23401 closed"),
        RequestTimedOutError(),
    ],
)
async def test_a_dead_broker_behind_a_live_bootstrap_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    admin = _AdminOneBrokerDown(error)

    def make_admin(*_: Any, **__: Any) -> _AdminOneBrokerDown:
        return admin

    monkeypatch.setattr(kafka, "make_admin", make_admin)
    with pytest.raises(BackendUnavailable):
        await kafka.ensure_topics(KafkaConfig(bootstrap_servers="127.0.0.1:23401,127.0.0.1:23402"))
    assert admin.closed

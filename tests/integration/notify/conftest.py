from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.notify.support import LocalHttpServer


@pytest.fixture
async def http_server() -> AsyncIterator[LocalHttpServer]:
    server = await LocalHttpServer().start()
    yield server
    await server.stop()

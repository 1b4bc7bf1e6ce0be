"""HTTP ingest refusals do not tell a stranger which source ids exist (issue 10, finding 8): an
unknown source, a wrong key and a key of another source get the same 401 and the same body."""

from __future__ import annotations

import pytest

from tests.integration.collectors.test_http_ingest import KEY, basic, http  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


async def test_unknown_source_and_bad_key_get_the_same_answer(http) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, client, _metrics, _ = http
    native = [
        await client.post("/ingest/v1/nope", json={}, headers={"Authorization": f"Bearer {KEY}"}),
        await client.post("/ingest/v1/motcua", json={}, headers={"Authorization": f"Bearer {KEY}"}),
        await client.post("/ingest/v1/portal", json={}, headers={"Authorization": "Bearer k-wrong"}),
        await client.post("/ingest/v1/nope", json={}, headers={"Authorization": "Bearer k-wrong"}),
    ]
    bulk = [
        await client.post("/_bulk", content=b"{}\n", headers=basic("nope", KEY)),
        await client.post("/_bulk", content=b"{}\n", headers=basic("motcua", KEY)),
        await client.post("/_bulk", content=b"{}\n", headers=basic("portal", "k-wrong")),
        await client.post("/_bulk", content=b"{}\n", headers=basic("nope", "k-wrong")),
    ]
    for replies in (native, bulk):
        assert {r.status_code for r in replies} == {401}
        assert len({r.content for r in replies}) == 1, [r.text for r in replies]
        assert "nope" not in replies[0].text and "motcua" not in replies[0].text

"""Issue 12: analysts find Windows events by ECS fields in stored logs — the certutil download that
raised alerts is found by `process.name:certutil.exe` (Sysmon 1 and Security 4688 alike), by its
parent, and by `user.target.name` for account management; `winlog.event_data` stays queryable."""

from __future__ import annotations

import orjson
import pytest
from canhgac.core.envelope import RawEnvelope
from canhgac.core.store import ensure_templates, events_index, make_client
from canhgac.pipeline.normalizer import ParserCache, normalize

from tests.conftest import REPO

pytestmark = pytest.mark.integration
WINLOGBEAT_INPUT = REPO / "tests" / "unit" / "normalize" / "golden" / "windows" / "winlogbeat.input.log"


async def test_windows_events_are_found_by_ecs_fields(test_settings) -> None:  # type: ignore[no-untyped-def]
    parsers = ParserCache()
    events = {}
    for i, line in enumerate(WINLOGBEAT_INPUT.read_bytes().splitlines()):
        raw = RawEnvelope(
            source_id="dc01", agency="so-tttt", collector="http", format="winlogbeat", payload=orjson.loads(line)
        )
        raw.id = f"win-{i}"
        event, dead = normalize(raw, parsers, None)
        assert dead is None
        events[raw.id] = event
    client = make_client(test_settings.opensearch, component="admin")
    try:
        await ensure_templates(client, test_settings.opensearch)
        body = bytearray()
        for key, event in events.items():
            index = events_index(test_settings.opensearch.index_prefix, event["canhgac"]["dataset"])
            body += orjson.dumps({"create": {"_index": index, "_id": key}}) + b"\n" + orjson.dumps(event) + b"\n"
        result = await client.bulk(body=bytes(body), refresh="true")
        assert not result["errors"], [i for i in result["items"] if next(iter(i.values())).get("error")][:3]

        async def codes(query: str) -> list[str]:
            answer = await client.search(
                index=f"{test_settings.opensearch.index_prefix}.*",
                body={"size": 100, "query": {"query_string": {"query": query, "default_field": "message"}}},
            )
            return sorted(hit["_source"]["event"]["code"] for hit in answer["hits"]["hits"])

        assert await codes("process.name:certutil.exe AND event.category:process") == ["1", "4688", "4689", "5"]
        assert await codes("process.name:certutil.exe AND event.category:process AND event.type:start") == ["1", "4688"]
        assert await codes('process.parent.name:"cmd.exe"') == ["1", "4688"]
        assert await codes("user.target.name:tranvan.b") == ["4720", "4722", "4723", "4724", "4725", "4726", "4738"]
        assert await codes("source.ip:198.51.100.23 AND event.outcome:failure") == ["4625", "4771"]
        assert await codes("dns.question.name:evil.example.com") == ["22"]
        assert await codes('winlog.event_data.NewProcessName:"C:\\\\Windows\\\\System32\\\\certutil.exe"') == ["4688"]
    finally:
        await client.close()

"""Issue 12: the Sigma rules of tests/unit/rules/generic_logsources.py (the taxonomy's field names of
firewall, webserver, proxy, dns, antivirus and Linux authentication), converted to OpenSearch
queries through the same field mapping as the stream, find exactly the stored event the stream
matches (the hit), not its near miss — on a real OpenSearch with our index templates."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from canhgac.core.store import ensure_templates, events_index, make_client
from canhgac.rules.convert import DEFAULT_FIELD, convert_rules

from tests.unit.rules.generic_logsources import CASES, make_event

pytestmark = pytest.mark.integration


async def test_converted_taxonomy_rules_find_the_stored_events(test_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    events = {f"{case.name}-{which}": make_event(case, which) for case in CASES for which in ("hit", "miss")}
    for key, event in events.items():
        event["event"]["id"] = key
    for case in CASES:
        (tmp_path / f"{case.name}.yml").write_text(case.rule, encoding="utf-8")
    rejected: list = []
    queries = {c.rule_id: c.query for c in convert_rules([tmp_path], rejected=rejected)}
    assert not rejected, rejected
    assert set(queries) == {case.rule_id for case in CASES}

    client = make_client(test_settings.opensearch, component="admin")
    try:
        await ensure_templates(client, test_settings.opensearch)
        body = bytearray()
        for key, event in events.items():
            index = events_index(test_settings.opensearch.index_prefix, event["canhgac"]["dataset"])
            body += orjson.dumps({"create": {"_index": index, "_id": key}}) + b"\n" + orjson.dumps(event) + b"\n"
        result = await client.bulk(body=bytes(body), refresh="true")
        assert not result["errors"], [i for i in result["items"] if next(iter(i.values())).get("error")]
        found: dict[str, set[str]] = {}
        for case in CASES:
            answer = await client.search(
                index=f"{test_settings.opensearch.index_prefix}.*",
                body={
                    "size": 100,
                    "_source": False,
                    "query": {
                        "query_string": {
                            "query": queries[case.rule_id],
                            "default_field": DEFAULT_FIELD,
                            "allow_leading_wildcard": True,
                        }
                    },
                },
            )
            found[case.name] = {hit["_id"] for hit in answer["hits"]["hits"]}
    finally:
        await client.close()
    assert found == {case.name: {f"{case.name}-hit"} for case in CASES}, {c.name: queries[c.rule_id] for c in CASES}

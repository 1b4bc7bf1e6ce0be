"""`canhgac --config FILE sigma convert|match` with a rule naming a watch list: the lists are read
from that deployment's OpenSearch (the real one, api/lists/service.py `stored_lists`), as back-tests
and retro-hunts read them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from canhgac.core.watchlists import LISTS

from canhgac.cli import main

pytestmark = pytest.mark.integration

RULE = """title: From a watched address
id: 7e6d5c4b-3a29-4187-9f6e-5d4c3b2a1f0e
logsource: {product: linux, service: sshd}
detection:
  sel:
    source.ip|expand: '%list:watched%'
  condition: sel
"""


async def test_the_cli_reads_the_stored_lists_of_its_config(
    test_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from canhgac.api.lists.service import put_list
    from canhgac.core.store import make_client

    monkeypatch.setattr(LISTS, "_lists", dict(LISTS._lists))  # `match` sets the process's live lists
    monkeypatch.setattr(LISTS, "version", LISTS.version)
    cfg = test_settings.opensearch
    client = make_client(cfg, component="admin")
    try:
        await put_list(client, cfg, "watched", "ip", "", ["10.0.9.0/24", "203.0.113.7"], "test")
        config = tmp_path / "canhgac.yml"
        config.write_text(yaml.safe_dump(test_settings.model_dump(mode="json")), encoding="utf-8")
        rule = tmp_path / "rule.yml"
        rule.write_text(RULE, encoding="utf-8")
        queries = tmp_path / "queries.jsonl"
        events = tmp_path / "events.ndjson"
        events.write_text(
            "".join(
                json.dumps({"source": {"ip": a}, "canhgac": {"logsource": {"product": "linux", "service": "sshd"}}})
                + "\n"
                for a in ("10.0.9.5", "198.51.100.1", "203.0.113.7")
            ),
            encoding="utf-8",
        )
        base = ["--config", str(config), "sigma"]
        # In a thread: the command runs its own event loop to read the lists.
        converted = await asyncio.to_thread(main, [*base, "convert", "--rules", str(rule), "--output", str(queries)])
        assert converted == 0, capfd.readouterr().err
        [query] = [json.loads(line)["query"] for line in queries.read_text(encoding="utf-8").splitlines()]
        assert "source.ip:10.0.9.0\\/24" in query and "source.ip:203.0.113.7" in query
        capfd.readouterr()
        matched = await asyncio.to_thread(
            main, [*base, "match", "--no-cache", "--rules", str(rule), "--events", str(events)]
        )
        out, err = capfd.readouterr()
        assert matched == 0, err
        assert sorted(json.loads(line)["index"] for line in out.splitlines()) == [0, 2], err
    finally:
        await client.indices.delete(index=cfg.lists_index, ignore=[404])
        await client.close()

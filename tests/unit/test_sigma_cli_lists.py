"""`canhgac sigma convert|match` with rules naming watch lists (canhgac/sigma_lists.py): lists from a
file shaped as the lists API answers them are expanded (convert) or looked up (match); without lists
the rule is refused, saying which list and how to supply it; a bad file says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from canhgac.core.errors import RuleError
from canhgac.core.watchlists import LISTS, WatchList

from canhgac.cli import main
from canhgac.sigma_lists import ListSource

RULE = """title: From a watched address
id: 4f3e2d1c-0b9a-4887-a6b5-c4d3e2f1a0b9
logsource: {product: linux, service: sshd}
detection:
  sel:
    source.ip|expand: '%list:watched%'
  allowed:
    user.name|expand: '%list:accounts%'
  condition: sel and not allowed
"""
PLAIN_RULE = """title: Root login
id: 5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d
logsource: {product: linux, service: sshd}
detection:
  sel: {user.name: root}
  condition: sel
"""
# What `GET /api/v1/lists/NAME` answers (count and the update fields are ignored).
WATCHED = {
    "name": "watched",
    "type": "ip",
    "description": "scanners from the bulletin",
    "values": ["203.0.113.7", "10.0.9.0/24"],
    "count": 2,
    "updated_at": "2026-12-06T20:00:00+00:00",
    "updated_by": "lan",
}
ACCOUNTS = {"name": "accounts", "type": "string", "values": ["Backup"], "count": 1}


@pytest.fixture
def live_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """`match` sets the process's live lists: put them back afterwards."""
    monkeypatch.setattr(LISTS, "_lists", dict(LISTS._lists))
    monkeypatch.setattr(LISTS, "version", LISTS.version)


def write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def event(host: str, address: str, user: str = "deploy") -> dict[str, Any]:
    return {
        "message": f"Accepted password for {user} from {address}",
        "host": {"name": host},
        "user": {"name": user},
        "source": {"ip": address},
        "canhgac": {"logsource": {"product": "linux", "service": "sshd"}},
    }


def convert(tmp_path: Path, *options: str) -> tuple[int, list[dict[str, Any]]]:
    rules = write(tmp_path / "rule.yml", RULE + "---\n" + PLAIN_RULE)
    out = tmp_path / "queries.jsonl"
    code = main(["sigma", "convert", "--rules", rules, "--output", str(out), *options])
    return code, [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_convert_expands_the_lists_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = write(tmp_path / "lists.json", {"items": [WATCHED, ACCOUNTS]})
    code, queries = convert(tmp_path, "--lists", lists)
    assert code == 0
    [listed] = [q["query"] for q in queries if q["title"] == "From a watched address"]
    assert "source.ip:203.0.113.7" in listed and "source.ip:10.0.9.0\\/24" in listed
    assert "user.name.ci:Backup" in listed
    assert "converted 2 queries; 0 rules not convertible" in capsys.readouterr().err


def test_convert_without_lists_refuses_the_rule_naming_the_list_and_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, queries = convert(tmp_path)
    assert code == 0 and [q["title"] for q in queries] == ["Root login"]  # the other rule still converts
    err = capsys.readouterr().err
    assert "not converted\t4f3e2d1c-0b9a-4887-a6b5-c4d3e2f1a0b9" in err
    assert "%list:watched%" in err and "--lists FILE" in err and "--config FILE" in err
    assert "1 rules not convertible" in err


def test_a_list_missing_from_the_file_holds_nothing_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lists = write(tmp_path / "watched.json", WATCHED)  # one list, as GET /api/v1/lists/watched answers
    code, queries = convert(tmp_path, "--lists", lists)
    assert code == 0 and len(queries) == 2
    assert "but not in" in (err := capsys.readouterr().err) and "(they hold nothing): accounts" in err


def match(tmp_path: Path, *options: str) -> int:
    rules = write(tmp_path / "rule.yml", RULE)
    events = [
        event("web01", "203.0.113.7"),  # listed
        event("web02", "10.0.9.5"),  # in a listed network
        event("web03", "198.51.100.1"),  # not listed
        event("web04", "203.0.113.7", user="backup"),  # listed, but an allowed account
    ]
    path = write(tmp_path / "events.ndjson", "\n".join(json.dumps(e) for e in events) + "\n")
    return main(["sigma", "match", "--no-cache", "--rules", rules, "--events", path, *options])


def matched_lines(out: str) -> list[int]:
    return sorted(json.loads(line)["index"] for line in out.splitlines() if line.strip())


@pytest.mark.usefixtures("live_lists")
def test_match_looks_up_the_lists_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = [write(tmp_path / "w.json", [WATCHED]), write(tmp_path / "a.json", ACCOUNTS)]  # repeatable
    code = match(tmp_path, "--lists", lists[0], "--lists", lists[1])
    captured = capsys.readouterr()
    assert code == 0 and "refused" not in captured.err
    assert matched_lines(captured.out) == [0, 1]  # web01 and web02 (line indexes from 0)


@pytest.mark.usefixtures("live_lists")
def test_match_without_lists_refuses_the_rule_naming_its_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = match(tmp_path)
    captured = capsys.readouterr()
    assert code == 0 and captured.out == ""
    assert "refused\t4f3e2d1c-0b9a-4887-a6b5-c4d3e2f1a0b9" in captured.err
    assert "watch lists %list:accounts%, %list:watched%" in captured.err and "--lists FILE" in captured.err
    assert "rules loaded 0, rejected 1" in captured.err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ({"items": [{"name": "watched", "type": "ip", "count": 2}]}, "has no values (`GET /api/v1/lists` names"),
        ({**WATCHED, "values": ["203.0.113.7", "not-an-ip"]}, "1 bad values: not an address or network"),
        ([WATCHED, WATCHED], "list 'watched' is given twice"),
        ({**WATCHED, "name": "Bad Name"}, "a list name is 1-64 characters"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_lists_file_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, says: str
) -> None:
    lists = write(tmp_path / "lists.json", content)
    rules = write(tmp_path / "rule.yml", RULE)
    assert main(["sigma", "convert", "--rules", rules, "--lists", lists]) == 2
    err = capsys.readouterr().err
    assert says in err and str(lists) in err


def test_a_source_whose_loader_fails_is_tried_once_and_refuses_with_its_error() -> None:
    calls: list[int] = []

    def failing() -> dict[str, WatchList]:
        calls.append(1)
        raise RuleError("unreachable", reason="x")

    source = ListSource(failing, origin="the OpenSearch of test-config")
    for _ in range(2):
        with pytest.raises(RuleError, match="cannot read the watch lists from the OpenSearch of test-config"):
            source.get("watched")
    assert calls == [1] and source.error is not None


def test_a_source_reads_its_lists_only_when_a_rule_names_one(tmp_path: Path) -> None:
    calls: list[int] = []

    def load() -> dict[str, WatchList]:
        calls.append(1)
        return {"watched": WatchList(name="watched", type="ip", values=("203.0.113.7",))}

    source = ListSource(load)
    assert calls == []
    assert source.get("watched") is not None and source.get("other") is None
    assert calls == [1] and source.missing == {"other"}


def test_check_counts_the_rules_naming_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = write(tmp_path / "rule.yml", RULE + "---\n" + PLAIN_RULE)
    assert main(["sigma", "check", "--no-cache", rules]) == 0
    out = capsys.readouterr().out
    assert "loaded: 2" in out and "of which naming watch lists: 1 (accounts, watched;" in out

"""Alert grouping: stable ids, counts, replays that change nothing."""

from __future__ import annotations

from dataclasses import dataclass

from canhgac.pipeline.alerts import AlertGrouper


@dataclass
class Rule:
    id: str = "rule-1"
    title: str = "SSH password authentication failed"
    level: str | None = "low"
    author: str | None = "Canhgac SOC"
    tags: tuple[str, ...] = ("attack.t1110",)
    references: tuple[str, ...] = ()
    description: str | None = None


def event(i: int, ts: str = "2026-11-26T03:00:00Z", ip: str = "203.0.113.66", user: str = "root") -> dict:
    return {
        "@timestamp": ts,
        "event": {"id": f"E{i}"},
        "host": {"name": "tthdl-app01"},
        "user": {"name": user},
        "source": {"ip": ip},
        "canhgac": {"agency": "tthdl", "source_id": "s1"},
    }


def test_matches_with_same_key_in_one_window_fold_into_one_alert() -> None:
    grouper = AlertGrouper(window_secs=600)
    alerts = [grouper.add(Rule(), event(i, ts=f"2026-11-26T03:0{i}:00Z")) for i in range(5)]
    assert len({a["id"] for a in alerts}) == 1
    last = alerts[-1]
    assert last["count"] == 5
    assert last["event_ids"] == ["E0", "E1", "E2", "E3", "E4"]
    assert last["first_seen"] == "2026-11-26T03:00:00.000Z"
    assert last["last_seen"] == "2026-11-26T03:04:00.000Z"
    assert last["rule"]["author"] == "Canhgac SOC" and last["severity"] == "low" and last["status"] == "new"


def test_different_key_or_window_makes_a_different_alert() -> None:
    grouper = AlertGrouper(window_secs=600)
    a = grouper.add(Rule(), event(1))
    b = grouper.add(Rule(), event(2, ip="198.51.100.1"))
    c = grouper.add(Rule(), event(3, ts="2026-11-26T03:20:00Z"))
    assert len({a["id"], b["id"], c["id"]}) == 3


def test_redelivered_event_does_not_raise_the_count() -> None:
    grouper = AlertGrouper()
    grouper.add(Rule(), event(1))
    again = grouper.add(Rule(), event(1))
    assert again["count"] == 1


def test_alert_id_is_the_same_after_a_restart() -> None:
    first = AlertGrouper().add(Rule(), event(1))
    second = AlertGrouper().add(Rule(), event(1))
    assert first["id"] == second["id"]


def test_unknown_level_maps_to_medium_and_bad_timestamp_does_not_crash() -> None:
    alert = AlertGrouper().add(Rule(level="weird"), event(1, ts="not a time"))
    assert alert["severity"] == "medium"


# --- tenancy: the agency is part of the alert's identity (issue 10, finding 1) -------------------------


def agency_event(i: int, agency: str) -> dict:
    return {
        "@timestamp": "2026-11-26T03:00:00Z",
        "event": {"id": f"{agency}-E{i}"},
        "host": {"name": "shared-web01"},
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.66"},
        "canhgac": {"agency": agency, "source_id": f"src-{agency}"},
    }


def test_same_attack_in_two_agencies_gives_two_alerts() -> None:
    grouper = AlertGrouper(window_secs=600)
    a = [grouper.add(Rule(), agency_event(i, "so-tttt")) for i in range(3)][-1]
    b = [grouper.add(Rule(), agency_event(i, "so-yte")) for i in range(2)][-1]
    assert a["id"] != b["id"]
    assert (a["agency"], a["count"], a["event_ids"]) == ("so-tttt", 3, ["so-tttt-E0", "so-tttt-E1", "so-tttt-E2"])
    assert (b["agency"], b["count"], b["event_ids"]) == ("so-yte", 2, ["so-yte-E0", "so-yte-E1"])
    assert a["agencies"] == ["so-tttt"] and b["agencies"] == ["so-yte"]

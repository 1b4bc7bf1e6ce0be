"""The service over a real SQLite outbox, fake channels and a manual clock."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from canhgac.core.errors import NotFound
from canhgac.pipeline.notify import AckTokenError, DeliveryError, InvalidAlertError

from tests.unit.notify.support import make_alert

ESCALATING = [
    {
        "name": "oncall",
        "match": {"min_severity": "high"},
        "channels": ["tg-an"],
        "escalation": [
            {"after_mins": 15, "channels": ["tg-lead"]},
            {"after_mins": 45, "channels": ["email-soc"]},
        ],
    },
    {"name": "catch-all", "channels": ["email-soc"]},
]


async def test_alert_is_stored_then_sent_once(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    result = await h.service.handle_alert(make_alert())
    assert (result.outcome, result.placements) == ("routed", {"catch-all": "notified"})
    [pending] = h.service.list_notifications(alert_id="a-ssh-1")
    assert (pending.status, pending.channel, pending.attempts) == ("pending", "email-soc", 0)
    assert h.channels["email-soc"].sent == []  # nothing is sent before run_due

    report = await h.service.run_due()
    assert report.sent == 1
    assert h.channels["email-soc"].subjects == ["[Canhgac][CAO] SSH brute force — Sở TT&TT"]
    [sent] = h.service.list_notifications(alert_id="a-ssh-1", status="sent")
    assert sent.attempts == 1 and sent.sent_at == h.clock.now().timestamp()

    assert (await h.service.handle_alert(make_alert())).outcome == "duplicate"
    assert (
        await h.service.handle_alert(make_alert(count=13, last_seen="2026-11-26T07:01:00.000Z"))
    ).outcome == "updated"
    await h.service.run_due()
    assert len(h.channels["email-soc"].sent) == 1


async def test_invalid_alert_is_refused_with_a_reason(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    with pytest.raises(InvalidAlertError, match="no id"):
        await h.service.handle_alert({"rule": {"id": "x"}})
    with pytest.raises(InvalidAlertError, match=r"no rule\.id"):
        await h.service.handle_alert({"id": "x"})


async def test_escalates_until_acknowledged(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(routes=ESCALATING)
    await h.service.handle_alert(make_alert())
    await h.service.run_due()
    assert len(h.channels["tg-an"].sent) == 1

    h.clock.advance(minutes=14, seconds=59)
    assert (await h.service.run_due()).escalations == 0
    h.clock.advance(seconds=1)
    report = await h.service.run_due()
    assert report.escalations == 1
    assert h.channels["tg-lead"].subjects == ["[Canhgac][CAO][LEO THANG 1] SSH brute force — Sở TT&TT"]

    # The on-call follows the signed link from the first message.
    ack_url = h.channels["tg-an"].sent[0][0].ack_url
    token = parse_qs(urlparse(ack_url).query)["token"][0]
    assert await h.service.acknowledge_token(token, by="an") == ["a-ssh-1"]
    assert await h.service.acknowledge("a-ssh-1", by="an") == []  # already acknowledged

    h.clock.advance(hours=2)
    await h.service.run_due()
    assert h.channels["email-soc"].sent == []
    assert len(h.channels["tg-lead"].sent) == 1


async def test_second_escalation_level_and_status_from_the_topic(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(routes=ESCALATING)
    await h.service.handle_alert(make_alert())
    h.clock.advance(minutes=15)
    await h.service.run_due()  # first notification is sent now; escalation counts from handling time
    h.clock.advance(minutes=30)
    await h.service.run_due()
    assert h.channels["email-soc"].subjects == ["[Canhgac][CAO][LEO THANG 2] SSH brute force — Sở TT&TT"]
    assert len(h.channels["tg-lead"].sent) == 1

    await h.service.handle_alert(make_alert("a-2"))
    assert (await h.service.handle_alert(make_alert("a-2", status="acknowledged"))).outcome == "status_changed"
    h.clock.advance(hours=1)
    await h.service.run_due()
    assert [m.alert_ids for m, _ in h.channels["tg-lead"].sent] == [("a-ssh-1",)]


async def test_acknowledging_cancels_an_escalation_not_yet_sent(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(routes=ESCALATING)
    await h.service.handle_alert(make_alert())
    await h.service.run_due()
    h.channels["tg-lead"].outcomes = [DeliveryError("HTTP 502", retriable=True)]
    h.clock.advance(minutes=15)
    await h.service.run_due()
    [esc] = h.service.list_notifications(alert_id="a-ssh-1", status="retrying")
    await h.service.acknowledge("a-ssh-1", by="an")
    assert h.service.outbox.get(esc.id).status == "cancelled"  # type: ignore[union-attr]
    h.clock.advance(minutes=5)
    await h.service.run_due()
    assert h.channels["tg-lead"].sent == []


async def test_bad_ack_token_and_unknown_alert(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    with pytest.raises(AckTokenError) as err:
        await h.service.acknowledge_token("abc.def", by="x")
    assert err.value.reason in ("malformed", "bad_signature")
    with pytest.raises(NotFound):
        await h.service.acknowledge("nope", by="x")


async def test_grouping_makes_one_message_with_a_count(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(
        routes=[
            {
                "name": "catch-all",
                "channels": ["tg-an"],
                "group_by": ["host.name"],
                "group_window_secs": 300,
                "escalation": [{"after_mins": 10, "channels": ["tg-lead"]}],
            }
        ]
    )
    for i, host in enumerate(["web-01", "web-01", "db-01", "web-01"]):
        result = await h.service.handle_alert(make_alert(f"a-{i}", host=host))
        assert result.placements == {"catch-all": "grouped"}
        h.clock.advance(seconds=60)
    await h.service.run_due()  # 240 s after the first: windows still open
    assert h.channels["tg-an"].sent == []

    h.clock.advance(seconds=60)  # web-01's window (opened at 0 s) closes at 300 s
    report = await h.service.run_due()
    assert report.groups_flushed == 1
    [(message, _)] = h.channels["tg-an"].sent
    assert message.subject == "[Canhgac][CAO] SSH brute force (×3) — Sở TT&TT"
    assert message.alert_ids == ("a-0", "a-1", "a-3")
    h.clock.advance(seconds=120)
    await h.service.run_due()
    assert [m.alert_ids for m, _ in h.channels["tg-an"].sent] == [("a-0", "a-1", "a-3"), ("a-2",)]

    # One acknowledgement covers the grouped message; only db-01 escalates.
    assert sorted(await h.service.acknowledge("a-1", by="an")) == ["a-0", "a-1", "a-3"]
    h.clock.advance(minutes=10)
    await h.service.run_due()
    assert [m.alert_ids for m, _ in h.channels["tg-lead"].sent] == [("a-2",)]


async def test_throttling_holds_the_excess_for_one_summary(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(routes=[{"name": "catch-all", "channels": ["tg-an"], "throttle": {"max_messages": 2, "per_secs": 600}}])
    outcomes = [(await h.service.handle_alert(make_alert(f"a-{i}"))).placements["catch-all"] for i in range(5)]
    assert outcomes == ["notified", "notified", "held:throttled", "held:throttled", "held:throttled"]
    await h.service.run_due()
    assert len(h.channels["tg-an"].sent) == 2

    h.clock.advance(seconds=599)
    await h.service.run_due()
    assert len(h.channels["tg-an"].sent) == 2
    h.clock.advance(seconds=1)
    report = await h.service.run_due()
    assert report.held_released == 1
    summary, _ = h.channels["tg-an"].sent[2]
    assert summary.subject == "[Canhgac] 3 cảnh báo được giữ lại do giới hạn tần suất — catch-all"
    assert summary.alert_ids == ("a-2", "a-3", "a-4")


async def test_quiet_hours_hold_low_severity_for_a_morning_summary(harness) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    h = harness(quiet_hours={"window": {"start": "22:00", "end": "06:00"}, "hold_below": "high"})
    h.clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # 23:00 in Hà Nội
    low = await h.service.handle_alert(make_alert("a-low", severity="low"))
    high = await h.service.handle_alert(make_alert("a-high", severity="high"))
    assert (low.placements, high.placements) == ({"catch-all": "held:quiet"}, {"catch-all": "notified"})
    await h.service.run_due()
    assert h.channels["email-soc"].subjects == ["[Canhgac][CAO] SSH brute force — Sở TT&TT"]

    h.clock.set(datetime(2026, 11, 26, 22, 59, tzinfo=UTC))  # 05:59
    await h.service.run_due()
    assert len(h.channels["email-soc"].sent) == 1
    h.clock.advance(minutes=1)  # 06:00
    await h.service.run_due()
    summary, _ = h.channels["email-soc"].sent[1]
    assert summary.subject == "[Canhgac] 1 cảnh báo được giữ lại trong giờ yên tĩnh — catch-all"
    assert summary.alert_ids == ("a-low",)


async def test_daily_digest_per_agency_once_a_day(harness) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    h = harness(daily_digests=[{"agency": "so-tttt", "channels": ["email-digest"], "at_local_time": "07:30"}])
    h.clock.set(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))  # 07:00 local: before today's digest
    await h.service.handle_alert(make_alert("a-early", severity="medium"))  # belongs to today's digest
    await h.service.run_due()
    assert h.channels["email-digest"].sent == []
    h.clock.set(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))  # 14:00 local
    await h.service.handle_alert(make_alert("a-1", severity="critical"))
    await h.service.handle_alert(make_alert("a-2", severity="low", agency="so-yte"))
    await h.service.acknowledge("a-1", by="an")
    await h.service.run_due()
    [(today, _)] = h.channels["email-digest"].sent
    assert today.subject == "[Canhgac] Tổng hợp cảnh báo ngày 26/11/2026 — Sở TT&TT"
    assert today.alert_ids == ("a-early",)

    h.clock.set(datetime(2026, 11, 27, 0, 29, tzinfo=UTC))  # 07:29 next day
    await h.service.run_due()
    assert len(h.channels["email-digest"].sent) == 1
    h.clock.advance(minutes=1)
    await h.service.run_due()
    await h.service.run_due()
    assert len(h.channels["email-digest"].sent) == 2
    digest, _ = h.channels["email-digest"].sent[1]
    assert digest.alert_ids == ("a-1",)
    assert digest.summary == "1 cảnh báo trong 24 giờ qua, 0 chưa được xác nhận."
    assert [(f.label, f.value) for f in digest.facts] == [("NGHIÊM TRỌNG", "1")]

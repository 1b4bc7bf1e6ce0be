"""Outbox delivery: retries with backoff, permanent failures, failing channels, restarts."""

from __future__ import annotations

import pytest
from canhgac.core.errors import NotFound
from canhgac.pipeline.notify import CHANNEL_FAILING_RULE_ID, DeliveryError

from tests.unit.notify.support import make_alert


def _retriable(msg: str = "HTTP 503") -> DeliveryError:
    return DeliveryError(msg, retriable=True)


async def test_retries_with_exponential_backoff_then_sends(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    mail = h.channels["email-soc"]
    mail.outcomes = [_retriable("HTTP 503"), _retriable("timeout after 10s")]
    await h.service.handle_alert(make_alert())
    report = await h.service.run_due()
    assert (report.sent, report.retrying) == (0, 1)
    [item] = h.service.list_notifications(status="retrying")
    assert (item.attempts, item.last_error) == (1, "HTTP 503")
    assert item.next_attempt_at == h.clock.now().timestamp() + 10

    h.clock.advance(seconds=9)
    await h.service.run_due()
    assert len(mail.attempts) == 1
    h.clock.advance(seconds=1)
    await h.service.run_due()
    assert h.service.outbox.get(item.id).next_attempt_at == h.clock.now().timestamp() + 20  # type: ignore[union-attr]
    h.clock.advance(seconds=20)
    await h.service.run_due()
    assert [d.attempt for _, d in mail.attempts] == [1, 2, 3]
    assert {d.idempotency_key for _, d in mail.attempts} == {item.id}
    assert h.service.outbox.get(item.id).status == "sent"  # type: ignore[union-attr]


async def test_retry_after_is_honoured(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.channels["email-soc"].outcomes = [DeliveryError("HTTP 429", retriable=True, retry_after_secs=45)]
    await h.service.handle_alert(make_alert())
    await h.service.run_due()
    [item] = h.service.list_notifications(status="retrying")
    assert item.next_attempt_at == h.clock.now().timestamp() + 45


async def test_permanent_failure_is_recorded_not_retried(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.channels["email-soc"].outcomes = [DeliveryError("HTTP 400: chat not found", retriable=False)]
    await h.service.handle_alert(make_alert())
    assert (await h.service.run_due()).failed == 1
    [item] = h.service.list_notifications(alert_id="a-ssh-1")
    assert (item.status, item.last_error) == ("failed", "permanent: HTTP 400: chat not found")
    h.clock.advance(hours=1)
    await h.service.run_due()
    assert len(h.channels["email-soc"].attempts) == 1


async def test_gives_up_after_max_attempts(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.channels["email-soc"].outcomes = [_retriable()] * 5
    await h.service.handle_alert(make_alert())
    for _ in range(4):
        await h.service.run_due()
        h.clock.advance(minutes=5)
    [item] = h.service.list_notifications(alert_id="a-ssh-1")
    assert (item.status, item.attempts) == ("failed", 3)
    assert item.last_error == "gave up after 3 attempts: HTTP 503"
    assert item.to_dict()["status"] == "failed"


async def test_a_failing_channel_raises_one_internal_alert_per_streak(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(channel_failing_after_failures=2)
    h.channels["email-soc"].outcomes = [_retriable("cannot connect: refused")] * 3
    for i in range(3):
        await h.service.handle_alert(make_alert(f"a-{i}"))
    report = await h.service.run_due()
    assert report.retrying == 3
    [internal] = report.internal_alerts
    assert h.internal == [internal]
    assert internal["rule"]["id"] == CHANNEL_FAILING_RULE_ID
    assert (internal["severity"], internal["status"], internal["agency"]) == ("high", "new", "soc")
    assert internal["notify"] == {
        "channel": "email-soc",
        "channel_type": "fake",
        "last_error": "cannot connect: refused",
    }
    assert set(internal) >= {"id", "@timestamp", "rule", "first_seen", "last_seen", "count", "event", "host"}

    h.clock.advance(minutes=1)
    await h.service.run_due()  # the channel recovers: the streak ends
    assert h.service.state.channel_failures("email-soc") == 0
    h.channels["email-soc"].outcomes = [_retriable()] * 2
    await h.service.handle_alert(make_alert("a-9"))
    await h.service.handle_alert(make_alert("a-10"))
    h.clock.advance(minutes=1)
    second = (await h.service.run_due()).internal_alerts
    assert len(second) == 1 and second[0]["id"] != internal["id"]


async def test_internal_alert_is_routed_when_no_sink_is_given(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(channel_failing_after_failures=1, routes=[{"name": "catch-all", "channels": ["email-soc", "tg-lead"]}])
    h.service._on_internal_alert = None
    h.channels["email-soc"].outcomes = [DeliveryError("HTTP 401", retriable=False)]
    await h.service.handle_alert(make_alert())
    await h.service.run_due()
    h.clock.advance(seconds=1)
    await h.service.run_due()
    assert h.channels["tg-lead"].subjects[-1] == "[Canhgac][CAO] Kênh thông báo email-soc gửi lỗi liên tục — soc"


async def test_restart_with_pending_messages_delivers_each_exactly_once(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(routes=[{"name": "catch-all", "channels": ["email-soc", "tg-an"]}])
    for i in range(3):
        await h.service.handle_alert(make_alert(f"a-{i}"))
    await h.restart()
    # Kafka redelivers what was not committed: the new instance must not enqueue again.
    assert (await h.service.handle_alert(make_alert("a-2"))).outcome == "duplicate"
    await h.service.run_due()
    await h.restart()
    await h.service.run_due()
    h.clock.advance(hours=1)
    await h.service.run_due()
    assert len(h.ledger) == 6 and len(set(h.ledger)) == 6
    assert {ch for ch, _ in h.ledger} == {"email-soc", "tg-an"}


async def test_crash_between_send_and_mark_resends_with_the_same_key(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    await h.service.handle_alert(make_alert())
    # The process claims the row, the channel takes it, and the process dies before marking it.
    [claimed] = h.service.outbox.claim_due(h.clock.now().timestamp(), lease_secs=120)
    assert h.service.outbox.get(claimed.id).status == "sending"  # type: ignore[union-attr]
    await h.restart()
    await h.service.run_due()
    assert h.channels["email-soc"].attempts == []  # lease not over: maybe another live instance owns it
    h.clock.advance(seconds=120)
    await h.service.run_due()
    [(_, delivery)] = h.channels["email-soc"].sent
    assert (delivery.idempotency_key, delivery.attempt) == (claimed.id, 2)
    assert h.service.outbox.get(claimed.id).status == "sent"  # type: ignore[union-attr]


async def test_send_test_goes_through_the_outbox_once(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    record = await h.service.send_test("tg-an")
    assert (record.status, record.kind, record.attempts) == ("sent", "test", 1)
    assert h.channels["tg-an"].subjects == ["[Canhgac] Thử kênh thông báo tg-an"]

    h.channels["tg-an"].outcomes = [_retriable("cannot connect: refused")]
    failed = await h.service.send_test("tg-an")
    assert (failed.status, failed.last_error) == (
        "failed",
        "gave up after 1 attempts: cannot connect: refused",
    )
    h.clock.advance(hours=1)
    await h.service.run_due()
    assert len(h.channels["tg-an"].attempts) == 2
    with pytest.raises(NotFound, match="unknown channel 'nope'"):
        await h.service.send_test("nope")


async def test_outbox_uses_wal_and_refuses_unknown_status(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    assert h.service.outbox.db.journal_mode() == "wal"
    with pytest.raises(ValueError, match="unknown status"):
        h.service.list_notifications(status="lost")


async def test_old_rows_are_pruned_after_retention(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(retention_days=30)
    await h.service.handle_alert(make_alert())
    await h.service.run_due()
    h.clock.advance(days=29)
    await h.service.run_due()
    assert len(h.service.list_notifications()) == 1
    h.clock.advance(days=2)
    await h.service.run_due()
    assert h.service.list_notifications() == []
    assert h.service.state.alert("a-ssh-1") is None


async def test_agency_sees_only_notifications_about_its_own_alerts_newest_first(harness) -> None:  # type: ignore[no-untyped-def]
    # Found by trying the product: the API filtered agency viewers on an `agency` field that outbox
    # records never had (an agency saw nothing), and cut the newest records past the limit.
    h = harness()
    await h.service.handle_alert(make_alert("a-1"))
    h.clock.advance(minutes=1)
    await h.service.handle_alert(make_alert("a-other", agency="ubnd-huyen", host="other-host", rule_id="r2"))
    h.clock.advance(minutes=1)
    await h.service.handle_alert(make_alert("a-2", host="mc-web-02", rule_id="r3"))
    await h.service.send_test("tg-an")
    mine = h.service.list_notifications(agency="so-tttt")
    assert mine and {a for r in mine for a in r.message.alert_ids} == {"a-1", "a-2"}
    assert [r.created_at for r in mine] == sorted((r.created_at for r in mine), reverse=True)
    assert {a for r in h.service.list_notifications(agency="ubnd-huyen") for a in r.message.alert_ids} == {"a-other"}
    everything = h.service.list_notifications()
    assert any(r.kind == "test" for r in everything)  # the SOC sees test sends; agencies do not
    assert not any(r.kind == "test" for r in mine)
    newest = h.service.list_notifications(limit=1)
    assert newest[0].created_at == max(r.created_at for r in everything)

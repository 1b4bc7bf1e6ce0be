"""A "channel failing" alert the sink refused (Kafka down) is handed over again on the next run:
the channel's streak is marked alerted when the alert is made, and would not raise it again."""

from __future__ import annotations

import contextlib
from typing import Any

from canhgac.core.errors import BackendUnavailable
from canhgac.pipeline.notify import CHANNEL_FAILING_RULE_ID, DeliveryError

from tests.unit.notify.support import make_alert


async def test_a_channel_failing_alert_the_sink_refused_is_published_on_the_next_run(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(channel_failing_after_failures=2)
    h.channels["email-soc"].outcomes = [DeliveryError("cannot connect: refused", retriable=True)] * 4
    published: list[dict[str, Any]] = []
    refusals = [BackendUnavailable("Kafka produce to canhgac.alerts.v1 failed: broker down")]

    async def flaky_sink(alert: dict[str, Any]) -> None:
        if refusals:
            raise refusals.pop()
        published.append(alert)

    h.service._on_internal_alert = flaky_sink
    for i in range(2):
        await h.service.handle_alert(make_alert(f"a-{i}"))
    # The streak reaches 2: the alert is made, the sink refuses it. (The notifier stage logs a run
    # that raises and runs again: pipeline/notifier.py, _run_due.)
    with contextlib.suppress(BackendUnavailable):
        await h.service.run_due()
    assert published == [] and h.service.state.channel_failures("email-soc") == 2
    h.clock.advance(seconds=1)
    await h.service.run_due()  # nothing due on the channel yet: the alert alone is handed over again
    (alert,) = published
    assert alert["rule"]["id"] == CHANNEL_FAILING_RULE_ID and alert["notify"]["channel"] == "email-soc"
    h.clock.advance(minutes=5)
    await h.service.run_due()  # the channel fails again, same streak
    assert published == [alert], "an alert the sink took is not handed over again"

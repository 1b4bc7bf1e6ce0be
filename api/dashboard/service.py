from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from canhgac.api.alerts.service import AGENCY_FIELD as ALERT_AGENCY
from canhgac.api.events.service import AGENCY_FIELD as EVENT_AGENCY
from canhgac.api.events.service import events_pattern
from canhgac.api.query_guard import histogram_interval
from canhgac.api.search import date_histogram, scope_filter, top_values
from canhgac.core.config import Settings
from opensearchpy import AsyncOpenSearch


def _window(field: str, start: datetime, end: datetime, agency_field: str, agency: str | None) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"range": {field: {"gte": start.isoformat(), "lte": end.isoformat()}}},
                *scope_filter(agency_field, agency),
            ]
        }
    }


async def dashboard(
    client: AsyncOpenSearch, settings: Settings, start: datetime, end: datetime, agency: str | None
) -> dict[str, Any]:
    interval = histogram_interval(start, end, min(settings.api.max_buckets, 48), None)
    alerts_index = settings.opensearch.alerts_index
    alerts_query = _window("@timestamp", start, end, ALERT_AGENCY, agency)
    events_query = _window("@timestamp", start, end, EVENT_AGENCY, agency)
    by_severity, by_status, rules, hosts, ingestion = await asyncio.gather(
        date_histogram(
            client,
            alerts_index,
            query=alerts_query,
            time_field="@timestamp",
            start=start,
            end=end,
            interval_secs=interval,
            split_field="severity",
        ),
        top_values(client, alerts_index, query=alerts_query, field="status", size=4),
        top_values(client, alerts_index, query=alerts_query, field="rule.title", size=10),
        top_values(client, alerts_index, query=alerts_query, field="host.name", size=10),
        date_histogram(
            client,
            events_pattern(settings),
            query=events_query,
            time_field="@timestamp",
            start=start,
            end=end,
            interval_secs=interval,
            split_field="canhgac.source_id",
        ),
    )
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "alerts_by_severity": by_severity,
        "alerts_by_status": by_status,
        "top_rules": rules,
        "top_hosts": hosts,
        "ingestion_by_source": ingestion,
    }

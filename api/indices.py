"""The API's own indices: users, sessions and tokens, rule exceptions, uploaded and disabled rules,
sources declared through the API, and the audit log.

They get explicit mappings through index templates, so even an index auto-created by a first write
has the right types. Secrets are never stored: passwords as argon2 hashes, session and token
values as SHA-256 digests (the document id).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from canhgac.api.audit.chain import anchors_index
from canhgac.api.cases.service import ensure_cases_template
from canhgac.api.compliance.service import coverage_index
from canhgac.api.intel.service import ensure_intel_templates
from canhgac.api.saved_searches.service import saved_searches_index
from canhgac.api.saved_views.service import ensure_saved_views_index
from canhgac.core.config import OpenSearchConfig
from canhgac.core.index import create_index, translated
from canhgac.core.receipts import receipts_index
from canhgac.core.systems import systems_index
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

_KW = {"type": "keyword"}
_DATE = {"type": "date"}
# Replicas come from the settings (`opensearch.number_of_replicas`, see `api_templates`).
_SETTINGS = {"number_of_shards": 1, "refresh_interval": "1s"}


def _template(pattern: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "index_patterns": [pattern],
        "priority": 210,
        "template": {
            "settings": _SETTINGS,
            "mappings": {"dynamic": False, "properties": properties},
        },
    }


def api_templates(cfg: OpenSearchConfig) -> dict[str, dict[str, Any]]:
    templates = {
        cfg.users_index: _template(
            cfg.users_index,
            {
                "username": _KW,
                "role": _KW,
                "agency": _KW,
                "display_name": _KW,
                "password_hash": {"type": "keyword", "index": False},
                "disabled": {"type": "boolean"},
                "created_at": _DATE,
                "updated_at": _DATE,
                "created_by": _KW,
            },
        ),
        cfg.sessions_index: _template(
            cfg.sessions_index,
            {
                "kind": _KW,
                "username": _KW,
                "name": _KW,
                "csrf": {"type": "keyword", "index": False},
                "created_at": _DATE,
                "expires_at": _DATE,
            },
        ),
        cfg.exceptions_index: _template(
            cfg.exceptions_index,
            {
                "id": _KW,
                "rule_id": _KW,
                # Read whole by the detector, never searched on.
                "conditions": {"type": "object", "enabled": False},
                "reason": {"type": "text"},
                "author": _KW,
                "created_at": _DATE,
                "updated_at": _DATE,
                "updated_by": _KW,
                "expires_at": _DATE,
                # Agency requests (issue 16): requested → approved / rejected.
                "state": _KW,
                "agency": _KW,
                "requested_by": _KW,
                "decided_by": _KW,
                "decided_at": _DATE,
            },
        ),
        cfg.rules_index: _template(
            cfg.rules_index,
            {
                "rule_id": _KW,
                "enabled": {"type": "boolean"},
                "yaml": {"type": "keyword", "index": False, "doc_values": False},
                "title": _KW,
                "uploaded_by": _KW,
                "updated_by": _KW,
                "created_at": _DATE,
                "updated_at": _DATE,
            },
        ),
        cfg.source_configs_index: _template(
            cfg.source_configs_index,
            {
                "id": _KW,
                "agency": _KW,
                "format": _KW,
                "transports": _KW,
                "allowed_addresses": _KW,
                "security_level": {"type": "integer"},
                "expected_interval_secs": {"type": "long"},
                "timezone": _KW,
                "ingest_key_sha256": {"type": "keyword", "index": False},
                "created_at": _DATE,
                "updated_at": _DATE,
                "created_by": _KW,
                "key_rotated_at": _DATE,
            },
        ),
        cfg.intel_feeds_index: _template(
            cfg.intel_feeds_index,
            {
                "id": _KW,
                "kind": _KW,
                "agency": _KW,
                "enabled": {"type": "boolean"},
                "created_at": _DATE,
                "last_attempt_at": _DATE,
                "last_success_at": _DATE,
                # Read whole (never searched on): credentials, cursor, status.
                "password": {"type": "keyword", "index": False, "doc_values": False},
                "headers": {"type": "object", "enabled": False},
            },
        ),
        cfg.audit_index: _template(
            cfg.audit_index,
            {
                "id": _KW,
                "@timestamp": _DATE,
                "actor": {"properties": {"username": _KW, "role": _KW, "agency": _KW, "via": _KW}},
                "action": _KW,
                "outcome": _KW,
                "target": {"properties": {"type": _KW, "id": _KW}},
                "client": {"properties": {"ip": _KW}},
                "details": {"type": "object", "enabled": False},
                # The hash chain (api/audit/chain.py): one per tenant, ordered by seq.
                "tenant": _KW,
                "seq": {"type": "long"},
                "prev_hash": {"type": "keyword", "index": False},
                "hash": _KW,
            },
        ),
        systems_index(cfg): _template(
            systems_index(cfg),
            {
                "id": _KW,
                "name": _KW,
                "agency": _KW,
                "security_level": {"type": "integer"},
                "criticality": _KW,
                "hosts": _KW,
                "sources": _KW,
                "contacts": {"type": "object", "enabled": False},
                "description": {"type": "text"},
                "created_at": _DATE,
                "created_by": _KW,
                "updated_at": _DATE,
                "updated_by": _KW,
            },
        ),
        anchors_index(cfg.audit_index): _template(
            anchors_index(cfg.audit_index),
            {
                "id": _KW,
                "tenant": _KW,
                "day": _KW,
                "seq": {"type": "long"},
                "hash": _KW,
                "anchored_at": _DATE,
                "key_id": _KW,
                "signature": {"type": "keyword", "index": False},
            },
        ),
        receipts_index(cfg): _template(
            receipts_index(cfg),
            {
                "id": _KW,
                "source_id": _KW,
                "agency": _KW,
                "day": _KW,
                "timezone": _KW,
                "count": {"type": "long"},
                "first_ingested": _DATE,
                "last_ingested": _DATE,
                "chain_head": _KW,
                "algorithm": _KW,
                "sealed_at": _DATE,
                "key_id": _KW,
                "signature": {"type": "keyword", "index": False},
            },
        ),
        coverage_index(cfg): _template(
            coverage_index(cfg),
            {
                # kind "state": one system's coverage; kind "alert": the claim of one raised alert.
                "kind": _KW,
                "system_id": _KW,
                "agency": _KW,
                "name": _KW,
                "security_level": {"type": "integer"},
                "category": _KW,
                "alert_id": _KW,
                "missing_since": _KW,
                "watched_since": _DATE,
                "raised_at": _DATE,
                "cleared_at": _DATE,
                "updated_at": _DATE,
            },
        ),
        saved_searches_index(cfg): _template(
            saved_searches_index(cfg),
            {
                "id": _KW,
                "name": _KW,
                "owner": _KW,
                "team": _KW,
                "shared": {"type": "boolean"},
                "target": _KW,
                "created_at": _DATE,
            },
        ),
    }
    for template in templates.values():
        template["template"]["settings"] = {**_SETTINGS, "number_of_replicas": cfg.number_of_replicas}
    return templates


async def ensure_api_indices(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:

    async def template_and_index(name: str, template: dict[str, Any]) -> None:
        with translated():
            await client.indices.put_index_template(name=name, body=template)
        await create_index(client, name)

    # Concurrently: the cluster manager batches the index creations (one by one, ~20 round trips
    # through a cluster-state update each, an API's first request waited seconds).
    await asyncio.gather(
        *(template_and_index(name, template) for name, template in api_templates(cfg).items()),
        ensure_intel_templates(client, cfg),
        ensure_cases_template(client, cfg),
        ensure_saved_views_index(client, cfg),
    )
    # An audit index made before the hash chain gets its fields (adding fields is always allowed);
    # so does an exceptions index made before agency requests.
    for name in (cfg.exceptions_index,):
        with translated():
            await client.indices.put_mapping(
                index=name, body={"properties": api_templates(cfg)[name]["template"]["mappings"]["properties"]}
            )
    with translated():
        await client.indices.put_mapping(
            index=cfg.audit_index,
            body={"properties": api_templates(cfg)[cfg.audit_index]["template"]["mappings"]["properties"]},
        )

"""OpenSearch: client, index names and the templates that give events their ECS mappings.

Strings map to `keyword` (exact, aggregatable) with a `ci` sub-field that is lower-cased, so Sigma
queries (case-insensitive by the specification) can run against `<field>.ci`. `message` and
`log.original` are also full text, folded to ASCII so "dang nhap" finds "đăng nhập" and back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from canhgac.core.config import Component, OpenSearchConfig
from canhgac.core.errors import ConfigError
from canhgac.core.index import create_index, translated
from opensearchpy import AsyncOpenSearch

_KEYWORD_MAX_CHARS = 8191

ANALYSIS: dict[str, Any] = {
    "normalizer": {"ci": {"type": "custom", "filter": ["lowercase"]}},
    "analyzer": {"folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}},
}

_STRING_AS_KEYWORD: dict[str, Any] = {
    "strings": {
        "match_mapping_type": "string",
        "mapping": {
            "type": "keyword",
            "ignore_above": _KEYWORD_MAX_CHARS,
            "fields": {"ci": {"type": "keyword", "normalizer": "ci", "ignore_above": _KEYWORD_MAX_CHARS}},
        },
    }
}

_FULL_TEXT: dict[str, Any] = {
    "type": "text",
    "analyzer": "folded",
    "fields": {
        "keyword": {"type": "keyword", "ignore_above": _KEYWORD_MAX_CHARS},
        "ci": {"type": "keyword", "normalizer": "ci", "ignore_above": _KEYWORD_MAX_CHARS},
    },
}

# The ECS fields whose type is not "string": dynamic mapping would guess these wrong.
EVENT_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "message": _FULL_TEXT,
    "log": {"properties": {"original": _FULL_TEXT}},
    "event": {
        "properties": {
            "ingested": {"type": "date"},
            "created": {"type": "date"},
            "severity": {"type": "long"},
            "duration": {"type": "long"},
        }
    },
    "source": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}, "bytes": {"type": "long"}}},
    "destination": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}, "bytes": {"type": "long"}}},
    "client": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
    "server": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
    "host": {"properties": {"ip": {"type": "ip"}}},
    "http": {
        "properties": {
            "response": {
                "properties": {
                    "status_code": {"type": "long"},
                    "body": {"properties": {"bytes": {"type": "long"}}},
                    "bytes": {"type": "long"},
                }
            },
            "request": {"properties": {"bytes": {"type": "long"}}},
        }
    },
    "process": {"properties": {"pid": {"type": "long"}}},
    # Windows event data is free-form per EventID; keep every value a string so one event's number
    # never breaks the mapping for another event's text in the same field.
    "winlog": {
        "properties": {
            "event_id": {"type": "keyword", "fields": {"ci": {"type": "keyword", "normalizer": "ci"}}},
            "event_data": {"type": "object", "dynamic": True},
        }
    },
}


def events_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    """The template of every event data stream (`<index_prefix>.<dataset>-default`)."""
    return {
        "index_patterns": [f"{cfg.index_prefix}.*-*"],
        "data_stream": {},
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": cfg.number_of_shards,
                "number_of_replicas": cfg.number_of_replicas,
                "refresh_interval": "1s",
                "mapping.total_fields.limit": 5000,
                "mapping.ignore_malformed": True,
                "analysis": ANALYSIS,
            },
            "mappings": {
                "dynamic_templates": [
                    {
                        "winlog_data_as_string": {
                            "path_match": "winlog.event_data.*",
                            "mapping": {
                                "type": "keyword",
                                "fields": {
                                    "ci": {
                                        "type": "keyword",
                                        "normalizer": "ci",
                                        "ignore_above": _KEYWORD_MAX_CHARS,
                                    }
                                },
                                "ignore_above": _KEYWORD_MAX_CHARS,
                            },
                        }
                    },
                    _STRING_AS_KEYWORD,
                ],
                "properties": EVENT_PROPERTIES,
            },
        },
    }


def alerts_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    # One shard: alerts are few next to events; replicas as every other Canhgac index.
    return {
        "index_patterns": [cfg.alerts_index],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": cfg.number_of_replicas,
                "refresh_interval": "1s",
                "mapping.ignore_malformed": True,
                "analysis": ANALYSIS,
            },
            "mappings": {
                "dynamic_templates": [_STRING_AS_KEYWORD],
                "properties": {
                    "@timestamp": {"type": "date"},
                    "first_seen": {"type": "date"},
                    "last_seen": {"type": "date"},
                    "count": {"type": "long"},
                    "severity_score": {"type": "long"},
                    # The event snapshot is shown, not searched: keep its fields out of the mapping.
                    "event": {"type": "object", "enabled": False},
                    "source": {"properties": {"ip": {"type": "ip"}}},
                },
            },
        },
    }


def sources_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    """The source health statistics index, created by its first write: only its copies matter."""
    return {
        "index_patterns": [cfg.sources_index],
        "priority": 200,
        "template": {"settings": {"number_of_shards": 1, "number_of_replicas": cfg.number_of_replicas}},
    }


def events_index(prefix: str, dataset: str) -> str:
    """The data stream of one dataset, e.g. logs-canhgac.linux.auth-default."""
    safe = "".join(c if c.isalnum() or c in "._" else "_" for c in (dataset or "generic").lower())
    return f"{prefix}.{safe}-default"


def make_client(cfg: OpenSearchConfig, *, component: Component) -> AsyncOpenSearch:
    """A client acting as `component`: its own user when `credentials` names one, else the shared
    username/password, else none (a cluster without the security plugin)."""
    credential = cfg.credentials.get(component)
    auth: tuple[str, str] | None = None
    if credential is not None:
        auth = (credential.username, credential.secret())
    elif cfg.username and cfg.password:
        auth = (cfg.username, cfg.password)
    elif cfg.credentials:
        # Per-component users are configured, just not this one: never fall back to anonymous.
        raise ConfigError(f"no OpenSearch credentials for the {component} component", where="opensearch.credentials")
    return AsyncOpenSearch(
        # A comma-separated url lists several nodes: a request that fails on one marks it dead and
        # the next goes to another (the local cluster, deploy/local/cluster.sh, lists all three).
        hosts=[u.strip() for u in cfg.url.split(",") if u.strip()],
        http_auth=auth,
        verify_certs=cfg.verify_certs,
        ca_certs=cfg.ca_file,
        timeout=cfg.timeout_secs,
        max_retries=0,  # retries are ours, per failed item, with backoff
        http_compress=False,
    )


async def ensure_templates(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    # Template names follow the configured names, so separate deployments (or test runs) that
    # share one cluster never overwrite each other's templates.
    with translated():
        await client.indices.put_index_template(name=cfg.index_prefix, body=events_template(cfg))
        await client.indices.put_index_template(name=cfg.alerts_index, body=alerts_template(cfg))
        await client.indices.put_index_template(name=cfg.sources_index, body=sources_template(cfg))
    await create_index(client, cfg.alerts_index)


async def opensearch_reachable(client: AsyncOpenSearch) -> bool:
    try:
        health = await asyncio.wait_for(client.cluster.health(), timeout=3)
        return health.get("status") in ("green", "yellow")
    except Exception:  # any failure means "not ready"; the probe reports, it does not raise
        return False

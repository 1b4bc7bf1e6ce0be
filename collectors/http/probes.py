"""Answers to what Elasticsearch clients ask before they send (version, licence, templates, ILM …).

Filebeat/Winlogbeat check the version, licence/X-Pack, index templates and ILM policies; Logstash
checks the version and the `X-Elastic-Product` header; Vector's health check reads
`/_cluster/health`; Fluent Bit and NXLog only post `_bulk`. Canhgac keeps no templates or
policies of theirs: it says they exist (HEAD 200, GET a plausible body, PUT acknowledged), so
shippers go on to send without being reconfigured.
"""

from __future__ import annotations

from typing import Any

CLUSTER = "canhgac"


def root_document(version: str) -> dict[str, Any]:
    return {
        "name": "canhgac-ingest",
        "cluster_name": CLUSTER,
        "cluster_uuid": "Y2FuaGdhYy1pbmdlc3Q",
        "version": {
            "number": version,
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": "canhgac",
            "build_date": "2024-01-01T00:00:00.000Z",
            "build_snapshot": False,
            "lucene_version": "8.11.1",
            "minimum_wire_compatibility_version": "6.8.0",
            "minimum_index_compatibility_version": "6.0.0-beta1",
        },
        "tagline": "You Know, for Search",
    }


def probe_answer(method: str, path: str, version: str) -> dict[str, Any] | list[Any] | str:
    parts = [p for p in path.split("/") if p]
    head = parts[0] if parts else ""
    name = parts[-1] if len(parts) > 1 else ""
    if method in ("PUT", "POST", "DELETE"):
        return {"acknowledged": True}
    if head == "_license":
        return {
            "license": {
                "status": "active",
                "uid": "canhgac",
                "type": "basic",
                "issue_date_in_millis": 0,
                "max_nodes": 1000,
                "issued_to": CLUSTER,
                "issuer": CLUSTER,
                "start_date_in_millis": -1,
            }
        }
    if head == "_xpack":
        feature = {"available": True, "enabled": True}
        return {
            "build": {"hash": "canhgac", "date": "2024-01-01T00:00:00.000Z"},
            "license": {"uid": "canhgac", "type": "basic", "mode": "basic", "status": "active"},
            "features": {
                "ilm": feature,
                "security": {"available": True, "enabled": True},
                "monitoring": feature,
            },
        }
    if head == "_cluster":
        return {
            "cluster_name": CLUSTER,
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": 0,
            "active_shards": 0,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
        }
    if head == "_cat":
        return []
    if head == "_nodes":
        return {
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": CLUSTER,
            "nodes": {"canhgac": {"name": "canhgac-ingest", "version": version, "ingest": {"processors": []}}},
        }
    if head == "_ilm":
        return {
            name or "policy": {
                "version": 1,
                "modified_date": "2024-01-01T00:00:00.000Z",
                "policy": {"phases": {"hot": {"min_age": "0ms", "actions": {}}}},
            }
        }
    if head == "_index_template":
        return {
            "index_templates": [
                {
                    "name": name,
                    "index_template": {
                        "index_patterns": [f"{name}*"],
                        "template": {},
                        "composed_of": [],
                        "data_stream": {},
                    },
                }
            ]
        }
    if head == "_template":
        return {name: {"order": 1, "index_patterns": [f"{name}*"], "settings": {}, "mappings": {}, "aliases": {}}}
    if head == "_data_stream":
        return {
            "data_streams": [
                {
                    "name": name,
                    "status": "GREEN",
                    "template": name,
                    "timestamp_field": {"name": "@timestamp"},
                    "indices": [],
                }
            ]
        }
    if head == "_ingest":
        return {name: {"processors": []}} if name else {}
    if head == "_alias" or (len(parts) > 1 and parts[1] == "_alias"):
        return {name: {"aliases": {}}}
    return {}

"""The detector and the API decide the rules in service the same way (canhgac.rules.ruleset).

Both are fed the same rule files and the same config documents (uploads, disabled ids); what the
detector runs must be exactly what the rules page lists as enabled, and both must report the same
rejections — for duplicates, disabled rules, uploads, and a file broken by an edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from canhgac.api.rules.service import load_library
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage
from canhgac.rules.ruleset import build_ruleset, rule_config_from_docs, upload_compiler


def rule(rule_id: str, title: str, needle: str = "x") -> str:
    return f"""
title: {title}
id: {rule_id}
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{message|contains: '{needle}'}}
  condition: sel
"""


A = "0a6f3f54-0000-4000-8000-00000000000a"
B = "0a6f3f54-0000-4000-8000-00000000000b"
C = "0a6f3f54-0000-4000-8000-00000000000c"
UP = "0a6f3f54-0000-4000-8000-0000000000f1"
UP_BROKEN = "0a6f3f54-0000-4000-8000-0000000000f2"

DOCS: list[dict[str, Any]] = [
    {"id": UP, "yaml": rule(UP, "Uploaded rule", "svc_"), "enabled": True},
    # An upload whose id a file took later: the file wins, the upload is rejected as a duplicate.
    {"id": A, "yaml": rule(A, "Upload shadowed by a file"), "enabled": True},
    {"id": UP_BROKEN, "yaml": "title: broken\nid: " + UP_BROKEN + "\ndetection: {condition: nope}\n"},
    {"id": B, "enabled": False},
]


def settings_for(folder: Path) -> Settings:
    return Settings(rules={"paths": [str(folder)], "include_bundled_packs": False})


def detector_view(settings: Settings, docs: list[dict[str, Any]], stage: DetectorStage | None = None):
    stage = stage or DetectorStage(settings.kafka, settings.pipeline, settings.rules, Metrics())
    stage.config = rule_config_from_docs(docs)
    stage._loaded = None  # force a rebuild with the new config
    assert stage.reload_if_changed() or stage.engine is not None
    assert stage.load_result is not None
    running = {r.meta.id for r in stage.load_result.rules}
    running |= {str(c.id) for c in stage.load_result.correlation_rules}
    rejected = {(r.path, r.rule_id, r.reason) for r in stage.load_result.rejected}
    return stage, running, rejected


def api_view(settings: Settings, docs: list[dict[str, Any]]):
    listed = load_library(settings, docs)
    enabled = {i["id"] for i in listed["items"] if i["enabled"]}
    everything = {i["id"] for i in listed["items"]}
    rejected = {(r["path"], r["rule_id"], r["reason"]) for r in listed["rejected"]}
    return enabled, everything, rejected


def test_detector_and_api_agree_on_duplicates_disabled_uploads_and_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.yml").write_text(rule(A, "Rule A"))
    (folder / "b.yml").write_text(rule(B, "Rule B"))
    (folder / "c.yml").write_text(rule(C, "Rule C"))
    (folder / "z_duplicate.yml").write_text(rule(A, "Second file with A's id"))
    settings = settings_for(folder)

    stage, running, detector_rejected = detector_view(settings, DOCS)
    enabled, everything, api_rejected = api_view(settings, DOCS)
    assert running == enabled == {A, C, UP}
    assert B in everything and B not in enabled  # disabled: listed, not run
    assert detector_rejected == api_rejected
    reasons = {(Path(p).name if not p.startswith("uploaded:") else p, rid, why) for p, rid, why in api_rejected}
    assert ("z_duplicate.yml", A, "duplicate id") in reasons
    assert (f"uploaded:{A}", A, "duplicate id") in reasons
    assert any(p == f"uploaded:{UP_BROKEN}" for p, _, _ in reasons)

    # A bad edit to a file: both keep its previous rules in service and both report why.
    (folder / "c.yml").write_text("title: [unclosed\n")
    stage, running, detector_rejected = detector_view(settings, DOCS, stage)
    enabled, _, api_rejected = api_view(settings, DOCS)
    assert running == enabled == {A, C, UP}
    assert detector_rejected == api_rejected
    assert any(p.endswith("c.yml") and why == "invalid YAML" for p, _, why in api_rejected)

    # Fixed and re-enabled: the same answer again on both sides.
    (folder / "c.yml").write_text(rule(C, "Rule C again"))
    docs = [d for d in DOCS if d["id"] != B]
    _, running, detector_rejected = detector_view(settings, docs, stage)
    enabled, _, api_rejected = api_view(settings, docs)
    assert running == enabled == {A, B, C, UP}
    assert detector_rejected == api_rejected


def test_first_id_wins_in_path_order(tmp_path: Path) -> None:
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir()
    second.mkdir()
    (first / "r.yml").write_text(rule(A, "From the first folder"))
    (second / "r.yml").write_text(rule(A, "From the second folder"))
    from canhgac.rules.loader import load_rules

    files = load_rules([first, second])
    ruleset = build_ruleset(list(files.files.values()), rule_config_from_docs([]), upload_compiler(None))
    assert [r.meta.title for r in ruleset.rules] == ["From the first folder"]
    assert [(r.rule_id, r.reason) for r in ruleset.rejected] == [(A, "duplicate id")]

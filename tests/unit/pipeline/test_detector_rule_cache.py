"""The detector keeps its compiled rules in <data_dir>/rules-cache: a restart reads them back."""

from __future__ import annotations

from pathlib import Path

from canhgac.core.config import RulesConfig, Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage

EVENT = {
    "message": "Failed password for scanner from 203.0.113.50 port 41000 ssh2",
    "source": {"ip": "203.0.113.50"},
    "canhgac": {"logsource": {"product": "linux", "service": "sshd"}},
}


def _stage(data_dir: Path, rules: RulesConfig) -> DetectorStage:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, rules, Metrics(), data_dir=data_dir)
    stage.reload_if_changed()
    return stage


def test_a_restarted_detector_reads_its_rules_from_the_cache(tmp_path: Path) -> None:
    first = _stage(tmp_path, RulesConfig())
    assert first.rule_cache is not None and first.rule_cache.directory == tmp_path / "rules-cache"
    assert first.rule_cache.hits == 0 and first.rule_cache.misses > 0
    expected = [m.id for m in first.engine.match(EVENT)]  # type: ignore[union-attr]
    assert expected

    assert first.library is not None
    correlation_files = sum(1 for f in first.library.file_results() if f.correlation_rules)  # never cached
    restarted = _stage(tmp_path, RulesConfig())
    assert restarted.rule_cache is not None and restarted.rule_cache.misses == correlation_files
    assert restarted.rule_cache.hits == first.rule_cache.misses - correlation_files > 10
    assert [m.id for m in restarted.engine.match(EVENT)] == expected  # type: ignore[union-attr]


def test_the_cache_folder_and_switch_are_settings(tmp_path: Path) -> None:
    stage = _stage(tmp_path, RulesConfig(compiled_cache_dir=str(tmp_path / "elsewhere")))
    assert stage.rule_cache is not None and stage.rule_cache.directory == tmp_path / "elsewhere"
    assert list((tmp_path / "elsewhere").glob("rules-*.cache"))
    off = _stage(tmp_path / "off", RulesConfig(compiled_cache=False))
    assert off.rule_cache is None and not (tmp_path / "off" / "rules-cache").exists()

"""The rules in service, decided in one place for the detector and the API.

Inputs: the compiled rule files (bundled packs first, then `rules.paths` in order, as RuleLibrary
keeps them), the analysts' configuration (uploaded rules, disabled ids, exceptions; stored by the
API in OpenSearch config indices, see `RuleConfig`) and the placeholders the uploads compile with.
Output: a `RuleSet` — the rules the detector runs, every rule with its origin and whether it is
enabled (what the rules page lists), and every rejection with its reason.

Precedence, written once:
- the first rule with an id wins; a later rule with the same id (in a later file, or an upload
  whose id a file took after it was uploaded) is rejected as "duplicate id", so two rules can never
  answer to one id;
- files before uploads; uploads in id order;
- a disabled id is listed (enabled: false) but not run; an exception applies to its rule only.

`build_ruleset` is pure: the detector and the API call it with the same inputs and so agree by
construction (tests/unit/rules/test_ruleset.py feeds both the same inputs).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from canhgac.core.config import RulesConfig
from canhgac.rules.exceptions import ExceptionSet, RuleException
from canhgac.rules.loader import FileResult, Placeholders, Rejection, load_text
from canhgac.rules.model import CompiledRule

log = logging.getLogger(__name__)

BUNDLED_PACKS = Path(__file__).resolve().parent / "packs"
UPLOADED_PREFIX = "uploaded:"

Origin = Literal["bundled", "file", "uploaded"]
Kind = Literal["detection", "correlation"]
# (rule id, Sigma YAML) -> compiled; the detector passes a caching one.
CompileUpload = Callable[[str, str], FileResult]


def rule_paths(cfg: RulesConfig) -> list[Path]:
    """Where rule files are read from: the bundled packs (unless turned off), then `rules.paths`."""
    paths = [Path(p) for p in cfg.paths]
    if cfg.include_bundled_packs:
        paths.insert(0, BUNDLED_PACKS)
    return paths


def uploaded_path(rule_id: str) -> str:
    """The `path` uploaded rules carry (in alerts, rejections and the rule list)."""
    return f"{UPLOADED_PREFIX}{rule_id}"


def correlation_id(rule: Any) -> str:
    return str(getattr(rule, "id", "") or getattr(rule, "name", "") or "")


def origin_of(path: str) -> Origin:
    if path.startswith(UPLOADED_PREFIX):
        return "uploaded"
    return "bundled" if str(Path(path).resolve()).startswith(str(BUNDLED_PACKS)) else "file"


def upload_compiler(placeholders: Placeholders | None) -> CompileUpload:
    return lambda rule_id, text: load_text(text, uploaded_path(rule_id), placeholders or None)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """What analysts changed through the API (read from `<config_index_prefix>-rules` / `-exceptions`)."""

    uploaded: Mapping[str, str] = field(default_factory=dict)  # rule id -> Sigma YAML
    disabled: frozenset[str] = frozenset()
    exceptions: ExceptionSet = field(default_factory=ExceptionSet)

    @property
    def rules_version(self) -> str:
        """Changes when the rule set must be rebuilt (an upload, an enable/disable), not on exceptions."""
        digest = hashlib.sha256()
        for rule_id in sorted(self.uploaded):
            digest.update(f"{rule_id}\x00{self.uploaded[rule_id]}\x00".encode())
        for rule_id in sorted(self.disabled):
            digest.update(f"disabled\x00{rule_id}\x00".encode())
        return digest.hexdigest()


def rule_config_from_docs(
    rule_docs: Iterable[Mapping[str, Any]],
    exception_docs: Iterable[Mapping[str, Any]] = (),
    on_bad_exception: Callable[[str], None] | None = None,
) -> RuleConfig:
    """The config documents (each with its `_id` as `id`) as a RuleConfig."""
    docs = list(rule_docs)
    uploaded = {str(d["id"]): d["yaml"] for d in docs if isinstance(d.get("yaml"), str) and d["yaml"]}
    disabled = frozenset(str(d["id"]) for d in docs if d.get("enabled") is False)
    exceptions = []
    for doc in exception_docs:
        if doc.get("state", "approved") != "approved":
            continue  # an agency's request not yet approved, or rejected: never applied
        try:
            exceptions.append(RuleException.parse(dict(doc)))
        except ValueError as exc:  # the API validates; this is a hand-edited or older document
            log.warning("exception %s ignored: %s", doc.get("id"), exc)
            if on_bad_exception is not None:
                on_bad_exception(str(exc))
    return RuleConfig(uploaded=uploaded, disabled=disabled, exceptions=ExceptionSet(exceptions))


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """One rule as the rules page lists it."""

    id: str
    title: str
    kind: Kind
    origin: Origin
    enabled: bool
    path: str
    meta: Mapping[str, Any]  # RuleMeta.to_dict() for detection rules; id/title/level/author for correlations

    def to_dict(self) -> dict[str, Any]:
        return dict(self.meta) | {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "path": self.path,
            "source": self.origin,
            "enabled": self.enabled,
        }


@dataclass(slots=True)
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)  # enabled detection rules
    correlation_rules: list[Any] = field(default_factory=list)  # enabled correlation rules
    entries: list[RuleEntry] = field(default_factory=list)  # every rule that loaded, enabled or not
    rejected: list[Rejection] = field(default_factory=list)
    exceptions: ExceptionSet = field(default_factory=ExceptionSet)

    def entry(self, rule_id: str) -> RuleEntry | None:
        return next((e for e in self.entries if e.id == rule_id), None)


def _enum(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "name", value)).lower()


def correlation_meta(rule: Any) -> dict[str, Any]:
    return {
        "id": correlation_id(rule),
        "title": getattr(rule, "title", ""),
        "level": _enum(getattr(rule, "level", None)),
        "author": getattr(rule, "author", None),
    }


def _duplicate(path: str, rule_id: str, title: str | None, first_path: str) -> Rejection:
    return Rejection(path, rule_id, title, "duplicate id", f"{first_path} already has a rule with this id")


def build_ruleset(
    files: Sequence[FileResult],
    config: RuleConfig,
    compile_upload: CompileUpload,
    *,
    file_rejections: Sequence[Rejection] = (),
) -> RuleSet:
    """The rules in service. `files` in precedence order; `file_rejections` are failures of files
    whose previous version stays in service (RuleLibrary.last_rejected)."""
    out = RuleSet(exceptions=config.exceptions)
    out.rejected.extend(file_rejections)
    taken: dict[str, str] = {}  # rule id -> path of the rule that has it
    uploads = [compile_upload(rule_id, config.uploaded[rule_id]) for rule_id in sorted(config.uploaded)]
    for result in [*files, *uploads]:
        out.rejected.extend(r for r in result.rejected if r not in out.rejected)
        for rule in result.rules:
            meta = rule.meta
            if meta.id in taken:
                out.rejected.append(_duplicate(result.path, meta.id, meta.title, taken[meta.id]))
                continue
            taken[meta.id] = result.path
            enabled = meta.id not in config.disabled
            entry_meta = meta.to_dict()
            out.entries.append(
                RuleEntry(meta.id, meta.title, "detection", origin_of(result.path), enabled, result.path, entry_meta)
            )
            if enabled:
                out.rules.append(rule)
        for corr in result.correlation_rules:
            cid = correlation_id(corr)
            if cid in taken:
                out.rejected.append(_duplicate(result.path, cid, getattr(corr, "title", None), taken[cid]))
                continue
            taken[cid] = result.path
            enabled = cid not in config.disabled
            meta_dict = correlation_meta(corr)
            out.entries.append(
                RuleEntry(
                    cid, meta_dict["title"], "correlation", origin_of(result.path), enabled, result.path, meta_dict
                )
            )
            if enabled:
                out.correlation_rules.append(corr)
    return out

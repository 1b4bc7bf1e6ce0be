"""Load Sigma rules from files and folders; every rule either compiles or is rejected with a reason.

One bad rule never stops the others: errors are caught per document (YAML) and per rule
(pySigma parsing, field mapping, compilation) and become `Rejection`s. Correlation rules are
kept aside, uncompiled, for the correlation engine.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from canhgac.core.errors import RuleError
from canhgac.core.safe_yaml import RefusedYAML, load_all
from canhgac.rules.compiler import Compiler, compile_conditions
from canhgac.rules.correlation_spec import cross_agency_of
from canhgac.rules.fieldmap import canhgac_pipeline
from canhgac.rules.model import CompiledRule, RuleMeta
from canhgac.rules.plan import realize
from canhgac.rules.rule_cache import RuleCache, file_digest, gc_paused
from canhgac.rules.source_fields import source_aliases
from sigma import exceptions as sigma_exc
from sigma import modifiers as sigma_modifiers
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule

RULE_SUFFIXES = (".yml", ".yaml")

# The Sigma specification names `utf16le` as the spelling of `wide`; pySigma 1.5 knows only `wide`.
sigma_modifiers.modifier_mapping.setdefault("utf16le", sigma_modifiers.SigmaWideModifier)

Placeholders = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Rejection:
    path: str
    rule_id: str | None
    title: str | None
    reason: str
    message: str


@dataclass(slots=True)
class FileResult:
    path: str
    rules: list[CompiledRule] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    correlation_rules: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class LoadResult:
    rules: list[CompiledRule] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    correlation_rules: list[Any] = field(default_factory=list)
    files: dict[str, FileResult] = field(default_factory=dict)

    def add(self, result: FileResult) -> None:
        self.files[result.path] = result
        self.rules.extend(result.rules)
        self.rejected.extend(result.rejected)
        self.correlation_rules.extend(result.correlation_rules)

    def tally(self) -> Counter[str]:
        counts: Counter[str] = Counter(r.reason for r in self.rejected)
        counts["loaded"] = len(self.rules)
        counts["correlation"] = len(self.correlation_rules)
        return counts


# pySigma error class → our tally key. Checked in order; the first isinstance match wins.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (sigma_exc.SigmaRegularExpressionError, "invalid regex"),
    (sigma_exc.SigmaPlaceholderError, "unresolved placeholder"),
    (sigma_exc.SigmaTypeError, "invalid value"),
    (sigma_exc.SigmaModifierError, "unsupported modifier"),
    (sigma_exc.SigmaConditionError, "invalid condition"),
    (sigma_exc.SigmaDetectionError, "invalid detection"),
    (sigma_exc.SigmaLogsourceError, "invalid logsource"),
    (sigma_exc.SigmaIdentifierError, "invalid id"),
    (sigma_exc.SigmaTitleError, "invalid title"),
    (sigma_exc.SigmaCorrelationRuleError, "invalid correlation"),
    (sigma_exc.SigmaCollectionError, "invalid collection"),
    (sigma_exc.SigmaValueError, "invalid value"),
)


def reason_for(exc: BaseException) -> str:
    if isinstance(exc, RuleError):
        return exc.reason
    if isinstance(exc, RefusedYAML):
        return "refused YAML"
    if isinstance(exc, yaml.YAMLError):
        return "invalid YAML"
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    if isinstance(exc, sigma_exc.SigmaError):
        return "invalid rule"
    return f"error {type(exc).__name__}"


def _rule_files_under(root: Path) -> list[Path]:
    """Rule files below a folder, in Path order (rglob + sorted, by one scandir per folder)."""
    found: list[tuple[tuple[str, ...], str]] = []
    pending = [(tuple(root.parts), str(root))]
    while pending:
        parts, folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):  # as rglob: no symlinked folders (no loops)
                pending.append(((*parts, entry.name), entry.path))
            elif os.path.splitext(entry.name)[1] in RULE_SUFFIXES and entry.is_file():  # as Path.suffix
                found.append(((*parts, entry.name), entry.path))
    return [Path(path) for _, path in sorted(found)]


def iter_rule_files(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_rule_files_under(path))
        else:
            found.append(path)  # a missing file is reported as a rejection by load_file
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value)).lower()


def rule_meta(rule: SigmaRule, path: str) -> RuleMeta:
    ls = rule.logsource
    logsource = {k: v for k, v in (("product", ls.product), ("category", ls.category), ("service", ls.service)) if v}
    return RuleMeta(
        id=str(rule.id) if rule.id else (rule.name or f"{path}:{rule.title}"),
        title=rule.title,
        level=_enum_name(rule.level),
        status=_enum_name(rule.status),
        author=_text(rule.author),
        tags=tuple(str(t) for t in rule.tags or ()),
        references=tuple(str(r) for r in rule.references or ()),
        description=_text(rule.description),
        falsepositives=tuple(str(f) for f in rule.falsepositives or ()),
        logsource=logsource,
        path=path,
        name=rule.name,
    )


def _pipeline(placeholders: Placeholders | None, source_names: dict[str, str] | None = None) -> ProcessingPipeline:
    pipeline = canhgac_pipeline(source_names)
    if placeholders:
        expand = ProcessingPipeline(
            name="canhgac placeholders",
            priority=10,
            items=[
                ProcessingItem(
                    identifier="canhgac_placeholders",
                    transformation=ValueListPlaceholderTransformation(include=list(placeholders)),
                )
            ],
            vars={k: [str(v) for v in vals] for k, vals in placeholders.items()},
        )
        pipeline = expand + pipeline
    return pipeline


def compile_rule(
    rule: SigmaRule, path: str, placeholders: Placeholders | None = None, compiler: Compiler | None = None
) -> CompiledRule:
    """Map fields and compile one parsed rule; raises RuleError or a pySigma error."""
    _pipeline(placeholders).apply(rule)
    trees = [cond.parsed for cond in rule.detection.parsed_condition]
    ls = rule.logsource
    aliases = source_aliases({"product": ls.product, "category": ls.category, "service": ls.service})
    plan, prefilter = compile_conditions((compiler or Compiler()).for_source(aliases), trees)
    return CompiledRule(meta=rule_meta(rule, path), predicate=realize(plan), prefilter=prefilter, plan=plan)


def _reject(path: str, rule: Any, exc: BaseException) -> Rejection:
    rule_id = getattr(rule, "id", None)
    return Rejection(
        path=path,
        rule_id=str(rule_id) if rule_id else None,
        title=getattr(rule, "title", None),
        reason=reason_for(exc),
        message=str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__,
    )


def load_text(text: str, path: str, placeholders: Placeholders | None = None) -> FileResult:
    result = FileResult(path=path)
    try:
        # Correlations may reference rules in other files: the correlation engine resolves them.
        # The bounded loader refuses aliases ("billion laughs") and oversized or deep documents.
        collection = SigmaCollection.from_dicts(load_all(text), collect_errors=True, resolve_references=False)
    except Exception as exc:  # one file's parse failure must not stop the load
        result.rejected.append(_reject(path, None, exc))
        return result
    compiler = Compiler()
    for rule in collection.rules:
        errors = getattr(rule, "errors", None)
        if errors:
            result.rejected.append(_reject(path, rule, errors[0]))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            try:
                cross_agency_of(rule)  # our `canhgac:` extension, refused here rather than at engine build
            except RuleError as exc:
                result.rejected.append(_reject(path, rule, exc))
                continue
            result.correlation_rules.append(rule)
            continue
        if not isinstance(rule, SigmaRule):
            result.rejected.append(
                _reject(
                    path,
                    rule,
                    RuleError(f"{type(rule).__name__} documents are not supported", reason="unsupported document"),
                )
            )
            continue
        try:
            result.rules.append(compile_rule(rule, path, placeholders, compiler))
        except Exception as exc:  # any failure rejects this rule only
            result.rejected.append(_reject(path, rule, exc))
    return result


def load_file(path: str | Path, placeholders: Placeholders | None = None, cache: RuleCache | None = None) -> FileResult:
    """One rule file; with a cache, a file whose bytes were compiled before is read from it
    (call `cache.flush()` after a batch of loads to keep what was compiled)."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result = FileResult(path=name)
        result.rejected.append(Rejection(name, None, None, "unreadable file", str(exc)))
        return result
    if cache is None:
        return load_text(text, name, placeholders)
    fingerprint = cache.fingerprint(placeholders)
    digest = file_digest(data)
    cached = cache.lookup(fingerprint, name, digest)
    if cached is not None:
        rules, rejected = cached
        return FileResult(path=name, rules=rules, rejected=rejected)
    cache.misses += 1
    result = load_text(text, name, placeholders)
    if not result.correlation_rules:  # correlations are pySigma objects: not cached
        cache.store(fingerprint, name, digest, result.rules, result.rejected)
    return result


def cached_file(path: str | Path, placeholders: Placeholders | None, cache: RuleCache) -> FileResult | None:
    """The file's compiled rules from the cache when its bytes are unchanged, else None."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    cached = cache.lookup(cache.fingerprint(placeholders), name, file_digest(data))
    return None if cached is None else FileResult(path=name, rules=cached[0], rejected=cached[1])


def load_files(
    files: Sequence[str | Path], placeholders: Placeholders | None = None, cache: RuleCache | None = None
) -> list[FileResult]:
    """Each file's result, in order: cache hits first (garbage collection paused while they are
    read), then the others compiled and stored; the cache is written once at the end."""
    if cache is None:
        return [load_file(path, placeholders) for path in files]
    with gc_paused():
        hits = [cached_file(path, placeholders, cache) for path in files]
    results = [hit or load_file(path, placeholders, cache) for hit, path in zip(hits, files, strict=True)]
    cache.flush()
    return results


def load_rules(
    paths: Iterable[str | Path], placeholders: Placeholders | None = None, cache: RuleCache | None = None
) -> LoadResult:
    result = LoadResult()
    for file_result in load_files(iter_rule_files(paths), placeholders, cache):
        result.add(file_result)
    return result

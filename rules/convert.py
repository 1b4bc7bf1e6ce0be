"""Sigma rules → OpenSearch Lucene queries, through the same field mapping as the stream matcher.

Two additions make stored-log queries answer what the stream matcher answers:
- string fields are queried through their `.ci` sub-field (keyword, lower-cased by the index
  template's normalizer, which OpenSearch also applies to term and wildcard queries), because
  Sigma strings match case-insensitively; typed fields (ip, long, date) keep their own name;
- the rule's logsource becomes a filter on `canhgac.logsource`, the same routing the stream does.
Field-less (keyword) terms should be run with `default_field` = DEFAULT_FIELD: the stream matcher
looks for keywords in `message`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from canhgac.core.safe_yaml import load_all
from canhgac.core.store import EVENT_PROPERTIES
from canhgac.core.watchlists import WatchList
from canhgac.rules.convert_lists import list_pipeline
from canhgac.rules.engine import CATEGORY_PARENTS
from canhgac.rules.loader import Rejection, _pipeline, _reject, iter_rule_files
from canhgac.rules.matchers import regex_predicate
from canhgac.rules.source_fields import source_names
from sigma.backends.opensearch import OpensearchLuceneBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.conditions import ExcludeFieldCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddFieldnameSuffixTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaRegularExpression

DEFAULT_FIELD = "message.ci"


def _typed_fields(properties: Mapping[str, object], prefix: str = "") -> list[str]:
    """Dotted names of the template's non-string fields: they have no `.ci` sub-field."""
    names: list[str] = []
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        if "properties" in spec and isinstance(spec["properties"], Mapping):
            names += _typed_fields(spec["properties"], f"{prefix}{name}.")
        elif spec.get("type") not in (None, "keyword", "text", "object"):
            names.append(f"{prefix}{name}")
    return names


TYPED_FIELDS = sorted(_typed_fields(EVENT_PROPERTIES))


def query_pipeline(
    placeholders: Mapping[str, Sequence[str]] | None,
    source_names: dict[str, str] | None = None,
    lists: Mapping[str, WatchList] | None = None,
) -> ProcessingPipeline:
    """The stream matcher's field mapping, then `.ci` on every string field. `source_names` maps
    the fields one source names differently (source_fields.py), for that source's branch. With
    `lists`, a value naming a watch list becomes its values (convert_lists.py); without, such a rule
    is rejected (an unresolved placeholder)."""
    ci = ProcessingPipeline(
        name="canhgac case-insensitive sub-fields",
        priority=100,  # after the field mapping
        items=[
            ProcessingItem(
                identifier="canhgac_ci_subfield",
                transformation=AddFieldnameSuffixTransformation(".ci"),
                field_name_conditions=[ExcludeFieldCondition(fields=TYPED_FIELDS)],
            )
        ],
    )
    pipeline = _pipeline(placeholders, source_names)
    if lists is not None:
        pipeline = pipeline + list_pipeline(lists)
    return pipeline + ci


def _lucene_term(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def logsource_filter(logsource: Mapping[str, object]) -> str | None:
    """`canhgac.logsource` conditions equivalent to the stream matcher's routing of this rule."""
    parts: list[str] = []
    for key in ("product", "category", "service"):
        value = logsource.get(key)
        if not isinstance(value, str) or not value:
            continue
        values = [value.lower()]
        if key == "category":
            values += sorted(child for child, parents in CATEGORY_PARENTS.items() if value.lower() in parents)
        alternatives = " OR ".join(_lucene_term(v) for v in values)
        parts.append(f"canhgac.logsource.{key}.ci:({alternatives})")
    return " AND ".join(parts) or None


def check_regexes(rule: SigmaRule) -> None:
    """Refuse, as the stream matcher does (RuleError `unsupported regex`), a rule whose regex RE2
    cannot run: a backtest must not run a rule the detector would never load."""
    stack: list[object] = list(rule.detection.detections.values())
    while stack:
        node = stack.pop()
        if isinstance(node, SigmaDetection):
            stack.extend(node.detection_items)
        elif isinstance(node, SigmaDetectionItem):
            for value in node.value:
                if isinstance(value, SigmaRegularExpression):
                    regex_predicate(str(node.field), value)  # compiles on RE2 or raises RuleError


def _convert(rule: SigmaRule, pipeline: ProcessingPipeline) -> list[str]:
    # The backend's pipeline mutates the rule: each branch converts its own copy.
    return [str(q) for q in OpensearchLuceneBackend(processing_pipeline=pipeline).convert_rule(copy.deepcopy(rule))]


def _queries(
    rule: SigmaRule, placeholders: Mapping[str, Sequence[str]] | None, lists: Mapping[str, WatchList] | None = None
) -> list[str]:
    """The rule's queries; with source-dependent field names (source_fields.py), one branch per
    source that names them differently, and the Sigma names for every other source — what the
    stream compiler's per-event dispatch reads."""
    ls = rule.logsource
    per_service = source_names({"product": ls.product, "category": ls.category, "service": ls.service})
    if not per_service:
        return _convert(rule, query_pipeline(placeholders, None, lists))
    services = " OR ".join(_lucene_term(s) for s in sorted(per_service))
    branches = [
        f"(NOT canhgac.logsource.service.ci:({services})) AND ({q})"
        for q in _convert(rule, query_pipeline(placeholders, None, lists))
    ]
    for service, names in sorted(per_service.items()):
        branches += [
            f"canhgac.logsource.service.ci:{_lucene_term(service)} AND ({q})"
            for q in _convert(rule, query_pipeline(placeholders, names, lists))
        ]
    return [" OR ".join(f"({b})" for b in branches)]


@dataclass(frozen=True, slots=True)
class Converted:
    rule_id: str
    title: str
    query: str
    path: str


def convert_rules(
    paths: Iterable[str | Path],
    placeholders: Mapping[str, Sequence[str]] | None = None,
    rejected: list[Rejection] | None = None,
    lists: Mapping[str, WatchList] | None = None,
) -> Iterator[Converted]:
    """One Converted per rule; rules the backend cannot express are appended to `rejected`. With
    `lists` (name -> list as stored now), watch lists named by rules are expanded into the queries."""
    for path in iter_rule_files(paths):
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            # aliases refused; references left unresolved, else pySigma silences the base rules of a
            # correlation in the same file (generate: false) and they would not convert
            collection = SigmaCollection.from_dicts(load_all(text), collect_errors=True, resolve_references=False)
        except Exception as exc:  # one bad file must not stop the others
            if rejected is not None:
                rejected.append(_reject(name, None, exc))
            continue
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule) or isinstance(rule, SigmaCorrelationRule) or rule.errors:
                continue
            try:
                check_regexes(rule)
                queries = _queries(rule, placeholders, lists)
            except Exception as exc:  # the backend raises many kinds; each rejects one rule
                if rejected is not None:
                    rejected.append(_reject(name, rule, exc))
                continue
            ls = rule.logsource
            routing = logsource_filter({"product": ls.product, "category": ls.category, "service": ls.service})
            for query in queries:
                text = f"({routing}) AND ({query})" if routing else str(query)
                yield Converted(str(rule.id) if rule.id else rule.title, rule.title, text, name)

"""Sigma rules → OpenSearch Lucene queries, through the same field mapping as the stream matcher."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from canhgac.rules.loader import Rejection, _pipeline, _reject, iter_rule_files
from sigma.backends.opensearch import OpensearchLuceneBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule


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
) -> Iterator[Converted]:
    """One Converted per rule; rules the backend cannot express are appended to `rejected`."""
    for path in iter_rule_files(paths):
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(text, collect_errors=True)
        except Exception as exc:  # one bad file must not stop the others
            if rejected is not None:
                rejected.append(_reject(name, None, exc))
            continue
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule) or isinstance(rule, SigmaCorrelationRule) or rule.errors:
                continue
            backend = OpensearchLuceneBackend(processing_pipeline=_pipeline(placeholders))
            try:
                queries = backend.convert_rule(rule)
            except Exception as exc:  # the backend raises many kinds; each rejects one rule
                if rejected is not None:
                    rejected.append(_reject(name, rule, exc))
                continue
            for query in queries:
                yield Converted(str(rule.id) if rule.id else rule.title, rule.title, str(query), name)

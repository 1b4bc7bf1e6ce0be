"""Which rules' meaning depends on a source-named field (rules/source_fields.py)?

Before per-source names, a condition on `Image` read `Image` OR `NewProcessName` (and `ParentImage`
OR `ParentProcessName`). Each event has only one of the two, so a `null` on such a field was true on
every event and its negation never true; a plain value condition meant the same either way. This
walks every rule of the corpus whose logsource has source-named fields, classifies each condition on
them, and works out, with the old reading, whether the rule could fire at all:

  never-fired   the whole condition was false on every event (the rule could never fire)
  lost-branch   one `or` branch (or one `condition:` entry) was false on every event
  always-true   a condition was true on every event (a selection that matched any event)
  value-only    only value conditions on those fields: same meaning under both readings

    .venv/bin/python bench/alias_audit.py [RULES_DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from canhgac.core.safe_yaml import load_all
from canhgac.rules.loader import iter_rule_files
from canhgac.rules.source_fields import source_names
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaFieldReference, SigmaNull

DEFAULT_RULES = Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance" / "sigmahq" / "rules"


class Walk:
    """Three-valued evaluation under the old reading: True/False when the old reading fixed a
    condition's value on every event, None when it depended on the event."""

    def __init__(self, aliased: set[str]) -> None:
        self.aliased = aliased
        self.kinds: Counter[str] = Counter()
        self.lost_branch = False

    def value(self, node: Any, negated: bool = False) -> bool | None:
        if isinstance(node, ConditionAND):
            vals = [self.value(a, negated) for a in node.args]
            return False if False in vals else (True if all(v is True for v in vals) else None)
        if isinstance(node, ConditionOR):
            vals = [self.value(a, negated) for a in node.args]
            if False in vals and any(v is not False for v in vals):
                self.lost_branch = True
            return True if True in vals else (False if all(v is False for v in vals) else None)
        if isinstance(node, ConditionNOT):
            inner = self.value(node.args[0], not negated)
            return None if inner is None else not inner
        if isinstance(node, ConditionFieldEqualsValueExpression) and node.field in self.aliased:
            polarity = "negated " if negated else ""
            if isinstance(node.value, SigmaNull):
                self.kinds[polarity + "null"] += 1
                return True  # `A null or B null`: one of the two is always missing
            if isinstance(node.value, SigmaExists):
                # `A exists: false or B exists: false` is always true; `exists: true` meant "has an image".
                self.kinds[polarity + ("exists" if node.value.exists else "exists: false")] += 1
                return None if node.value.exists else True
            if isinstance(node.value, SigmaFieldReference):
                self.kinds[polarity + "fieldref"] += 1
                return None
            self.kinds[polarity + "value"] += 1
            return None
        if isinstance(node, ConditionFieldEqualsValueExpression) and isinstance(node.value, SigmaFieldReference):
            if node.value.field in self.aliased:
                self.kinds[("negated " if negated else "") + "fieldref"] += 1
        return None


def audit_rule(rule: SigmaRule) -> tuple[str, Counter[str]] | None:
    ls = rule.logsource
    names = source_names({"product": ls.product, "category": ls.category, "service": ls.service})
    aliased = {field for per_service in names.values() for field in per_service}
    if not aliased:
        return None
    walk = Walk(aliased)
    results = [walk.value(cond.parsed) for cond in rule.detection.parsed_condition]
    if not walk.kinds:
        return None
    if all(r is False for r in results):
        verdict = "never-fired"
    elif walk.lost_branch or (False in results):
        verdict = "lost-branch"
    elif any(k in walk.kinds for k in ("null", "exists: false")):
        verdict = "always-true"
    else:
        verdict = "value-only"
    return verdict, walk.kinds


def audit(rules_dir: Path) -> dict[str, list[tuple[str, str, Counter[str]]]]:
    found: dict[str, list[tuple[str, str, Counter[str]]]] = defaultdict(list)
    for path in iter_rule_files([rules_dir]):
        try:
            collection = SigmaCollection.from_dicts(load_all(path.read_text(encoding="utf-8")), collect_errors=True)
        except Exception:  # the loader reports unreadable files; the audit skips them
            continue
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule) or isinstance(rule, SigmaCorrelationRule) or rule.errors:
                continue
            try:
                result = audit_rule(rule)
            except Exception:  # a condition pySigma cannot parse is rejected by the loader too
                continue
            if result is not None:
                verdict, kinds = result
                found[verdict].append((str(rule.id), str(path.relative_to(rules_dir)), kinds))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rules", nargs="?", default=str(DEFAULT_RULES))
    ap.add_argument("--markdown", action="store_true", help="the table docs/detection.md keeps")
    a = ap.parse_args()
    found = audit(Path(a.rules).resolve())
    order = ["never-fired", "lost-branch", "always-true", "value-only"]
    for verdict in order:
        rows = sorted(found.get(verdict, []), key=lambda r: r[1])
        print(f"{verdict}: {len(rows)} rules")
        if verdict == "value-only":
            continue
        for rule_id, path, kinds in rows:
            described = ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items()))
            if a.markdown:
                print(f"| {verdict} | `{path}` | `{rule_id}` | {described} |")
            else:
                print(f"  {rule_id}  {path}  [{described}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

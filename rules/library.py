"""A rule set that follows its files: the detector stage calls `reload_if_changed()` on a timer.

Each file is compiled on its own. When a changed file no longer loads (bad YAML, a rule that now
fails to compile), the previously compiled rules of that file stay in service and the failure is
reported in `last_rejected`; a deleted file's rules are removed. With a compiled-rule cache
(rule_cache.py), files whose bytes were compiled before are read from it instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from canhgac.rules.engine import Engine
from canhgac.rules.loader import FileResult, LoadResult, Rejection, iter_rule_files, load_files
from canhgac.rules.model import CompiledRule
from canhgac.rules.rule_cache import RuleCache

log = logging.getLogger(__name__)

Stamp = tuple[int, int]  # (mtime_ns, size)


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class RuleLibrary:
    def __init__(
        self,
        paths: Iterable[str | Path],
        placeholders: Mapping[str, Sequence[str]] | None = None,
        cache: RuleCache | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.placeholders = placeholders
        self.cache = cache
        self._files: dict[str, FileResult] = {}
        self._stamps: dict[str, Stamp] = {}
        self._lock = threading.Lock()
        self.last_rejected: list[Rejection] = []
        self.engine = Engine([])
        self.reload_if_changed()

    @property
    def rules(self) -> list[CompiledRule]:
        return [rule for result in self._files.values() for rule in result.rules]

    def file_results(self) -> list[FileResult]:
        """Every file's compiled rules, in path order."""
        with self._lock:
            return list(self._files.values())

    def load_result(self) -> LoadResult:
        result = LoadResult()
        for file_result in self._files.values():
            result.add(file_result)
        return result

    def reload_if_changed(self) -> bool:
        """Re-scan the paths; rebuild the engine when a file was added, changed or removed."""
        with self._lock:
            current = {str(p): p for p in iter_rule_files(self.paths)}
            changed = False
            rejected: list[Rejection] = []
            for name in list(self._files):
                if name not in current:
                    del self._files[name]
                    self._stamps.pop(name, None)
                    changed = True
            todo: list[Path] = []
            for name, path in current.items():
                stamp = _stamp(path)
                if stamp is None or self._stamps.get(name) == stamp:
                    continue
                self._stamps[name] = stamp
                todo.append(path)
            for path, result in zip(todo, load_files(todo, self.placeholders, self.cache), strict=True):
                name = str(path)
                rejected.extend(result.rejected)
                previous = self._files.get(name)
                if previous is not None and result.rejected and previous.rules:
                    # Keep serving what worked before; a half-edited file must not unload rules.
                    log.warning(
                        "rule file %s failed to reload (%s); keeping its previous rules",
                        name,
                        "; ".join(r.reason for r in result.rejected),
                    )
                    continue
                self._files[name] = result
                changed = True
            if changed:
                # Keep the files in path order (bundled packs, then `rules.paths`): the rule set's
                # "first id wins" must not depend on when a file appeared.
                self._files = {name: self._files[name] for name in current if name in self._files}
            if rejected or changed:
                self.last_rejected = rejected
            if changed:
                self.engine = Engine(self.rules)
            return changed

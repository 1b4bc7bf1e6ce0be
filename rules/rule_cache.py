"""Compiled-rule cache: a restart with unchanged rule files skips YAML, pySigma and the compiler.

What is stored, per rule file: its rules' metadata, plans (plan.py) and pre-filter literals, and
its rejections, under the SHA-256 of the file's bytes. A lookup hits only when the bytes are the
same, so an edited file is recompiled and every other file still hits. The whole cache belongs to
one fingerprint — the source of the code that compiles rules (every module of canhgac.rules plus
core/safe_yaml.py and core/errors.py), the versions of Python, pySigma and RE2, and the
placeholders — so new code or other placeholders use a new pack file and never read old entries.
Files with correlation rules are not cached (pySigma objects; they are few and load as before).

A cached rule's predicate is realized from its plan on its first evaluation (`DeferredPredicate`),
so start-up costs only reading the pack: rules that never meet an event are never built.

Safety: entries are pickles, and unpickling runs whatever the bytes say, so the cache is trusted
like the code. It is used only in a directory owned by this user and writable by nobody else (made
0700; a group- or world-writable or foreign directory or pack file disables the cache with a
warning), the pack is opened without following symlinks, and entries are read by an unpickler
that can build only the few data classes a plan holds (anything else fails the entry). A pack is
written to a temporary file and renamed over the old one, so readers see the old or the new one;
it carries a SHA-256 of its contents, and a pack that does not read (truncated, damaged, another
format) is ignored and rewritten, never fatal. The checksum catches damage, not an attacker, who
would rewrite it too: the directory's ownership is what keeps attackers out.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import canhgac.core.errors
import canhgac.core.safe_yaml
from canhgac.core.config import RulesConfig
from canhgac.rules.model import CompiledRule, Literal, RuleMeta
from canhgac.rules.plan import Plan, realize

log = logging.getLogger(__name__)

MAGIC = b"canhgac compiled rules v1\n"
_RULES_DIR = Path(__file__).resolve().parent
# Modules of canhgac.rules that take no part in compiling a detection rule (matching, correlation,
# rule management): editing them keeps the cache. Every other module's source is in the key.
_NOT_COMPILING = frozenset(
    {
        "engine.py",
        "prefilter.py",
        "exceptions.py",
        "ruleset.py",
        "library.py",
        "convert.py",
        "correlation.py",
        "correlation_routing.py",
        "correlation_window.py",
    }
)
# Packs of other fingerprints (older code, other placeholders) kept besides the one in use.
KEEP_OTHER_PACKS = 3

# What an entry may contain besides builtins: our metadata and the pySigma values plans hold.
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("canhgac.rules.loader", "Rejection"),
        *(
            ("sigma.types", name)
            for name in (
                "SigmaString",
                "SigmaCasedString",
                "SpecialChars",
                "SigmaNumber",
                "SigmaBool",
                "SigmaNull",
                "SigmaExists",
                "SigmaRegularExpression",
                "SigmaRegularExpressionFlag",
                "SigmaCIDRExpression",
                "SigmaCompareExpression",
                "CompareOperators",
                "SigmaFieldReference",
            )
        ),
        ("ipaddress", "IPv4Network"),
        ("ipaddress", "IPv6Network"),
        ("ipaddress", "IPv4Address"),
        ("ipaddress", "IPv6Address"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "frozenset"),
        ("builtins", "set"),
    }
)


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the rule cache")
        return super().find_class(module, name)


def _data_loads(blob: bytes) -> Any:
    return _DataUnpickler(io.BytesIO(blob)).load()


class DeferredPredicate:
    """A cached rule's predicate until its first evaluation, which builds the real one from the
    plan and puts it in the rule's place (the engine reads `rule.predicate` per evaluation)."""

    __slots__ = ("plan", "real", "rule")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rule: CompiledRule | None = None
        self.real: Any = None  # kept too, for a holder other than `rule` (a copy of the rule)

    def __call__(self, ctx: Any) -> bool:
        predicate = self.real
        if predicate is None:
            predicate = self.real = realize(self.plan)
            if self.rule is not None:
                self.rule.predicate = predicate
        return bool(predicate(ctx))


_META_FIELDS = tuple(RuleMeta.__dataclass_fields__)
_LITERAL_FIELDS = tuple(Literal.__dataclass_fields__)


def _encode_rule(rule: CompiledRule) -> tuple[Any, ...]:
    # Plain tuples: a frozen dataclass reads back field by field through Python code, which is
    # most of the unpickling time of 45,000 metas and literals.
    meta = tuple(getattr(rule.meta, name) for name in _META_FIELDS)
    prefilter = tuple(
        tuple(tuple(getattr(lit, n) for n in _LITERAL_FIELDS) for lit in clause) for clause in rule.prefilter
    )
    return meta, rule.plan, prefilter


def _decode_rule(encoded: tuple[Any, ...], literals: dict[tuple[Any, ...], Literal]) -> CompiledRule:
    meta, plan, prefilter = encoded
    clauses = []
    for clause in prefilter:
        lits = []
        for fields in clause:
            lit = literals.get(fields)
            if lit is None:
                lit = literals[fields] = Literal(*fields)
            lits.append(lit)
        clauses.append(tuple(lits))
    deferred = DeferredPredicate(plan)
    rule = CompiledRule(meta=RuleMeta(*meta), predicate=deferred, prefilter=tuple(clauses), plan=plan)
    deferred.rule = rule
    return rule


def compiler_fingerprint(placeholders: Mapping[str, Sequence[str]] | None) -> str:
    """Changes whenever a cached entry could compile differently: code, libraries, placeholders."""
    digest = hashlib.sha256(MAGIC)
    sources = [
        *sorted(p for p in _RULES_DIR.glob("*.py") if p.name not in _NOT_COMPILING),
        Path(canhgac.core.safe_yaml.__file__),
        Path(canhgac.core.errors.__file__),
    ]
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    for dist in ("pySigma", "google-re2", "PyYAML", "pyahocorasick"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{dist}={version}\0".encode())
    digest.update(sys.version.encode() + b"\0")
    normalized = {str(k): [str(v) for v in vals] for k, vals in (placeholders or {}).items()}
    digest.update(json.dumps(normalized, sort_keys=True).encode())
    return digest.hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/canhgac/rules, else ~/.cache/canhgac/rules (the command line's default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canhgac" / "rules"


def rule_cache_for(cfg: RulesConfig, data_dir: str | Path) -> RuleCache | None:
    """The service's cache: `rules.compiled_cache_dir`, else <data_dir>/rules-cache; None when off."""
    if not cfg.compiled_cache:
        return None
    return RuleCache(cfg.compiled_cache_dir or Path(data_dir) / "rules-cache")


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class _Pack:
    """The entries of one fingerprint: rule file path -> (content digest, entry pickle)."""

    def __init__(self, path: Path, entries: dict[str, tuple[str, bytes]]) -> None:
        self.path = path
        self.entries = entries
        self.dirty = False


class RuleCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._packs: dict[str, _Pack] = {}
        self._fingerprints: dict[str, str] = {}
        self._last: tuple[Any, str] = (None, "")
        self._usable: bool | None = None
        self.hits = 0
        self.misses = 0
        self._literals: dict[tuple[Any, ...], Literal] = {}

    # --- the directory -------------------------------------------------------------------

    def usable(self) -> bool:
        """Create the directory (0700) when missing; False (cache off) when it is not private."""
        if self._usable is None:
            self._usable = self._check_directory()
        return self._usable

    def _check_directory(self) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(self.directory)
        except OSError as exc:
            log.warning("compiled-rule cache off: %s: %s", self.directory, exc)
            return False
        if not stat.S_ISDIR(st.st_mode) or not _private(st):
            log.warning(
                "compiled-rule cache off: %s must be a directory owned by this user and writable by no one else",
                self.directory,
            )
            return False
        return True

    def fingerprint(self, placeholders: Mapping[str, Sequence[str]] | None) -> str:
        """compiler_fingerprint, computed once per placeholders (it reads the compiler's source)."""
        if placeholders is self._last[0] and self._last[1]:
            return self._last[1]
        key = json.dumps({str(k): [str(v) for v in vals] for k, vals in (placeholders or {}).items()}, sort_keys=True)
        fingerprint = self._fingerprints.get(key)
        if fingerprint is None:
            fingerprint = self._fingerprints[key] = compiler_fingerprint(placeholders)
        self._last = (placeholders, fingerprint)
        return fingerprint

    # --- packs ---------------------------------------------------------------------------

    def _pack(self, fingerprint: str) -> _Pack:
        pack = self._packs.get(fingerprint)
        if pack is None:
            path = self.directory / f"rules-{fingerprint[:32]}.cache"
            pack = self._packs[fingerprint] = _Pack(path, self._read(path, fingerprint))
        return pack

    def _read(self, path: Path, fingerprint: str) -> dict[str, tuple[str, bytes]]:
        if not self.usable():
            return {}
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("compiled-rule cache %s not read: %s", path, exc)
            return {}
        try:
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode) or not _private(st):
                    log.warning("compiled-rule cache %s ignored: not a private regular file", path)
                    return {}
                data = handle.read()
            if not data.startswith(MAGIC):
                raise ValueError("not a compiled-rule cache")
            checksum, payload = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
            if hashlib.sha256(payload).digest() != checksum:
                raise ValueError("checksum mismatch (truncated or damaged)")
            stored_fingerprint, entries = _data_loads(payload)
            if stored_fingerprint != fingerprint or not isinstance(entries, dict):
                raise ValueError("written for other code or settings")
            for key, value in entries.items():
                if not (isinstance(key, str) and isinstance(value, tuple) and len(value) == 2):
                    raise ValueError("malformed entry")
            return entries
        except Exception as exc:  # a cache that does not read is rebuilt, never fatal
            log.warning("compiled-rule cache %s ignored and rebuilt: %s", path, exc)
            return {}

    # --- entries -------------------------------------------------------------------------

    def lookup(self, fingerprint: str, path: str, digest: str) -> tuple[list[CompiledRule], list[Any]] | None:
        """(rules, rejections) stored for this file's bytes, or None."""
        if not self.usable():
            return None
        stored = self._pack(fingerprint).entries.get(path)
        if stored is None or stored[0] != digest:
            return None
        try:
            encoded, rejected = _data_loads(stored[1])
            rules = [_decode_rule(e, self._literals) for e in encoded]
        except Exception as exc:  # a bad entry is a miss, and is overwritten by the caller's store
            log.warning("compiled-rule cache entry for %s ignored: %s", path, exc)
            return None
        self.hits += 1
        return rules, list(rejected)

    def store(
        self, fingerprint: str, path: str, digest: str, rules: Sequence[CompiledRule], rejected: Sequence[Any]
    ) -> None:
        if not self.usable() or any(rule.plan is None for rule in rules):
            return
        blob = pickle.dumps(([_encode_rule(rule) for rule in rules], list(rejected)), protocol=pickle.HIGHEST_PROTOCOL)
        pack = self._pack(fingerprint)
        if pack.entries.get(path) != (digest, blob):
            pack.entries[path] = (digest, blob)
            pack.dirty = True

    def flush(self) -> None:
        """Write every changed pack (atomically), dropping entries of files that no longer exist."""
        for fingerprint, pack in self._packs.items():
            if not pack.dirty:
                continue
            entries = {p: e for p, e in pack.entries.items() if p.startswith("uploaded:") or os.path.exists(p)}
            payload = pickle.dumps((fingerprint, entries), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                self._write(pack.path, MAGIC + hashlib.sha256(payload).digest() + payload)
            except OSError as exc:
                log.warning("compiled-rule cache %s not written: %s", pack.path, exc)
                continue
            pack.dirty = False
            self._prune(keep={p.path for p in self._packs.values()})

    def _prune(self, keep: set[Path]) -> None:
        try:
            others = [p for p in self.directory.glob("rules-*.cache") if p not in keep]
            others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in others[KEEP_OTHER_PACKS:]:
                stale.unlink()
        except OSError as exc:
            log.warning("compiled-rule cache %s: old packs not removed: %s", self.directory, exc)

    def _write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Around reading many entries: unpickling allocates tens of thousands of objects, none of
    them garbage, and the collector's passes over them would cost as much as the reading."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = [
    "DeferredPredicate",
    "RuleCache",
    "compiler_fingerprint",
    "default_cache_dir",
    "file_digest",
    "gc_paused",
    "rule_cache_for",
]

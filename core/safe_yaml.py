"""The one YAML loader for text a user gives us (rule uploads, rule tests, backtests, rule files).

`yaml.safe_load` builds no objects, but it does expand aliases: nine lines of `&a [*b, *b, …]` are
a tree of 10⁹ leaves to whoever walks it (pySigma does), 19 s and 0.9 GB from 2.7 KB of YAML.
This loader refuses aliases outright (Sigma rules never need them), and bounds the size of the
text, the nesting depth and the number of nodes, each with a message that says which limit.

It is libyaml's C loader (`yaml.CSafeLoader`) when PyYAML was built with it, else the pure-Python
one; either way the composed node graph is checked before anything is constructed from it. An
alias is a node reached twice (the composer hands back the anchored node itself), so one walk
with a set of seen nodes finds every alias, and also stops at a recursive one.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000
MAX_YAML_DOCUMENTS = 1000

_Base: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class RefusedYAML(yaml.YAMLError):
    """YAML that parses but is refused (aliases, too deep, too many nodes, too large)."""


class BoundedSafeLoader(_Base):
    """A safe loader that refuses aliases and bounds depth and node count, per document."""

    max_depth = MAX_YAML_DEPTH
    max_nodes = MAX_YAML_NODES

    def get_node(self) -> Any:
        return self._checked(super().get_node())

    def get_single_node(self) -> Any:
        return self._checked(super().get_single_node())

    def _checked(self, root: Any) -> Any:
        if root is None:
            return None
        seen: set[int] = set()
        stack: list[tuple[Any, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if id(node) in seen:
                raise RefusedYAML(
                    f"YAML aliases (*name) are not accepted: the value anchored{_where(node, 'at')} is used "
                    "again; write it out where it is used"
                )
            seen.add(id(node))
            if len(seen) > self.max_nodes:
                raise RefusedYAML(f"YAML document has more than {self.max_nodes} nodes")
            if depth > self.max_depth:
                raise RefusedYAML(f"YAML nesting is deeper than {self.max_depth} levels{_where(node)}")
            if isinstance(node, yaml.SequenceNode):
                stack.extend((child, depth + 1) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
        return root


def _where(node: Any, prefix: str = "") -> str:
    mark = getattr(node, "start_mark", None)
    if mark is None:
        return ""
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return f" {prefix} {where}" if prefix else f" ({where})"


def _check_size(text: str | bytes, max_bytes: int) -> None:
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise RefusedYAML(f"YAML text of {size} bytes is over the limit of {max_bytes}")


def load_all(
    text: str | bytes, *, max_bytes: int = MAX_YAML_BYTES, max_documents: int = MAX_YAML_DOCUMENTS
) -> list[Any]:
    """Every document of a multi-document YAML text, or RefusedYAML / yaml.YAMLError."""
    _check_size(text, max_bytes)
    loader = BoundedSafeLoader(text)
    try:
        documents: list[Any] = []
        while loader.check_data():
            if len(documents) >= max_documents:
                raise RefusedYAML(f"YAML text holds more than {max_documents} documents")
            documents.append(loader.get_data())
        return documents
    finally:
        loader.dispose()


def load(text: str | bytes, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """The single document of a YAML text (None when empty), or RefusedYAML / yaml.YAMLError."""
    _check_size(text, max_bytes)
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


__all__ = ["MAX_YAML_BYTES", "BoundedSafeLoader", "RefusedYAML", "load", "load_all"]

"""Linear-time matching for every regular expression and wildcard a rule yields.

Python's `re` backtracks: `(a|a)*$`, `a*a*a*…b` or the wildcard `*a*a*a*a*a*a*b` on a 90-character
line held the process for seconds, and nothing can interrupt it (it holds the GIL). So:

- a rule's regular expression runs on RE2 (`google-re2`), whose automata take time linear in the
  text whatever the pattern. RE2 has no backreferences, lookaround, atomic groups or possessive
  repeats; a rule that uses them is refused at load time with reason `unsupported regex` and RE2's
  own message. Python-only spellings are translated first (`\\Z` → `\\z`, `\\uXXXX` → `\\x{XXXX}`,
  `{,n}` → `{0,n}`). RE2's `\\d \\w \\s \\b` are ASCII, `$` (without `m`) is the end of the text only;
  docs/detection.md lists these differences.
- a Sigma wildcard (`*`, `?`) is matched by `Glob`, in pure Python with `str.find`: the
  pattern's fixed-length pieces are placed leftmost, one after another, which is exact for `*`
  and linear in the text for each piece. No regex is built for wildcards at all.

The RE2 binding is called at its lowest level (`_re2.RE2.Match` on UTF-8 bytes, no capture
groups): the module-level `re2.search` wraps each call in a generator and a match object and costs
ten times more. Plain literal, prefix, suffix and substring values never come here (matchers.py
keeps them on `in`, `str.startswith` and `str.endswith`).
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the parser behind `re`: Python's syntax check and error messages
from functools import lru_cache

from canhgac.core.errors import RuleError
from re2 import _re2

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_ANCHOR_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH = (-1, -1)

# Python's flags that RE2 can honour, as inline flags in front of the pattern.
_INLINE = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (hand-made JSON): keep the rest matchable
        return text.encode("utf-8", "surrogatepass")


def translate(source: str) -> str:
    """Python regex spelling → RE2 spelling, for the few constructs both have under other names."""
    out: list[str] = []
    i, n, in_class = 0, len(source), False
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n:
            nxt = source[i + 1]
            if nxt == "Z" and not in_class:
                out.append("\\z")
                i += 2
                continue
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                digits = source[i + 2 : i + 2 + width]
                if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                    out.append("\\x{" + digits + "}")
                    i += 2 + width
                    continue
            out.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            if source.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < n and source[i] == "]":  # a leading ] is a literal member
                out.append("]")
                i += 1
            continue
        if c == "{" and source.startswith("{,", i):
            close = source.find("}", i)
            if close > i + 2 and source[i + 2 : close].isdigit():
                out.append("{0," + source[i + 2 : close] + "}")
                i = close + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


class LinearRegex:
    """One compiled pattern; `search(text)` → bool, linear in len(text)."""

    __slots__ = ("_match", "source")

    def __init__(self, source: str, flags: int = 0, *, anchored: bool = False) -> None:
        self.source = source
        try:
            sre_parse.parse(source, flags)  # Python's verdict on the syntax, with its message
        except Exception as exc:  # the parser raises re.error and, on odd input, others
            raise RuleError(f"invalid regular expression {source!r}: {exc}", reason="invalid regex") from exc
        inline = "".join(letter for flag, letter in _INLINE if flags & flag)
        pattern = translate(source)
        if inline:
            pattern = f"(?{inline}){pattern}"
        options = _re2.RE2.Options()
        options.never_capture = True
        options.log_errors = False
        compiled = _re2.RE2(_to_bytes(pattern), options)
        if not compiled.ok():
            raise RuleError(
                f"regular expression {source!r} cannot run in linear time ({compiled.error()}); "
                "backreferences, lookahead/lookbehind, atomic groups and possessive repeats are not supported",
                reason="unsupported regex",
            )
        anchor = _ANCHOR_BOTH if anchored else _UNANCHORED
        match = compiled.Match

        def run(text: str) -> bool:
            data = _to_bytes(text)
            return match(anchor, data, 0, len(data))[0] != _NO_MATCH

        self._match = run

    def search(self, text: str) -> bool:
        return self._match(text)


@lru_cache(maxsize=8192)
def compile_regex(source: str, flags: int = 0) -> LinearRegex:
    """A rule's regex, compiled once per (source, flags); raises RuleError with the reason."""
    return LinearRegex(source, flags)


# --- wildcards -------------------------------------------------------------------------------

ANY_ONE = "?"  # in Glob pieces: one character, any


class Glob:
    """A Sigma wildcard value matched against the whole text without backtracking.

    `parts` alternate fixed-length pieces and stars, as string_shape gives them: a piece is a tuple
    of (literal text | None for one any-character). The pieces between stars are placed leftmost,
    in order (each placement found with str.find of its longest literal, then checked), which is
    exact because every piece has a fixed length: if any placement works, the leftmost one does.
    """

    __slots__ = ("_head", "_middle", "_min_len", "_stars", "_tail")

    def __init__(self, segments: list[list[str | None]], stars: bool) -> None:
        # segments: the fixed-length pieces between stars; with stars, the first is what must start
        # the text and the last what must end it (either may be empty).
        self._stars = stars
        compiled = [_Piece(seg) for seg in segments]
        self._head = compiled[0]
        self._tail = compiled[-1] if stars else None
        self._middle = tuple(compiled[1:-1]) if stars else ()
        self._min_len = sum(p.length for p in compiled)

    def fullmatch(self, text: str) -> bool:
        n = len(text)
        if not self._stars:
            return n == self._head.length and self._head.at(text, 0)
        if n < self._min_len:
            return False
        head, tail = self._head, self._tail
        assert tail is not None
        if not head.at(text, 0):
            return False
        end = n - tail.length
        if not tail.at(text, end):
            return False
        pos = head.length
        for piece in self._middle:
            found = piece.find(text, pos, end)
            if found < 0:
                return False
            pos = found + piece.length
        return True


class _Piece:
    """A fixed-length run of literal characters and any-one-character slots."""

    __slots__ = ("_anchor", "_anchor_at", "_checks", "length")

    def __init__(self, items: list[str | None]) -> None:
        self.length = len(items)
        runs: list[tuple[int, str]] = []  # (offset in the piece, literal run)
        start = None
        for i, item in enumerate([*items, None]):
            if item is not None and start is None:
                start = i
            elif item is None and start is not None:
                runs.append((start, "".join(x for x in items[start:i] if x is not None)))
                start = None
        if runs:
            self._anchor_at, self._anchor = max(runs, key=lambda r: len(r[1]))
        else:
            self._anchor_at, self._anchor = 0, ""
        self._checks = tuple(r for r in runs if r != (self._anchor_at, self._anchor))

    def at(self, text: str, pos: int) -> bool:
        if pos < 0 or pos + self.length > len(text):
            return False
        if self._anchor and not text.startswith(self._anchor, pos + self._anchor_at):
            return False
        for offset, run in self._checks:
            if not text.startswith(run, pos + offset):
                return False
        return True

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost position p in [start, end - length] where the piece matches, or -1."""
        last = end - self.length
        if not self._anchor:  # only any-character slots
            return start if start <= last else -1
        pos = start
        while pos <= last:
            hit = text.find(self._anchor, pos + self._anchor_at, last + self._anchor_at + len(self._anchor))
            if hit < 0:
                return -1
            candidate = hit - self._anchor_at
            if self.at(text, candidate):
                return candidate
            pos = candidate + 1
        return -1


def glob(parts: list[object], star: object, one: object) -> Glob:
    """Build a Glob from string_shape's parts: str runs, `star` and `one` markers."""
    segments: list[list[str | None]] = [[]]
    stars = False
    for part in parts:
        if part is star:
            stars = True
            segments.append([])
        elif part is one:
            segments[-1].append(None)
        else:
            segments[-1].extend(str(part))
    return Glob(segments, stars)


__all__ = ["Glob", "LinearRegex", "compile_regex", "glob", "translate"]

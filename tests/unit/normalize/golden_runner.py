"""Golden files: `golden/<parser>/input.log` (one record per line) -> `expected.jsonl`.

Each input line goes through a fresh envelope into one parser instance (kept across lines, so the
IIS `#Fields` state works as in production). A refused line is recorded as {"parse_error": …}.
Windows records: `golden/windows/<file>.input.log` -> `<file>.expected.jsonl` (name them
`windows/<file>`). `python tests/unit/normalize/golden_runner.py [name …]` rewrites expected files
on purpose; the tests only compare.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from canhgac.core.errors import ParseError
from canhgac.pipeline.normalize.base import parsers
from normalize_testkit import envelope

GOLDEN = Path(__file__).parent / "golden"


# golden/windows/<file>.input.log holds one JSON record per line for the parser named here.
WINDOWS_GOLDEN = {"evtx": "windows-evtx-json", "winlogbeat": "winlogbeat"}


def run_windows(file: str) -> list[dict[str, Any]]:
    parser = parsers.get(WINDOWS_GOLDEN[file])()
    lines = (GOLDEN / "windows" / f"{file}.input.log").read_bytes().splitlines()
    return [orjson.loads(orjson.dumps(parser.parse(envelope("windows", payload=orjson.loads(line))))) for line in lines]


def golden_names() -> list[str]:
    """Directories in the `input.log` layout (the Windows parsers keep their own layout)."""
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input.log").is_file())


def run(name: str) -> list[dict[str, Any]]:
    parser = parsers.get(name)()
    out: list[dict[str, Any]] = []
    # split("\n"), not splitlines(): auditd's ENRICHED format uses \x1d, a line break to Python.
    text = (GOLDEN / name / "input.log").read_text(encoding="utf-8")
    for line in text.removesuffix("\n").split("\n"):
        try:
            event = parser.parse(envelope(name, line))
        except ParseError as exc:
            out.append({"parse_error": exc.message})
            continue
        out.append(orjson.loads(orjson.dumps(event)))
    return out


def dump(events: list[dict[str, Any]]) -> str:
    return "".join(orjson.dumps(e, option=orjson.OPT_SORT_KEYS).decode() + "\n" for e in events)


def main(names: list[str]) -> None:
    for name in names or [*golden_names(), *(f"windows/{file}" for file in WINDOWS_GOLDEN)]:
        if name.startswith("windows/"):
            file = name.removeprefix("windows/")
            target = GOLDEN / "windows" / f"{file}.expected.jsonl"
            text = dump(run_windows(file))
        else:
            target = GOLDEN / name / "expected.jsonl"
            text = dump(run(name))
        changed = not target.exists() or target.read_text(encoding="utf-8") != text
        target.write_text(text, encoding="utf-8")
        print(f"{name}: {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env bash
# The quality gate anyone can run (CI runs the same checks as tests in tests/unit/test_lint.py):
# lint, format check, type check with imports resolved, and the layer contracts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python scripts/typecheck.py
# import-linter reads [tool.importlinter] in pyproject.toml, on the tree typecheck.py just built.
(cd build/typecheck && PYTHONPATH=. ../../.venv/bin/lint-imports ../../pyproject.toml)

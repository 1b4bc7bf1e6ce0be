#!/usr/bin/env bash
# Runs the whole test suite against real Kafka and OpenSearch: installs what is missing, starts
# the services (and stops them again if it started them), runs pytest. Extra args go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/local/install.sh"
started=""
if ! "$ROOT/deploy/local/services.sh" status >/dev/null 2>&1; then
  "$ROOT/deploy/local/services.sh" start
  started=1
fi
cleanup() { [[ -n "$started" ]] && "$ROOT/deploy/local/services.sh" stop || true; }
trap cleanup EXIT
# The tests find the services' addresses and credentials in $CANHGAC_RUN_DIR/canhgac.yml, written
# by services.sh (tests/conftest.py): they run as each component's principal, secured by default.
# pytest exits 5 when no test ran: that fails this script, as it should.
.venv/bin/python -m pytest -p no:cacheprovider "$@"

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
pytest=(.venv/bin/python -m pytest -p no:cacheprovider)
for arg in "$@"; do
  if [[ "$arg" != -* ]]; then  # a path or an option's value: run exactly what was asked, in one process
    "${pytest[@]}" "$@"
    exit $?
  fi
done
# The whole suite, in two phases. First, alone, the tests that stop or kill the shared servers or
# run their own cluster (markers disruptive, chaos in pyproject.toml): run first, Kafka restarts
# after its kill -9 with only their topics to recover, not the thousands the other tests create.
# Then everything else on two workers: most tests wait on the servers, not the CPU, and each
# isolates its topics, indices and ports. A test file is a unit of work (its module fixtures set
# up once); the files of the tests marked serial (syslog-ng's disk buffers are machine-wide) are
# one unit, so they run one after another (tests/conftest.py, SERIAL_FILES).
status=0
"${pytest[@]}" -m "disruptive or chaos" "$@" || status=$?
"${pytest[@]}" -n 2 --dist loadfile -m "not disruptive and not chaos" "$@" || status=$?
exit "$status"

#!/usr/bin/env bash
# Installs what is missing, starts Kafka and OpenSearch, and runs Canhgac with the demo feed.
# Ctrl-C stops Canhgac (the pipeline drains first); the services keep running for the next start
# (deploy/local/services.sh stop stops them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/local/install.sh"
"$ROOT/deploy/local/services.sh" start
# How to reach the services (secured by default: TLS, each component's own Kafka and OpenSearch
# user) is in the settings file services.sh wrote; CANHGAC_CONFIG names it unless set already.
export CANHGAC_CONFIG="${CANHGAC_CONFIG:-${CANHGAC_RUN_DIR:-/var/tmp/canhgac-run}/canhgac.yml}"
# That file also carries the single-node replication values (one broker, one node).
exec .venv/bin/canhgac run --demo "$@"

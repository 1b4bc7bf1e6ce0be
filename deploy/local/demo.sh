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
# services.sh runs one broker and one OpenSearch node: one copy of each topic and index (the
# production defaults, 3 copies with 2 in sync and 1 replica, need a cluster).
export CANHGAC_KAFKA__TOPICS__REPLICATION_FACTOR="${CANHGAC_KAFKA__TOPICS__REPLICATION_FACTOR:-1}"
export CANHGAC_KAFKA__TOPICS__MIN_INSYNC_REPLICAS="${CANHGAC_KAFKA__TOPICS__MIN_INSYNC_REPLICAS:-1}"
export CANHGAC_OPENSEARCH__NUMBER_OF_REPLICAS="${CANHGAC_OPENSEARCH__NUMBER_OF_REPLICAS:-0}"
exec .venv/bin/canhgac run --demo "$@"

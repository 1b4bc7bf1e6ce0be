#!/usr/bin/env bash
# Installs what is missing, starts Kafka and OpenSearch, and runs Canhgac with the demo feed.
# Ctrl-C stops Canhgac (the pipeline drains first); the services keep running for the next start
# (deploy/local/services.sh stop stops them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/local/install.sh"
"$ROOT/deploy/local/services.sh" start
exec .venv/bin/canhgac run --demo "$@"

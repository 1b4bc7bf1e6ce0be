#!/usr/bin/env bash
# Installs what Canhgac needs on a fresh machine: a Python 3.11 virtualenv with the project and
# its pinned dependencies (constraints.txt), and the Maven artifacts of Kafka and OpenSearch.
# Re-running is fast: it reuses the virtualenv and the caches.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[install] %s\n' "$*" >&2; }

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || { log "Python 3.11 is required"; exit 1; }

stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  log "creating .venv with $($PYTHON --version) and installing pinned dependencies"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
  rm -f .venv/.installed-* && touch "$stamp"
fi

command -v java >/dev/null || { log "Java 17 is required for Kafka and OpenSearch"; exit 1; }
command -v mvn >/dev/null || { log "Maven (mvn) is required to fetch Kafka and OpenSearch"; exit 1; }
# Debian packages: unzip and curl for the services, chromium for the console's browser tests
# (Playwright drives Debian's chromium; it never downloads a browser).
missing=()
command -v unzip >/dev/null || missing+=(unzip)
command -v curl >/dev/null || missing+=(curl)
[[ -n "${CANHGAC_SKIP_BROWSER:-}" ]] || [[ -x /usr/bin/chromium ]] || missing+=(chromium)
if (( ${#missing[@]} )); then
  log "installing ${missing[*]} from Debian's packages"
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    sudo apt-get update -q >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
fi
"$ROOT/deploy/local/services.sh" fetch
log "done"

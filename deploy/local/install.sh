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

# The rule engine's native matcher (native/, Rust via PyO3): built with cargo from crates.io at the
# versions of native/Cargo.lock, by maturin (pinned in native/pyproject.toml). rustup puts cargo in
# ~/.cargo/bin, which a non-login shell may not have on its PATH.
[[ -d "$HOME/.cargo/bin" ]] && PATH="$HOME/.cargo/bin:$PATH"
native_stamp=".venv/.native-$(cat native/Cargo.toml native/Cargo.lock native/pyproject.toml native/src/*.rs | sha256sum | cut -c1-16)"
if [[ ! -f "$native_stamp" ]]; then
  command -v cargo >/dev/null || { log "Rust (cargo) is required to build the native matcher in native/"; exit 1; }
  log "building the native matcher (native/, cargo + maturin)"
  .venv/bin/python -m pip install -q ./native
  rm -f .venv/.native-* && touch "$native_stamp"
fi

command -v java >/dev/null || { log "Java 17 is required for Kafka and OpenSearch"; exit 1; }
command -v mvn >/dev/null || { log "Maven (mvn) is required to fetch Kafka and OpenSearch"; exit 1; }
# Debian packages: unzip and curl for the services, chromium for the console's browser tests
# (Playwright drives Debian's chromium; it never downloads a browser).
missing=()
command -v unzip >/dev/null || missing+=(unzip)
command -v curl >/dev/null || missing+=(curl)
[[ -n "${CANHGAC_SKIP_BROWSER:-}" ]] || [[ -x /usr/bin/chromium ]] || missing+=(chromium)
# systemd-analyze checks the units in deploy/systemd (tests/unit/deploy).
command -v systemd-analyze >/dev/null || missing+=(systemd)
# WeasyPrint renders the incident notice's PDF (api/cases/report.py) with Pango, in fonts that
# carry Vietnamese diacritics.
# (grep reads all of ldconfig's output: with -q it would exit early, and pipefail would see SIGPIPE.)
/sbin/ldconfig -p 2>/dev/null | grep -F 'libpangoft2-1.0.so.0' >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]] || missing+=(fonts-dejavu-core)
# The real shippers the ingest tests run (foreground, private config; never the system service):
# rsyslog with RELP (omrelp), and syslog-ng. Debian lets only one system logger be installed
# (both provide system-log-daemon), so rsyslog is installed and syslog-ng-core is unpacked from
# Debian's own package into the cache (its libraries come from Debian as usual).
SYSLOG_NG_HOME="${CANHGAC_CACHE_DIR:-/var/tmp/canhgac-cache}/syslog-ng"
command -v rsyslogd >/dev/null || missing+=(rsyslog)
[[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so || -e /usr/lib/rsyslog/omrelp.so ]] || missing+=(rsyslog-relp)
need_syslog_ng=""
if [[ ! -x /usr/sbin/syslog-ng && ! -x "$SYSLOG_NG_HOME/usr/sbin/syslog-ng" ]]; then
  need_syslog_ng=1
  missing+=(libivykis0 libnet1 libjson-c5 libwrap0 libpcre3 libglib2.0-0 libcap2)
fi
as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }
if (( ${#missing[@]} )); then
  log "installing ${missing[*]} from Debian's packages"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
if [[ -n "$need_syslog_ng" ]]; then
  log "unpacking Debian's syslog-ng-core into $SYSLOG_NG_HOME"
  download="$(mktemp -d)"
  (cd "$download" && chmod 777 . && apt-get download -q syslog-ng-core >/dev/null)
  mkdir -p "$SYSLOG_NG_HOME" && dpkg-deb -x "$download"/syslog-ng-core_*.deb "$SYSLOG_NG_HOME"
  rm -rf "$download"
fi
"$ROOT/deploy/local/services.sh" fetch

# helm, for the chart's tests (helm lint, helm template): built once from the Go module proxy into
# the cache dir, outside the repository. The first build takes 5-15 minutes on 2 cores; later runs
# find it. The version flags are what helm's own Makefile sets (default Kubernetes version 1.36).
HELM_VERSION=v3.21.4
CACHE_DIR="${CANHGAC_CACHE_DIR:-/var/tmp/canhgac-cache}"
HELM="$CACHE_DIR/bin/helm"
if [[ "$("$HELM" version --short 2>/dev/null)" != "$HELM_VERSION"* ]]; then
  command -v go >/dev/null || { log "Go is required to build helm ($HELM_VERSION)"; exit 1; }
  log "building helm $HELM_VERSION from the Go module proxy into $HELM (once)"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" GOMODCACHE="$CACHE_DIR/go/mod" GOCACHE="$CACHE_DIR/go/build" GOFLAGS=-buildvcs=false \
    go install -ldflags "-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=36 \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
log "done"

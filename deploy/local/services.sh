#!/usr/bin/env bash
# Real Kafka (KRaft) and OpenSearch on loopback for development, demos and CI.
#
#   deploy/local/services.sh fetch    # Maven Central -> cache (reused; fast when cached)
#   deploy/local/services.sh start    # fetch if needed, start both, wait until healthy
#   deploy/local/services.sh stop     # stop both cleanly (SIGTERM, then wait)
#   deploy/local/services.sh status
#   deploy/local/services.sh reset    # stop and delete their data (not the cache)
#
# Environment: CANHGAC_CACHE_DIR (downloads, default /var/tmp/canhgac-cache),
# CANHGAC_RUN_DIR (data and logs, default /var/tmp/canhgac-run), KAFKA_PORT (19092),
# OPENSEARCH_PORT (19200), KAFKA_HEAP (512m), OPENSEARCH_HEAP (1g).
# OpenSearch refuses to run as root, so as root we run it as the unprivileged user `canhgac`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
OPENSEARCH_VERSION="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$HERE/pom.xml")"
CACHE_DIR="${CANHGAC_CACHE_DIR:-/var/tmp/canhgac-cache}"
RUN_DIR="${CANHGAC_RUN_DIR:-/var/tmp/canhgac-run}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
OPENSEARCH_PORT="${OPENSEARCH_PORT:-19200}"
OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-19300}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
OPENSEARCH_HEAP="${OPENSEARCH_HEAP:-1g}"
SERVICE_USER="${CANHGAC_SERVICE_USER:-canhgac}"

KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
OPENSEARCH_ZIP_HOME="$CACHE_DIR/opensearch-$OPENSEARCH_VERSION"
KAFKA_RUN="$RUN_DIR/kafka"
OPENSEARCH_RUN="$RUN_DIR/opensearch"

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fetch() {
  mkdir -p "$CACHE_DIR"
  if [[ ! -f "$KAFKA_HOME/.complete" ]]; then
    log "fetching Apache Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central"
    rm -rf "$KAFKA_HOME"
    mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$KAFKA_HOME/libs" || die "mvn could not fetch Kafka"
    touch "$KAFKA_HOME/.complete"
  fi
  # Bump when the assembled node changes (modules added), so caches from older scripts are rebuilt.
  local node_layout=2
  if [[ "$(cat "$OPENSEARCH_ZIP_HOME/.complete" 2>/dev/null)" != "$node_layout" ]]; then
    log "fetching OpenSearch $OPENSEARCH_VERSION (integ-test-zip) from Maven Central"
    rm -rf "$OPENSEARCH_ZIP_HOME" "$CACHE_DIR/opensearch-zip"
    mvn -q -B -f "$HERE/pom.xml" dependency:copy \
      -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" \
      -DoutputDirectory="$CACHE_DIR/opensearch-zip" || die "mvn could not fetch OpenSearch"
    (cd "$CACHE_DIR" && unzip -q "opensearch-zip/opensearch-$OPENSEARCH_VERSION.zip")
    # The integ-test-zip has only the transport module. Analysis-common (lowercase normalizer for
    # case-insensitive keyword sub-fields, asciifolding so "dang nhap" finds "đăng nhập") is one
    # jar on Maven Central: install it as a module with the descriptor its zip would carry.
    local mod="$OPENSEARCH_ZIP_HOME/modules/analysis-common"
    mvn -q -B -f "$HERE/pom.xml" dependency:copy \
      -Dartifact="org.opensearch.plugin:analysis-common:$OPENSEARCH_VERSION" \
      -DoutputDirectory="$mod" || die "mvn could not fetch analysis-common"
    cat > "$mod/plugin-descriptor.properties" <<PROPS
description=Adds analysis components (lowercase, asciifolding, ...)
version=$OPENSEARCH_VERSION
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version=$OPENSEARCH_VERSION
custom.foldername=
extended.plugins=
has.native.controller=false
PROPS
    local reindex="$OPENSEARCH_ZIP_HOME/modules/reindex"
    mvn -q -B -f "$HERE/opensearch-reindex.pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$reindex" || die "mvn could not fetch the reindex module"
    for jar in "$reindex"/*.jar; do
      [[ -e "$OPENSEARCH_ZIP_HOME/lib/$(basename "$jar")" ]] && rm -f "$jar"
    done
    cat > "$reindex/plugin-descriptor.properties" <<PROPS
description=The Reindex module adds APIs to reindex from one index to another or update documents in place.
version=$OPENSEARCH_VERSION
name=reindex
classname=org.opensearch.index.reindex.ReindexPlugin
java.version=11
opensearch.version=$OPENSEARCH_VERSION
custom.foldername=
extended.plugins=
has.native.controller=false
PROPS
    echo "$node_layout" > "$OPENSEARCH_ZIP_HOME/.complete"
  fi
}

kafka_pid() { [[ -f "$KAFKA_RUN/kafka.pid" ]] && kill -0 "$(cat "$KAFKA_RUN/kafka.pid")" 2>/dev/null && cat "$KAFKA_RUN/kafka.pid"; }
opensearch_pid() { [[ -f "$OPENSEARCH_RUN/opensearch.pid" ]] && kill -0 "$(cat "$OPENSEARCH_RUN/opensearch.pid")" 2>/dev/null && cat "$OPENSEARCH_RUN/opensearch.pid"; }

kafka_java() {
  java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2.properties" -Dkafka.logs.dir="$KAFKA_RUN/logs" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

start_kafka() {
  if kafka_pid >/dev/null; then log "Kafka already running (pid $(kafka_pid))"; return; fi
  mkdir -p "$KAFKA_RUN/logs" "$KAFKA_RUN/data"
  cat > "$KAFKA_RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_RUN/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
PROPS
  cat > "$KAFKA_RUN/log4j2.properties" <<PROPS
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $KAFKA_RUN/logs/server.log
appender.file.filePattern = $KAFKA_RUN/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache.kafka
logger.org.level = INFO
PROPS
  if [[ ! -f "$KAFKA_RUN/data/meta.properties" ]]; then
    log "formatting Kafka storage (KRaft, once)"
    local cluster_id
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_RUN/server.properties" \
      >"$KAFKA_RUN/logs/format.log" 2>&1 || { cat "$KAFKA_RUN/logs/format.log" >&2; die "Kafka storage format failed"; }
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (logs: $KAFKA_RUN/logs)"
  nohup bash -c "exec java -Xms$KAFKA_HEAP -Xmx$KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j2.configurationFile=$KAFKA_RUN/log4j2.properties -Dkafka.logs.dir=$KAFKA_RUN/logs -cp '$KAFKA_HOME/libs/*' kafka.Kafka $KAFKA_RUN/server.properties" \
    >"$KAFKA_RUN/logs/stdout.log" 2>&1 &
  echo $! > "$KAFKA_RUN/kafka.pid"
}

ensure_service_user() {
  if [[ "$(id -u)" != 0 ]]; then return; fi
  if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    log "creating unprivileged user $SERVICE_USER for OpenSearch (it refuses to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER" 2>/dev/null \
      || useradd -r -M -s /bin/false "$SERVICE_USER"
  fi
}

start_opensearch() {
  if opensearch_pid >/dev/null; then log "OpenSearch already running (pid $(opensearch_pid))"; return; fi
  ensure_service_user
  mkdir -p "$OPENSEARCH_RUN"
  # A node's home is a private copy of the distribution (config, plugins, tmp are written to).
  if ! cmp -s "$OPENSEARCH_ZIP_HOME/.complete" "$OPENSEARCH_RUN/home/.complete"; then
    rm -rf "$OPENSEARCH_RUN/home"
    cp -a "$OPENSEARCH_ZIP_HOME" "$OPENSEARCH_RUN/home"
  fi
  mkdir -p "$OPENSEARCH_RUN/data" "$OPENSEARCH_RUN/logs" "$OPENSEARCH_RUN/tmp"
  cat > "$OPENSEARCH_RUN/home/config/opensearch.yml" <<YML
cluster.name: canhgac-local
node.name: canhgac-local-1
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
discovery.type: single-node
path.data: $OPENSEARCH_RUN/data
path.logs: $OPENSEARCH_RUN/logs
action.auto_create_index: true
cluster.routing.allocation.disk.threshold_enabled: false
# Converted Sigma rules with long hash or package lists exceed the default 1,024 clauses.
indices.query.bool.max_clause_count: 16384
YML
  if [[ "$(id -u)" == 0 ]]; then
    chown -R "$SERVICE_USER" "$OPENSEARCH_RUN"
    # The service user must be able to traverse to its run dir.
    chmod o+x "$RUN_DIR"
  fi
  log "starting OpenSearch $OPENSEARCH_VERSION on 127.0.0.1:$OPENSEARCH_PORT (logs: $OPENSEARCH_RUN/logs)"
  local java_home
  java_home="${OPENSEARCH_JAVA_HOME:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}}"
  local cmd=(env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_JAVA_OPTS="-Xms$OPENSEARCH_HEAP -Xmx$OPENSEARCH_HEAP" OPENSEARCH_TMPDIR="$OPENSEARCH_RUN/tmp"
             "$OPENSEARCH_RUN/home/bin/opensearch" -d -p "$OPENSEARCH_RUN/opensearch.pid")
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u "$SERVICE_USER" -- "${cmd[@]}" >"$OPENSEARCH_RUN/logs/stdout.log" 2>&1 \
      || { tail -50 "$OPENSEARCH_RUN/logs/stdout.log" >&2; die "OpenSearch did not start; logs in $OPENSEARCH_RUN/logs"; }
  else
    "${cmd[@]}" >"$OPENSEARCH_RUN/logs/stdout.log" 2>&1 \
      || { tail -50 "$OPENSEARCH_RUN/logs/stdout.log" >&2; die "OpenSearch did not start; logs in $OPENSEARCH_RUN/logs"; }
  fi
}

wait_healthy() {
  local deadline=$((SECONDS + ${1:-180}))
  local kafka_ok="" os_ok=""
  while (( SECONDS < deadline )); do
    if [[ -z "$kafka_ok" ]]; then
      kafka_pid >/dev/null || { tail -40 "$KAFKA_RUN/logs/server.log" "$KAFKA_RUN/logs/stdout.log" >&2 2>/dev/null; die "Kafka exited; logs in $KAFKA_RUN/logs"; }
      # The broker opens its client listener once it has started (the log may have rolled over).
      if (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then
        kafka_ok=1; log "Kafka is up"
      fi
    fi
    if [[ -z "$os_ok" ]]; then
      if curl -fsS "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
        os_ok=1; log "OpenSearch is up"
      elif [[ -f "$OPENSEARCH_RUN/opensearch.pid" ]] && ! opensearch_pid >/dev/null; then
        tail -40 "$OPENSEARCH_RUN/logs/canhgac-local.log" >&2 2>/dev/null; die "OpenSearch exited; logs in $OPENSEARCH_RUN/logs"
      fi
    fi
    [[ -n "$kafka_ok" && -n "$os_ok" ]] && return 0
    sleep 1
  done
  [[ -z "$kafka_ok" ]] && log "Kafka not healthy in time; logs in $KAFKA_RUN/logs"
  [[ -z "$os_ok" ]] && log "OpenSearch not healthy in time; logs in $OPENSEARCH_RUN/logs"
  exit 1
}

stop_pid() {
  local name=$1 pid=$2
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "$name did not stop in 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  local pid
  if pid="$(kafka_pid)"; then stop_pid Kafka "$pid"; fi
  if pid="$(opensearch_pid)"; then stop_pid OpenSearch "$pid"; fi
  rm -f "$KAFKA_RUN/kafka.pid" "$OPENSEARCH_RUN/opensearch.pid"
}

status() {
  local rc=0
  if pid="$(kafka_pid)"; then echo "kafka: running (pid $pid) 127.0.0.1:$KAFKA_PORT"; else echo "kafka: stopped"; rc=1; fi
  if pid="$(opensearch_pid)"; then echo "opensearch: running (pid $pid) http://127.0.0.1:$OPENSEARCH_PORT"; else echo "opensearch: stopped"; rc=1; fi
  return $rc
}

case "${1:-}" in
  fetch) fetch ;;
  start) fetch; start_kafka; start_opensearch; wait_healthy "${2:-180}" ;;
  stop) stop ;;
  stop-opensearch) if pid="$(opensearch_pid)"; then stop_pid OpenSearch "$pid"; fi; rm -f "$OPENSEARCH_RUN/opensearch.pid" ;;
  kill-kafka) if pid="$(kafka_pid)"; then log "killing Kafka (SIGKILL, pid $pid)"; kill -KILL "$pid"; fi; rm -f "$KAFKA_RUN/kafka.pid" ;;
  status) status ;;
  reset) stop; rm -rf "$KAFKA_RUN" "$OPENSEARCH_RUN" ;;
  kafka-java) shift; kafka_java "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|stop-opensearch|kill-kafka" >&2; exit 2 ;;
esac

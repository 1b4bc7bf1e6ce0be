#!/usr/bin/env bash
# A local CLUSTER on loopback, beside (never instead of) the single node of services.sh:
# 3 Kafka 4.1 brokers (KRaft, combined mode: each process is a broker and one of 3 controller
# voters, so the metadata quorum survives one lost node) and 3 OpenSearch 2.19 nodes (each
# cluster-manager eligible and a data node), secured exactly like the single node (services.sh:
# TLS, SASL/SCRAM, Kafka ACLs, the OpenSearch security plugin with deploy/opensearch/security/).
#
#   deploy/local/cluster.sh start            # start what is not running, wait until healthy
#   deploy/local/cluster.sh stop             # stop every node (SIGTERM, then wait)
#   deploy/local/cluster.sh status           # each node running or not; cluster health
#   deploy/local/cluster.sh reset            # kill every node, delete data and secrets (not the cache)
#   deploy/local/cluster.sh kill-kafka N     # SIGKILL broker N (1-3); `start` brings it back
#   deploy/local/cluster.sh kill-opensearch N
#   deploy/local/cluster.sh start-kafka N    # start one node, wait until it serves (start-opensearch N)
#
# It reuses services.sh's functions (cache, secrets, security config) with its own run dir, so
# it has its own CA, passwords and data. Every start writes $CANHGAC_CLUSTER_DIR/canhgac.yml:
# all brokers, all nodes, replication factor 3, min.insync.replicas 2, one index replica.
#
# Environment: CANHGAC_CLUSTER_DIR (default /var/tmp/canhgac-cluster), CANHGAC_CLUSTER_PORT_BASE
# (default 23400: Kafka clients BASE+1..3, controllers BASE+11..13, OpenSearch HTTP BASE+21..23,
# transport BASE+31..33), CLUSTER_KAFKA_HEAP (320m), CLUSTER_OPENSEARCH_HEAP (448m): 3 x 320 MiB +
# 3 x 448 MiB of heap (about 3.5 GiB resident) fits a 2-core, 24 GiB machine running the single node.
# CLUSTER_JAVA_OPTS: more JVM options for every node (the chaos test passes -XX:TieredStopAtLevel=1:
# the quick JIT only, a faster start on a busy machine at some cost in peak throughput).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_DIR="${CANHGAC_CLUSTER_DIR:-/var/tmp/canhgac-cluster}"
PORT_BASE="${CANHGAC_CLUSTER_PORT_BASE:-23400}"
NODES=(1 2 3)
export CANHGAC_RUN_DIR="$CLUSTER_DIR"
unset CANHGAC_INSECURE  # the cluster is always secured
# shellcheck source=services.sh
CANHGAC_SERVICES_LIB=1 source "$HERE/services.sh" "$@"
KAFKA_HEAP="${CLUSTER_KAFKA_HEAP:-320m}"
OPENSEARCH_HEAP="${CLUSTER_OPENSEARCH_HEAP:-448m}"
JAVA_EXTRA="${CLUSTER_JAVA_OPTS:-}"
SECURED=1
log() { printf '[cluster] %s\n' "$*" >&2; }

kafka_port() { echo $((PORT_BASE + $1)); }
controller_port() { echo $((PORT_BASE + 10 + $1)); }
http_port() { echo $((PORT_BASE + 20 + $1)); }
transport_port() { echo $((PORT_BASE + 30 + $1)); }
broker_dir() { echo "$CLUSTER_DIR/kafka-$1"; }
node_dir() { echo "$CLUSTER_DIR/opensearch-$1"; }
broker_pid() { live_pid "$(broker_dir "$1")/kafka.pid" "$(broker_dir "$1")"; }
# Just started: its process may not have exec'd java yet (its command line does not name the run
# dir for a moment), so liveness here is only "the pid we wrote is alive".
started_alive() { local pid; pid="$(cat "$1" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; }
node_pid() { live_pid "$(node_dir "$1")/opensearch.pid" "$(node_dir "$1")"; }
bootstrap() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(kafka_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local n out=(); for n in "${NODES[@]}"; do out+=("$n@127.0.0.1:$(controller_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
seed_hosts() { local n out=(); for n in "${NODES[@]}"; do out+=("\"127.0.0.1:$(transport_port "$n")\""); done; (IFS=,; echo "${out[*]}"); }
node_names() { local n out=(); for n in "${NODES[@]}"; do out+=("\"canhgac-cluster-$n\""); done; (IFS=,; echo "${out[*]}"); }

write_broker_config() {
  local n=$1 dir admin_password keystore_password
  dir="$(broker_dir "$n")"
  mkdir -p "$dir/logs" "$dir/data"
  admin_password="$(cat "$SECRETS/kafka-admin.password")"
  keystore_password="$(cat "$SECRETS/kafka-keystore.password")"
  (umask 077; cat > "$dir/server.properties" <<PROPS
listeners=CLIENT://127.0.0.1:$(kafka_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=CLIENT://127.0.0.1:$(kafka_port "$n")
inter.broker.listener.name=CLIENT
listener.security.protocol.map=CONTROLLER:SSL,CLIENT:SASL_SSL
sasl.enabled.mechanisms=$SASL_MECHANISM
sasl.mechanism.inter.broker.protocol=$SASL_MECHANISM
listener.name.client.${SASL_MECHANISM,,}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="canhgac-admin" password="$admin_password";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECRETS/kafka-broker.p12
ssl.keystore.password=$keystore_password
ssl.truststore.type=PEM
ssl.truststore.location=$SECRETS/ca.pem
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:canhgac-admin;User:canhgac-kafka-broker
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
controller.listener.names=CONTROLLER
log.dirs=$dir/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
PROPS
  )
  sed "s:$KAFKA_RUN:$dir:g" > "$dir/log4j2.properties" <<PROPS
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $KAFKA_RUN/logs/server.log
appender.file.filePattern = $KAFKA_RUN/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
PROPS
}

start_broker() {
  local n=$1 dir
  dir="$(broker_dir "$n")"
  if broker_pid "$n" >/dev/null; then return; fi
  KAFKA_RUN="$dir"
  write_broker_config "$n"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local scram=() c
    # SCRAM users go into the bootstrap metadata of every voter's storage (KRaft, format time).
    for c in "${KAFKA_USERS[@]}"; do
      scram+=(--add-scram "$SASL_MECHANISM=[name=$(user_name "$c"),password=$(cat "$SECRETS/kafka-$c.password")]")
    done
    kafka_java kafka.tools.StorageTool format -t "$(cat "$CLUSTER_DIR/kafka-cluster.id")" -c "$dir/server.properties" \
      "${scram[@]}" >"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; die "Kafka storage format failed (broker $n)"; }
  fi
  log "starting Kafka broker $n on 127.0.0.1:$(kafka_port "$n")"
  nohup bash -c "exec java -Xms$KAFKA_HEAP -Xmx$KAFKA_HEAP -XX:+UseG1GC -XX:ParallelGCThreads=1 -XX:CICompilerCount=2 $JAVA_EXTRA -Djava.awt.headless=true -Dlog4j2.configurationFile=$dir/log4j2.properties -Dkafka.logs.dir=$dir/logs -cp '$KAFKA_HOME/libs/*' kafka.Kafka $dir/server.properties" \
    >"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
}

start_node() {
  local n=$1 dir
  dir="$(node_dir "$n")"
  if node_pid "$n" >/dev/null; then return; fi
  OPENSEARCH_RUN="$dir"
  mkdir -p "$dir"
  if ! cmp -s "$OPENSEARCH_ZIP_HOME/.complete" "$dir/home/.complete"; then
    rm -rf "$dir/home"
    cp -a "$OPENSEARCH_ZIP_HOME" "$dir/home"
  fi
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp" "$CLUSTER_DIR/snapshots"
  cat > "$dir/home/config/opensearch.yml" <<YML
cluster.name: canhgac-cluster
node.name: canhgac-cluster-$n
network.host: 127.0.0.1
http.port: $(http_port "$n")
transport.port: $(transport_port "$n")
discovery.seed_hosts: [$(seed_hosts)]
cluster.initial_cluster_manager_nodes: [$(node_names)]
path.data: $dir/data
path.logs: $dir/logs
path.repo: $CLUSTER_DIR/snapshots
action.auto_create_index: true
cluster.routing.allocation.disk.threshold_enabled: false
indices.query.bool.max_clause_count: 16384
YML
  install_opensearch_security
  # A small heap: no memory-hungry caches, one GC thread (2 cores shared with the single node).
  local jvm="$dir/home/config/jvm.options.d/canhgac-cluster.options"
  mkdir -p "$(dirname "$jvm")"
  printf '%s\n' "-XX:ParallelGCThreads=1" "-XX:ConcGCThreads=1" "-XX:CICompilerCount=2" > "$jvm"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R "$SERVICE_USER" "$dir" "$CLUSTER_DIR/snapshots"
    chmod o+x "$CLUSTER_DIR"
  fi
  rm -f "$dir/opensearch.pid"
  log "starting OpenSearch node $n on 127.0.0.1:$(http_port "$n")"
  local cmd=(env OPENSEARCH_JAVA_HOME="$(java_home)" OPENSEARCH_JAVA_OPTS="-Xms$OPENSEARCH_HEAP -Xmx$OPENSEARCH_HEAP $JAVA_EXTRA"
             OPENSEARCH_TMPDIR="$dir/tmp" "$dir/home/bin/opensearch" -d -p "$dir/opensearch.pid")
  if [[ "$(id -u)" == 0 ]]; then cmd=(runuser -u "$SERVICE_USER" -- "${cmd[@]}"); fi
  "${cmd[@]}" >"$dir/logs/stdout.log" 2>&1 \
    || { tail -50 "$dir/logs/stdout.log" >&2; die "OpenSearch node $n did not start; logs in $dir/logs"; }
}

cluster_get() {  # path: GET as the admin user from the first node that answers
  local n
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null || continue
    printf 'user = "canhgac-admin:%s"\n' "$(cat "$SECRETS/opensearch-admin.password")" \
      | curl -fsS -m 5 -K - --cacert "$SECRETS/ca.pem" "https://127.0.0.1:$(http_port "$n")/$1" && return 0
  done
  return 1
}

wait_cluster_healthy() {
  local deadline=$((SECONDS + ${1:-300})) n pending
  while (( SECONDS < deadline )); do
    pending=""
    for n in "${NODES[@]}"; do
      started_alive "$(broker_dir "$n")/kafka.pid" || { tail -30 "$(broker_dir "$n")/logs/server.log" >&2 2>/dev/null; die "Kafka broker $n exited; logs in $(broker_dir "$n")/logs"; }
      [[ -f "$(node_dir "$n")/opensearch.pid" ]] && ! node_pid "$n" >/dev/null \
        && { tail -30 "$(node_dir "$n")/logs/canhgac-cluster.log" >&2 2>/dev/null; die "OpenSearch node $n exited; logs in $(node_dir "$n")/logs"; }
      (exec 3<>"/dev/tcp/127.0.0.1/$(kafka_port "$n")") 2>/dev/null || pending+=" kafka-$n"
    done
    # Every node joined and every shard (the security index included) has a primary.
    cluster_get "_cluster/health?wait_for_nodes=3&wait_for_status=yellow&timeout=2s" >/dev/null 2>&1 || pending+=" opensearch"
    [[ -z "$pending" ]] && return 0
    sleep 1
  done
  die "cluster not healthy in time (waiting for:$pending); logs under $CLUSTER_DIR"
}

write_cluster_config() {
  local c n urls=() tmp="$SERVICES_CONFIG.tmp"
  for n in "${NODES[@]}"; do urls+=("https://127.0.0.1:$(http_port "$n")"); done
  {
    echo "# Written by deploy/local/cluster.sh at each start: how Canhgac reaches the local cluster."
    echo "kafka:"
    echo "  bootstrap_servers: \"$(bootstrap)\""
    echo "  topics: {replication_factor: 3, min_insync_replicas: 2}"
    echo "  security:"
    echo "    protocol: SASL_SSL"
    echo "    sasl_mechanism: $SASL_MECHANISM"
    echo "    ca_file: \"$SECRETS/ca.pem\""
    echo "    credentials:"
    for c in "${KAFKA_USERS[@]}"; do
      echo "      $c: {username: $(user_name "$c"), password_file: \"$SECRETS/kafka-$c.password\"}"
    done
    echo "opensearch:"
    echo "  number_of_replicas: 1"
    echo "  url: \"$(IFS=,; echo "${urls[*]}")\""
    echo "  ca_file: \"$SECRETS/ca.pem\""
    echo "  credentials:"
    for c in "${OPENSEARCH_USERS[@]}"; do
      echo "    $c: {username: $(user_name "$c"), password_file: \"$SECRETS/opensearch-$c.password\"}"
    done
  } > "$tmp"
  mv "$tmp" "$SERVICES_CONFIG"
}

cluster_start() {
  local started=$SECONDS n
  fetch
  mkdir -p "$CLUSTER_DIR"
  echo secured > "$CLUSTER_DIR/mode"
  KAFKA_RUN="$(broker_dir 1)"
  ensure_secrets
  if [[ ! -f "$CLUSTER_DIR/kafka-cluster.id" ]]; then
    # What `kafka-storage.sh random-uuid` prints (a UUID in URL-safe base64, never starting with
    # "-", which a command line would read as an option), without a JVM start.
    "$(python_env)" - > "$CLUSTER_DIR/kafka-cluster.id" <<'PY'
import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
    pass
print(cid)
PY
  fi
  ensure_service_user
  # Every node at once (formatting a broker's storage and starting a node each take a JVM start).
  local pids=() pid
  for n in "${NODES[@]}"; do
    (start_node "$n") & pids+=($!)
    (start_broker "$n") & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || die "a node did not start (logs under $CLUSTER_DIR)"; done
  wait_cluster_healthy "${1:-300}"
  write_cluster_config
  for n in "${NODES[@]}"; do OPENSEARCH_RUN="$(node_dir "$n")"; copy_security_config; done
  OPENSEARCH_RUN="$(node_dir 1)" OPENSEARCH_PORT="$(http_port 1)" apply_security_config
  "$(python_env)" -m canhgac --config "$SERVICES_CONFIG" kafka setup >"$CLUSTER_DIR/setup.log" 2>&1 \
    || { cat "$CLUSTER_DIR/setup.log" >&2; die "canhgac kafka setup failed"; }
  log "ready in $((SECONDS - started)) s; Canhgac settings for the cluster: $SERVICES_CONFIG"
}

cluster_stop() {
  local n pid
  for n in "${NODES[@]}"; do  # all at once: each may take its 30 s
    if pid="$(broker_pid "$n")"; then stop_pid "Kafka broker $n" "$pid" & fi
    if pid="$(node_pid "$n")"; then stop_pid "OpenSearch node $n" "$pid" & fi
  done
  wait
  for n in "${NODES[@]}"; do rm -f "$(broker_dir "$n")/kafka.pid" "$(node_dir "$n")/opensearch.pid"; done
}

cluster_kill() {
  local n pid
  for n in "${NODES[@]}"; do
    if pid="$(broker_pid "$n")"; then kill -KILL "$pid"; fi
    if pid="$(node_pid "$n")"; then kill -KILL "$pid"; fi
  done
  for n in "${NODES[@]}"; do  # gone before their files are
    while pid="$(broker_pid "$n")" || pid="$(node_pid "$n")"; do sleep 0.2; done
  done
}

cluster_status() {
  local rc=0 n pid health
  echo "local cluster in $CLUSTER_DIR; Canhgac settings: $SERVICES_CONFIG"
  for n in "${NODES[@]}"; do
    if pid="$(broker_pid "$n")"; then echo "kafka-$n: running (pid $pid) 127.0.0.1:$(kafka_port "$n")"; else echo "kafka-$n: stopped"; rc=1; fi
    if pid="$(node_pid "$n")"; then echo "opensearch-$n: running (pid $pid) https://127.0.0.1:$(http_port "$n")"; else echo "opensearch-$n: stopped"; rc=1; fi
  done
  health="$(cluster_get "_cluster/health" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*"number_of_nodes":\([0-9]*\).*/\1, \2 nodes/p' || true)"
  echo "opensearch cluster: ${health:-no answer}"
  return $rc
}

start_one() {  # kind node: start one node and wait until it serves (a broker listens, a node joined)
  local kind=$1 n=$2 deadline=$((SECONDS + 300))
  KAFKA_RUN="$(broker_dir "$n")"
  if [[ "$kind" == kafka ]]; then start_broker "$n"; else start_node "$n"; fi
  while (( SECONDS < deadline )); do
    if [[ "$kind" == kafka ]]; then
      started_alive "$(broker_dir "$n")/kafka.pid" || die "Kafka broker $n exited; logs in $(broker_dir "$n")/logs"
      (exec 3<>"/dev/tcp/127.0.0.1/$(kafka_port "$n")") 2>/dev/null && return 0
    else
      [[ -f "$(node_dir "$n")/opensearch.pid" ]] && ! node_pid "$n" >/dev/null && die "OpenSearch node $n exited"
      cluster_get "_cluster/health?wait_for_nodes=3&wait_for_status=yellow&timeout=2s" >/dev/null 2>&1 && return 0
    fi
    sleep 1
  done
  die "$kind node $n did not come back in 300 s"
}

node_number() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || die "name a node: 1, 2 or 3"
  echo "$1"
}

main() {
case "${1:-}" in
  start) cluster_start "${2:-300}" ;;
  stop) cluster_stop ;;
  status) cluster_status ;;
  # Its data is deleted anyway: no graceful stop (a KRaft voter may wait 30 s for its quorum).
  reset) cluster_kill; rm -rf "$CLUSTER_DIR" ;;
  kill-kafka) n="$(node_number "${2:-}")"; if pid="$(broker_pid "$n")"; then log "SIGKILL Kafka broker $n (pid $pid)"; kill -KILL "$pid"; fi ;;
  kill-opensearch) n="$(node_number "${2:-}")"; if pid="$(node_pid "$n")"; then log "SIGKILL OpenSearch node $n (pid $pid)"; kill -KILL "$pid"; fi ;;
  start-kafka) start_one kafka "$(node_number "${2:-}")" ;;
  start-opensearch) start_one opensearch "$(node_number "${2:-}")" ;;
  *) echo "usage: $0 start|stop|status|reset|kill-kafka N|kill-opensearch N|start-kafka N|start-opensearch N" >&2; exit 2 ;;
esac
}

# One line, so bash has read all of it before it runs: editing this file under a running command
# cannot make that command read the edited bytes.
main "$@"; exit

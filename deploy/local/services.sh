#!/usr/bin/env bash
# Real Kafka (KRaft) and OpenSearch on loopback for development, demos and CI.
#
#   deploy/local/services.sh fetch    # Maven Central -> cache (reused; fast when cached)
#   deploy/local/services.sh start    # fetch if needed, start both, wait until healthy
#   deploy/local/services.sh stop     # stop both cleanly (SIGTERM, then wait)
#   deploy/local/services.sh status   # running or not, and healthy (with the generated credentials)
#   deploy/local/services.sh reset    # stop and delete their data and secrets (not the cache)
#
# Secured by default (docs/security.md): Kafka listens with SASL_SSL (SCRAM-SHA-512) and runs the
# StandardAuthorizer, one principal per Canhgac component, ACLs from `canhgac kafka setup`; the
# controller listener is TLS with client certificates. OpenSearch runs its security plugin: TLS on
# HTTP and transport, one internal user and role per component (deploy/opensearch/security/).
# The first secured start generates a CA, certificates and passwords in $CANHGAC_RUN_DIR/secrets/
# (mode 700, never committed). Every start writes $CANHGAC_RUN_DIR/canhgac.yml, the settings Canhgac
# needs to reach these services (demo.sh and the tests read it). CANHGAC_INSECURE=1 starts both
# without TLS or authentication, for quick development only.
#
# Environment: CANHGAC_CACHE_DIR (downloads, default /var/tmp/canhgac-cache),
# CANHGAC_RUN_DIR (data, logs, secrets, default /var/tmp/canhgac-run), KAFKA_PORT (19092),
# KAFKA_CONTROLLER_PORT (19093), OPENSEARCH_PORT (19200), OPENSEARCH_TRANSPORT_PORT (19300),
# KAFKA_HEAP (512m), OPENSEARCH_HEAP (1g), CANHGAC_INSECURE (unset: secured).
# OpenSearch refuses to run as root, so as root we run it as the unprivileged user `canhgac`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
OPENSEARCH_VERSION="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$HERE/pom.xml")"
SECURITY_PLUGIN_VERSION="$(sed -n 's:.*<opensearch-security.version>\(.*\)</opensearch-security.version>.*:\1:p' "$HERE/pom.xml")"
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
SECRETS="$RUN_DIR/secrets"
SERVICES_CONFIG="$RUN_DIR/canhgac.yml"
SECURED=1
[[ -n "${CANHGAC_INSECURE:-}" && "${CANHGAC_INSECURE}" != 0 ]] && SECURED=""
# One principal per component (core/config.py `Component`; usernames canhgac-<component>).
# Kafka: who produces or consumes; OpenSearch: who reads or writes an index.
KAFKA_USERS=(admin collectors normalizer indexer detector alert_indexer source_health notifier api)
OPENSEARCH_USERS=(admin collectors normalizer indexer detector alert_indexer source_health api retention)
SASL_MECHANISM=SCRAM-SHA-512

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

java_home() {
  echo "${OPENSEARCH_JAVA_HOME:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}}"
}

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
  local node_layout=3
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
      -Dopensearch.version="$OPENSEARCH_VERSION" -DoutputDirectory="$reindex" || die "mvn could not fetch the reindex module"
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
    # The security plugin (TLS, users, roles). Installed in every node; CANHGAC_INSECURE=1 disables it.
    log "fetching the OpenSearch security plugin $SECURITY_PLUGIN_VERSION from Maven Central"
    mvn -q -B -f "$HERE/pom.xml" dependency:copy \
      -Dartifact="org.opensearch.plugin:opensearch-security:$SECURITY_PLUGIN_VERSION:zip" \
      -DoutputDirectory="$CACHE_DIR/opensearch-zip" || die "mvn could not fetch the security plugin"
    OPENSEARCH_JAVA_HOME="$(java_home)" "$OPENSEARCH_ZIP_HOME/bin/opensearch-plugin" install --batch \
      "file://$CACHE_DIR/opensearch-zip/opensearch-security-$SECURITY_PLUGIN_VERSION.zip" \
      >"$CACHE_DIR/opensearch-zip/plugin-install.log" 2>&1 \
      || { cat "$CACHE_DIR/opensearch-zip/plugin-install.log" >&2; die "could not install the security plugin"; }
    echo "$node_layout" > "$OPENSEARCH_ZIP_HOME/.complete"
  fi
}

# --- Secrets: a local CA, certificates and one password per principal, made once per run dir ---

user_name() { echo "canhgac-${1//_/-}"; }

issue_cert() {  # name common-name [subjectAltName]: a key and a certificate signed by the local CA
  local name=$1 cn=$2 san=${3:-}
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SECRETS/$name.key" 2>/dev/null
  openssl req -new -key "$SECRETS/$name.key" -subj "/CN=$cn" -out "$SECRETS/$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } > "$SECRETS/$name.ext"
  openssl x509 -req -in "$SECRETS/$name.csr" -CA "$SECRETS/ca.pem" -CAkey "$SECRETS/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$SECRETS/$name.ext" -out "$SECRETS/$name.pem" 2>/dev/null
  rm -f "$SECRETS/$name.csr" "$SECRETS/$name.ext"
}

ensure_secrets() {
  command -v openssl >/dev/null || die "openssl is required for the secured services"
  if [[ ! -f "$SECRETS/.complete" ]]; then
    log "generating a local CA, certificates and passwords in $SECRETS (first secured start)"
    rm -rf "$SECRETS"
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    (
      umask 077
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SECRETS/ca.key" -out "$SECRETS/ca.pem" -days 3650 \
        -subj "/CN=Canhgac local CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      local san="IP:127.0.0.1,DNS:localhost"
      issue_cert kafka-broker canhgac-kafka-broker "$san"
      issue_cert opensearch-node canhgac-opensearch-node "$san"
      issue_cert opensearch-admin canhgac-opensearch-admin
      openssl rand -hex 24 > "$SECRETS/kafka-keystore.password"
      openssl pkcs12 -export -name kafka-broker -in "$SECRETS/kafka-broker.pem" -inkey "$SECRETS/kafka-broker.key" \
        -certfile "$SECRETS/ca.pem" -passout "file:$SECRETS/kafka-keystore.password" -out "$SECRETS/kafka-broker.p12"
      # Tells Kafka's data which secrets formatted it (SCRAM users live in its metadata).
      openssl rand -hex 8 > "$SECRETS/id"
    )
    touch "$SECRETS/.complete"
  fi
  # One password per principal; a principal added to the lists later gets one on the next start.
  local c
  for c in "${KAFKA_USERS[@]}"; do
    [[ -f "$SECRETS/kafka-$c.password" ]] && continue
    [[ -f "$KAFKA_RUN/data/meta.properties" ]] \
      && die "Kafka principal $(user_name "$c") is new, and SCRAM users are added when Kafka's storage is formatted: run '$0 reset', then start again."
    (umask 077; openssl rand -hex 24 > "$SECRETS/kafka-$c.password")
  done
  local users="$SECRETS/opensearch-internal_users.yml" stale=""
  for c in "${OPENSEARCH_USERS[@]}"; do
    [[ -f "$SECRETS/opensearch-$c.password" ]] || (umask 077; openssl rand -hex 24 > "$SECRETS/opensearch-$c.password")
    grep -q "^$(user_name "$c"):" "$users" 2>/dev/null || stale=1
  done
  [[ -z "$stale" ]] && return
  # OpenSearch's internal users, with bcrypt hashes of their passwords (applied by the plugin at
  # its first start, or by securityadmin when the file changed).
  (umask 077; "$(python_env)" - "$SECRETS" "${OPENSEARCH_USERS[@]}" <<'PY') || die "could not hash the OpenSearch passwords (is bcrypt installed?)"
import sys
from pathlib import Path

import bcrypt

secrets, components = Path(sys.argv[1]), sys.argv[2:]
lines = ['_meta: {type: "internalusers", config_version: 2}']
for component in components:
    password = (secrets / f"opensearch-{component}.password").read_text().strip().encode()
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=12)).decode()
    user = "canhgac-" + component.replace("_", "-")
    lines.append(f'{user}: {{hash: "{hashed}", reserved: true, description: "Canhgac {component}"}}')
(secrets / "opensearch-internal_users.yml").write_text("\n".join(lines) + "\n")
PY
}

write_services_config() {
  # Canhgac's settings for these services: passwords stay in their files, named here.
  local c tmp="$SERVICES_CONFIG.tmp"
  {
    echo "# Written by deploy/local/services.sh at each start: how Canhgac reaches these services."
    echo "# Use it with --config or CANHGAC_CONFIG (demo.sh and the tests do)."
    echo "kafka:"
    echo "  bootstrap_servers: \"127.0.0.1:$KAFKA_PORT\""
    # One broker and one node: the single-node values (the production defaults are 3, 2 and 1).
    echo "  topics: {replication_factor: 1, min_insync_replicas: 1}"
    if [[ -n "$SECURED" ]]; then
      echo "  security:"
      echo "    protocol: SASL_SSL"
      echo "    sasl_mechanism: $SASL_MECHANISM"
      echo "    ca_file: \"$SECRETS/ca.pem\""
      echo "    credentials:"
      for c in "${KAFKA_USERS[@]}"; do
        echo "      $c: {username: $(user_name "$c"), password_file: \"$SECRETS/kafka-$c.password\"}"
      done
    fi
    echo "opensearch:"
    echo "  number_of_replicas: 0"
    if [[ -n "$SECURED" ]]; then
      echo "  url: \"https://127.0.0.1:$OPENSEARCH_PORT\""
      echo "  ca_file: \"$SECRETS/ca.pem\""
      echo "  credentials:"
      for c in "${OPENSEARCH_USERS[@]}"; do
        echo "    $c: {username: $(user_name "$c"), password_file: \"$SECRETS/opensearch-$c.password\"}"
      done
    else
      echo "  url: \"http://127.0.0.1:$OPENSEARCH_PORT\""
    fi
  } > "$tmp"
  mv "$tmp" "$SERVICES_CONFIG"
}

python_env() {
  [[ -x "$ROOT/.venv/bin/python" ]] || die "the secured services need Canhgac's Python environment: run deploy/local/install.sh first (or CANHGAC_INSECURE=1)"
  echo "$ROOT/.venv/bin/python"
}

# A pid file survives a machine that stopped without stopping the services (a snapshot, a crash);
# after a reboot its number may belong to an unrelated process. A pid counts as ours only while that
# process's command line names our run directory.
live_pid() {
  local file=$1 run_dir=$2 pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$run_dir" || return 1
  echo "$pid"
}
kafka_pid() { live_pid "$KAFKA_RUN/kafka.pid" "$KAFKA_RUN"; }
opensearch_pid() { live_pid "$OPENSEARCH_RUN/opensearch.pid" "$OPENSEARCH_RUN"; }

kafka_java() {
  java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2.properties" -Dkafka.logs.dir="$KAFKA_RUN/logs" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

start_kafka() {
  if kafka_pid >/dev/null; then log "Kafka already running (pid $(kafka_pid))"; return; fi
  mkdir -p "$KAFKA_RUN/logs" "$KAFKA_RUN/data"
  (umask 077; : > "$KAFKA_RUN/server.properties")  # holds the keystore and admin passwords when secured
  if [[ -n "$SECURED" ]]; then
    local admin_password keystore_password
    admin_password="$(cat "$SECRETS/kafka-admin.password")"
    keystore_password="$(cat "$SECRETS/kafka-keystore.password")"
    # Clients: SASL_SSL with SCRAM, one user per component, ACLs (StandardAuthorizer, nothing allowed
    # without an ACL). Controller: TLS with client certificates; the broker's certificate maps to
    # the super user canhgac-kafka-broker. The broker talks to itself as canhgac-admin.
    cat > "$KAFKA_RUN/server.properties" <<PROPS
listeners=CLIENT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://127.0.0.1:$KAFKA_PORT
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
PROPS
  else
    cat > "$KAFKA_RUN/server.properties" <<PROPS
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
  fi
  cat >> "$KAFKA_RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
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
    local cluster_id scram=() c
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    if [[ -n "$SECURED" ]]; then
      # SCRAM users go into the metadata log at format time (KRaft), before any broker listens.
      for c in "${KAFKA_USERS[@]}"; do
        scram+=(--add-scram "$SASL_MECHANISM=[name=$(user_name "$c"),password=$(cat "$SECRETS/kafka-$c.password")]")
      done
    fi
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_RUN/server.properties" "${scram[@]}" \
      >"$KAFKA_RUN/logs/format.log" 2>&1 || { cat "$KAFKA_RUN/logs/format.log" >&2; die "Kafka storage format failed"; }
    [[ -n "$SECURED" ]] && cp "$SECRETS/id" "$KAFKA_RUN/data/canhgac-secrets.id"
  elif [[ -n "$SECURED" ]] && ! cmp -s "$SECRETS/id" "$KAFKA_RUN/data/canhgac-secrets.id"; then
    die "Kafka's data in $KAFKA_RUN was not formatted with these secrets (an unsecured run, or older secrets): its SCRAM users would not match. Run '$0 reset' (deletes the local data), then start again."
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
  mkdir -p "$OPENSEARCH_RUN/data" "$OPENSEARCH_RUN/logs" "$OPENSEARCH_RUN/tmp" "$OPENSEARCH_RUN/snapshots"
  cat > "$OPENSEARCH_RUN/home/config/opensearch.yml" <<YML
cluster.name: canhgac-local
node.name: canhgac-local-1
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
discovery.type: single-node
path.data: $OPENSEARCH_RUN/data
path.logs: $OPENSEARCH_RUN/logs
# Filesystem snapshot repositories live under here (docs/operations.md, Backup; the restore test).
path.repo: $OPENSEARCH_RUN/snapshots
action.auto_create_index: true
cluster.routing.allocation.disk.threshold_enabled: false
# Converted Sigma rules with long hash or package lists exceed the default 1,024 clauses.
indices.query.bool.max_clause_count: 16384
YML
  if [[ -n "$SECURED" ]]; then
    install_opensearch_security
  else
    echo "plugins.security.disabled: true" >> "$OPENSEARCH_RUN/home/config/opensearch.yml"
  fi
  if [[ "$(id -u)" == 0 ]]; then
    chown -R "$SERVICE_USER" "$OPENSEARCH_RUN"
    # The service user must be able to traverse to its run dir.
    chmod o+x "$RUN_DIR"
  fi
  rm -f "$OPENSEARCH_RUN/opensearch.pid"  # stale (checked above): wait_healthy must not read it
  log "starting OpenSearch $OPENSEARCH_VERSION on 127.0.0.1:$OPENSEARCH_PORT (logs: $OPENSEARCH_RUN/logs)"
  local cmd=(env OPENSEARCH_JAVA_HOME="$(java_home)" OPENSEARCH_JAVA_OPTS="-Xms$OPENSEARCH_HEAP -Xmx$OPENSEARCH_HEAP" OPENSEARCH_TMPDIR="$OPENSEARCH_RUN/tmp"
             "$OPENSEARCH_RUN/home/bin/opensearch" -d -p "$OPENSEARCH_RUN/opensearch.pid")
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u "$SERVICE_USER" -- "${cmd[@]}" >"$OPENSEARCH_RUN/logs/stdout.log" 2>&1 \
      || { tail -50 "$OPENSEARCH_RUN/logs/stdout.log" >&2; die "OpenSearch did not start; logs in $OPENSEARCH_RUN/logs"; }
  else
    "${cmd[@]}" >"$OPENSEARCH_RUN/logs/stdout.log" 2>&1 \
      || { tail -50 "$OPENSEARCH_RUN/logs/stdout.log" >&2; die "OpenSearch did not start; logs in $OPENSEARCH_RUN/logs"; }
  fi
}

SECURITY_CONFIG_FILES=(internal_users.yml roles.yml roles_mapping.yml)

install_opensearch_security() {
  # TLS on HTTP and transport with the local CA's certificates (copied into the node's config dir,
  # where the plugin may read them); users, roles and their mapping from deploy/opensearch/security/
  # and the generated internal_users.yml. The plugin loads them into its index on the first start
  # (allow_default_init_securityindex); later changes are applied by securityadmin (apply_security_config).
  local home="$OPENSEARCH_RUN/home"
  mkdir -p "$home/config/certs"
  cp "$SECRETS/ca.pem" "$SECRETS/opensearch-node.pem" "$SECRETS/opensearch-node.key" "$home/config/certs/"
  chmod 600 "$home/config/certs/opensearch-node.key"
  copy_security_config
  cat >> "$home/config/opensearch.yml" <<YML
plugins.security.ssl.transport.pemcert_filepath: certs/opensearch-node.pem
plugins.security.ssl.transport.pemkey_filepath: certs/opensearch-node.key
plugins.security.ssl.transport.pemtrustedcas_filepath: certs/ca.pem
plugins.security.ssl.transport.enforce_hostname_verification: false
plugins.security.ssl.http.enabled: true
plugins.security.ssl.http.pemcert_filepath: certs/opensearch-node.pem
plugins.security.ssl.http.pemkey_filepath: certs/opensearch-node.key
plugins.security.ssl.http.pemtrustedcas_filepath: certs/ca.pem
plugins.security.allow_default_init_securityindex: true
plugins.security.authcz.admin_dn: ["CN=canhgac-opensearch-admin"]
plugins.security.nodes_dn: ["CN=canhgac-opensearch-node"]
plugins.security.restapi.roles_enabled: ["all_access"]
plugins.security.system_indices.enabled: true
plugins.security.audit.type: noop
YML
}

copy_security_config() {
  local dir="$OPENSEARCH_RUN/home/config/opensearch-security"
  cp "$HERE/../opensearch/security/roles.yml" "$HERE/../opensearch/security/roles_mapping.yml" "$dir/"
  cp "$SECRETS/opensearch-internal_users.yml" "$dir/internal_users.yml"
  chmod 644 "$dir/roles.yml" "$dir/roles_mapping.yml" "$dir/internal_users.yml"
}

security_config_digest() {
  (cd "$OPENSEARCH_RUN/home/config/opensearch-security" && cat "${SECURITY_CONFIG_FILES[@]}") | sha256sum | cut -c1-32
}

apply_security_config() {
  # The first secured start initialised the security index from the files; when they changed since
  # (roles edited in deploy/, new secrets), securityadmin loads them into the running node.
  local digest applied="$OPENSEARCH_RUN/security-config.applied"
  copy_security_config
  digest="$(security_config_digest)"
  if [[ ! -f "$applied" ]]; then echo "$digest" > "$applied"; return; fi
  [[ "$(cat "$applied")" == "$digest" ]] && return
  log "OpenSearch security config changed: applying it with securityadmin"
  local home="$OPENSEARCH_RUN/home"
  JAVA_HOME="$(java_home)" bash "$home/plugins/opensearch-security/tools/securityadmin.sh" \
    -cd "$home/config/opensearch-security" -icl -nhnv -h 127.0.0.1 -p "$OPENSEARCH_PORT" \
    -cacert "$SECRETS/ca.pem" -cert "$SECRETS/opensearch-admin.pem" -key "$SECRETS/opensearch-admin.key" \
    >"$OPENSEARCH_RUN/logs/securityadmin.log" 2>&1 \
    || { tail -30 "$OPENSEARCH_RUN/logs/securityadmin.log" >&2; die "securityadmin failed; log in $OPENSEARCH_RUN/logs"; }
  echo "$digest" > "$applied"
}

opensearch_get() {  # path: GET as the admin user (secured) or anonymously
  if [[ -n "$SECURED" ]]; then
    # The password goes to curl on stdin (a config file), never on a command line.
    printf 'user = "canhgac-admin:%s"\n' "$(cat "$SECRETS/opensearch-admin.password")" \
      | curl -fsS -K - --cacert "$SECRETS/ca.pem" "https://127.0.0.1:$OPENSEARCH_PORT/$1"
  else
    curl -fsS "http://127.0.0.1:$OPENSEARCH_PORT/$1"
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
      if opensearch_get "_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
        os_ok=1; log "OpenSearch is up"
      elif [[ -f "$OPENSEARCH_RUN/opensearch.pid" ]] && ! opensearch_pid >/dev/null; then
        tail -40 "$OPENSEARCH_RUN/logs/canhgac-local.log" "$OPENSEARCH_RUN/logs/stdout.log" >&2 2>/dev/null; die "OpenSearch exited; logs in $OPENSEARCH_RUN/logs"
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
  local rc=0 pid health
  echo "mode: $([[ -n "$SECURED" ]] && echo secured || echo insecure); Canhgac settings: $SERVICES_CONFIG"
  if pid="$(kafka_pid)"; then
    health="not listening"
    (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null && health="listening"
    echo "kafka: running (pid $pid) 127.0.0.1:$KAFKA_PORT, $health"
  else
    echo "kafka: stopped"; rc=1
  fi
  if pid="$(opensearch_pid)"; then
    health="$(opensearch_get "_cluster/health" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true)"
    echo "opensearch: running (pid $pid) $([[ -n "$SECURED" ]] && echo https || echo http)://127.0.0.1:$OPENSEARCH_PORT, health: ${health:-no answer}"
  else
    echo "opensearch: stopped"; rc=1
  fi
  return $rc
}

start() {
  fetch
  mkdir -p "$RUN_DIR"
  local recorded
  recorded="$(cat "$RUN_DIR/mode" 2>/dev/null || true)"
  local mode; mode="$([[ -n "$SECURED" ]] && echo secured || echo insecure)"
  if [[ -n "$recorded" && "$recorded" != "$mode" ]] && { kafka_pid >/dev/null || opensearch_pid >/dev/null; }; then
    die "the services in $RUN_DIR run $recorded; stop them first ('$0 stop') to start them $mode"
  fi
  echo "$mode" > "$RUN_DIR/mode"
  [[ -n "$SECURED" ]] && ensure_secrets
  start_kafka
  start_opensearch
  wait_healthy "${1:-180}"
  write_services_config
  if [[ -n "$SECURED" ]]; then
    apply_security_config
    # Contract topics and the ACLs of every component's principal, as the admin principal.
    "$(python_env)" -m canhgac --config "$SERVICES_CONFIG" kafka setup >"$KAFKA_RUN/logs/setup.log" 2>&1 \
      || { cat "$KAFKA_RUN/logs/setup.log" >&2; die "canhgac kafka setup failed"; }
  fi
  log "ready; Canhgac settings for these services: $SERVICES_CONFIG"
}

# deploy/local/cluster.sh sources this file for its functions (secrets, fetch, security config):
# with CANHGAC_SERVICES_LIB=1 it defines them and runs no command.
if [[ "${CANHGAC_SERVICES_LIB:-}" == 1 ]]; then return 0; fi

# Commands other than start act on the services as they were started (secured or not; services
# started before this script recorded a mode ran unsecured).
if [[ "${1:-}" != start ]]; then
  if [[ -f "$RUN_DIR/mode" ]]; then
    SECURED=""; [[ "$(cat "$RUN_DIR/mode")" == secured ]] && SECURED=1
  elif kafka_pid >/dev/null || opensearch_pid >/dev/null; then
    SECURED=""
  fi
fi

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-180}" ;;
  stop) stop ;;
  stop-opensearch) if pid="$(opensearch_pid)"; then stop_pid OpenSearch "$pid"; fi; rm -f "$OPENSEARCH_RUN/opensearch.pid" ;;
  kill-kafka) if pid="$(kafka_pid)"; then log "killing Kafka (SIGKILL, pid $pid)"; kill -KILL "$pid"; fi; rm -f "$KAFKA_RUN/kafka.pid" ;;
  status) status ;;
  reset) stop; rm -rf "$KAFKA_RUN" "$OPENSEARCH_RUN" "$SECRETS" "$SERVICES_CONFIG" "$RUN_DIR/mode" ;;
  kafka-java) shift; kafka_java "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|stop-opensearch|kill-kafka" >&2; exit 2 ;;
esac

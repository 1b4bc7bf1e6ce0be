"""Typed settings. Built once in the entry point and passed down; never read from a global.

Sources, highest first: keyword arguments, `CANHGAC_*` environment variables (nested with `__`,
e.g. `CANHGAC_KAFKA__BOOTSTRAP_SERVERS`), the YAML file named by `--config` or `CANHGAC_CONFIG`,
then the defaults below. Every model rejects unknown keys so a typo fails at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from canhgac.core.archive_config import ArchiveConfig
from canhgac.core.cases_config import CasesConfig
from canhgac.core.compliance import ComplianceConfig
from canhgac.core.errors import ConfigError
from canhgac.core.host_silence import HostSilenceConfig
from canhgac.core.notify_config import NotifyConfig
from canhgac.core.report_config import ReportsConfig
from canhgac.core.timezones import parse_zone
from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Each component talks to Kafka and OpenSearch as its own principal (docs/security.md), so a
# compromised or buggy component can do only what its role allows. `admin` sets things up (topics,
# ACLs, index templates); no running stage needs it.
Component = Literal[
    "admin",
    "collectors",
    "normalizer",
    "indexer",
    "detector",
    "alert_indexer",
    "source_health",
    "notifier",
    "api",
    "retention",
]
COMPONENTS: tuple[Component, ...] = get_args(Component)


def component_of(name: str) -> Component:
    """The component of a stage or collector name (`alert-indexer` -> `alert_indexer`)."""
    key = name.replace("-", "_")
    for component in COMPONENTS:
        if component == key:
            return component
    raise ConfigError(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}")


class Credential(Strict):
    """A principal's username and password: inline, or (better) in a file only the service reads."""

    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _one_password(self) -> Credential:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("give exactly one of password and password_file")
        return self

    def secret(self) -> str:
        """The password (read from its file each time, so a rotated file is picked up on reconnect)."""
        if self.password is not None:
            return self.password.get_secret_value()
        assert self.password_file is not None
        try:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the password of {self.username}: {exc}", where=self.password_file) from exc


class KafkaSecurityConfig(Strict):
    """How clients authenticate to Kafka. The default (PLAINTEXT) is for development only; production
    uses SASL_SSL with one SCRAM user per component and the ACLs `canhgac kafka setup` creates."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    # CA bundle for the brokers' certificates; None: the system's trust store.
    ca_file: str | None = None
    credentials: dict[Component, Credential] = {}


class TopicsConfig(Strict):
    raw: str = "canhgac.raw.v1"
    events: str = "canhgac.events.v1"
    alerts: str = "canhgac.alerts.v1"
    dlq: str = "canhgac.dlq.v1"
    # Internal to the detector (docs/correlation.md, Scale-out): correlation inputs keyed by rule
    # family + group values, and the compacted changelog of each of its partitions' window state.
    correlation: str = "canhgac.correlation-input.v1"
    correlation_state: str = "canhgac.correlation-state.v1"
    # The notifier's single-owner election and state snapshots (docs/notifications.md, Replicas):
    # one partition, compacted.
    notifier_state: str = "canhgac.notifier-state.v1"
    # Agency-owned notification routes (API writes, notifier follows): one partition, compacted,
    # keyed `<agency>/<name>`; a tombstone removes a route.
    notify_routes: str = "canhgac.notify-routes.v1"
    partitions: int = Field(default=3, ge=1)
    # Production defaults: three copies of every record, and a write is acknowledged (acks=all) only
    # once two of them have it, so one broker can die without losing an acknowledged record.
    # A single broker (deploy/local, the tests) needs 1 and 1.
    replication_factor: int = Field(default=3, ge=1)
    min_insync_replicas: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> TopicsConfig:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas cannot exceed replication_factor (no write could ever succeed)")
        return self


class KafkaConfig(Strict):
    bootstrap_servers: str = "127.0.0.1:19092"
    client_id: str = "canhgac"
    # Consumer groups are <group_prefix>-<stage>; two deployments sharing a cluster need two prefixes.
    group_prefix: str = "canhgac"
    topics: TopicsConfig = TopicsConfig()
    security: KafkaSecurityConfig = KafkaSecurityConfig()
    # Producer: acks=all and idempotence are not options; they are the delivery guarantee.
    linger_ms: int = Field(default=5, ge=0)
    max_batch_bytes: int = Field(default=1_048_576, ge=16_384)
    request_timeout_ms: int = Field(default=30_000, ge=1000)


class OpenSearchConfig(Strict):
    url: str = "http://127.0.0.1:19200"
    # One user for every component (simple setups); `credentials` gives a component its own.
    username: str | None = None
    password: str | None = None
    verify_certs: bool = True
    # CA bundle for an https URL; None: the system's trust store.
    ca_file: str | None = None
    # Per component (security plugin roles in deploy/opensearch/security/roles.yml).
    credentials: dict[Component, Credential] = {}
    timeout_secs: float = Field(default=30.0, gt=0)
    # Index templates: shards of each event data stream's backing index, and copies of every
    # Canhgac index (events, alerts, config, audit). One replica survives losing one data node;
    # a single node (deploy/local, the tests) needs 0, or its indices stay yellow.
    number_of_shards: int = Field(default=1, ge=1)
    number_of_replicas: int = Field(default=1, ge=0)
    alerts_index: str = "canhgac-alerts"
    sources_index: str = "canhgac-sources"
    index_prefix: str = "logs-canhgac"
    # Users, sessions/tokens, rule exceptions, uploaded and disabled rules, API-made sources:
    # <config_index_prefix>-users, -sessions, -exceptions, -rules, -sources.
    config_index_prefix: str = "canhgac-config"
    audit_index: str = "canhgac-audit"

    @property
    def users_index(self) -> str:
        return f"{self.config_index_prefix}-users"

    @property
    def sessions_index(self) -> str:
        return f"{self.config_index_prefix}-sessions"

    @property
    def exceptions_index(self) -> str:
        return f"{self.config_index_prefix}-exceptions"

    @property
    def rules_index(self) -> str:
        return f"{self.config_index_prefix}-rules"

    @property
    def source_configs_index(self) -> str:
        # Declarations made through the API; `sources_index` holds the health stage's statistics.
        return f"{self.config_index_prefix}-sources"

    @property
    def indicators_index_prefix(self) -> str:
        # Threat-intel indicators, one index per tenant: `<this>-soc` (every agency) and
        # `<this>-<agency>`; the detector reads `<this>-*`.
        return f"{self.config_index_prefix}-indicators"

    def indicators_index(self, tenant: str) -> str:
        return f"{self.indicators_index_prefix}-{tenant}"

    @property
    def intel_feeds_index(self) -> str:
        return f"{self.config_index_prefix}-intel-feeds"

    @property
    def lists_index(self) -> str:
        # Watch and allow lists (core/watchlists.py), read by the detector.
        return f"{self.config_index_prefix}-lists"

    @property
    def lookups_index(self) -> str:
        # Lookup tables (core/lookups.py), read by the normaliser.
        return f"{self.config_index_prefix}-lookups"


class SyslogTcpConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=5514, ge=0, le=65535)
    max_message_bytes: int = Field(default=65_536, ge=256)
    max_connections: int = Field(default=1024, ge=1)
    max_connections_per_address: int = Field(default=64, ge=1)
    # A connection that sends nothing this long is closed, so dead peers do not hold a slot.
    idle_timeout_secs: float = Field(default=3600.0, gt=0)
    # On a clean stop each connection is half-closed and still read this long (or until the sender
    # closes), so what the sender already sent is stored rather than reset by the kernel.
    close_wait_secs: float = Field(default=2.0, gt=0)
    # A sender we have no source declaration for is still accepted on loopback in development;
    # production configs list sources and set this to null.
    default_source_id: str | None = "syslog-default"
    default_agency: str = "unknown"


class SyslogTlsConfig(SyslogTcpConfig):
    enabled: bool = False
    port: int = Field(default=6514, ge=0, le=65535)
    cert_file: str | None = None
    key_file: str | None = None
    # With a CA file, client certificates are asked for; `require_client_cert` makes them mandatory.
    client_ca_file: str | None = None
    require_client_cert: bool = False
    handshake_timeout_secs: float = Field(default=10.0, gt=0)
    default_source_id: str | None = None


class SyslogUdpConfig(Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=5514, ge=0, le=65535)
    max_message_bytes: int = Field(default=65_507, ge=256, le=65_535)
    receive_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=65_536)
    # Datagrams waiting for the sink; beyond this they are dropped and counted (UDP cannot push back).
    max_queued_messages: int = Field(default=100_000, ge=100)
    default_source_id: str | None = "syslog-default"
    default_agency: str = "unknown"


class ListenerConfig(Strict):
    """Connection limits of one HTTP listener, the API's or HTTP ingest's (core/http_listener.py).

    A connection over a cap is closed when accepted; one whose request head (request line and
    headers) takes longer than `header_timeout_secs` or more than `max_header_bytes` is closed."""

    max_connections: int = Field(default=1024, ge=1)
    max_connections_per_address: int = Field(default=128, ge=1)
    header_timeout_secs: float = Field(default=10.0, gt=0)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    # An idle kept-alive connection is closed after this (uvicorn's keep-alive timer).
    keep_alive_timeout_secs: float = Field(default=5.0, gt=0)
    backlog: int = Field(default=2048, ge=1)


class RelpConfig(Strict):
    """RELP (rsyslog's omrelp): each message is acknowledged only once Kafka or the spool has it."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=20514, ge=0, le=65535)
    # Largest DATA part of one frame; a longer message keeps its head (flagged) and the rest is skipped.
    max_frame_bytes: int = Field(default=131_072, ge=1024)
    # Commands received and not yet answered, per session; at the window the session is not read.
    window: int = Field(default=1024, ge=1)
    max_connections: int = Field(default=1024, ge=1)
    max_connections_per_address: int = Field(default=64, ge=1)
    idle_timeout_secs: float = Field(default=3600.0, gt=0)
    # A clean stop answers what was received before closing; this bounds the wait for the sink.
    shutdown_timeout_secs: float = Field(default=15.0, gt=0)
    # TLS from the first byte (omrelp `tls="on"`); with client_ca_file client certificates are asked for.
    cert_file: str | None = None
    key_file: str | None = None
    client_ca_file: str | None = None
    require_client_cert: bool = False
    handshake_timeout_secs: float = Field(default=10.0, gt=0)
    default_source_id: str | None = "syslog-default"
    default_agency: str = "unknown"


class HttpIngestConfig(Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9200, ge=0, le=65535)
    cert_file: str | None = None
    key_file: str | None = None
    # Limits the decoded body too, so a small gzip bomb is refused as soon as it expands past this.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_message_bytes: int = Field(default=1024 * 1024, ge=256)
    max_concurrent_requests: int = Field(default=64, ge=1)
    # Fair share: one source (one key) holds at most this many of the concurrent requests, so a
    # sender with slow bodies cannot take every slot; over it, that source gets 429.
    max_concurrent_requests_per_source: int = Field(default=8, ge=1)
    # Records one request may carry (native lines/array elements, or _bulk actions): a tiny gzip
    # body can expand into very many short records; over it, 413 and nothing is kept.
    max_records_per_request: int = Field(default=10_000, ge=1)
    # The whole body must arrive within this, or the request gets 408 and its slot is freed.
    body_timeout_secs: float = Field(default=60.0, gt=0)
    # Shippers keep connections open between bulk requests: a longer keep-alive than the API's.
    listener: ListenerConfig = ListenerConfig(keep_alive_timeout_secs=75.0)
    retry_after_secs: int = Field(default=5, ge=1)
    # Version reported to Elasticsearch clients by `GET /`; shippers pick their API dialect from it.
    es_version: str = "7.17.0"
    # How often sources declared through the API (and their rotated keys) are re-read from OpenSearch.
    api_sources_refresh_secs: float = Field(default=10.0, gt=0)


class FileInputConfig(Strict):
    source_id: str
    paths: tuple[str, ...] = Field(min_length=1)  # glob patterns
    # A line matching this regex starts a record; other lines join the record before them.
    multiline_start_pattern: str | None = None
    multiline_max_lines: int = Field(default=500, ge=1)
    multiline_timeout_secs: float = Field(default=2.0, gt=0)
    max_message_bytes: int = Field(default=1024 * 1024, ge=256)
    start_at: Literal["beginning", "end"] = "beginning"
    format: str | None = None


class FileTailConfig(Strict):
    enabled: bool = False
    inputs: tuple[FileInputConfig, ...] = ()
    poll_interval_secs: float = Field(default=0.5, gt=0)
    max_batch_records: int = Field(default=1000, ge=1)


class SpoolConfig(Strict):
    """On-disk queue used while Kafka is unreachable (data_dir/spool/<collector>/)."""

    max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024 * 1024)
    segment_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)
    # Group commit: appends are written and fsync'd together at most this often.
    fsync_interval_ms: int = Field(default=20, ge=0)
    retry_interval_secs: float = Field(default=2.0, gt=0)
    # A record Kafka has not acknowledged within this time is spooled instead.
    kafka_timeout_ms: int = Field(default=10_000, ge=1000)


class CollectorsConfig(Strict):
    syslog_tcp: SyslogTcpConfig = SyslogTcpConfig()
    syslog_udp: SyslogUdpConfig = SyslogUdpConfig()
    syslog_tls: SyslogTlsConfig = SyslogTlsConfig()
    relp: RelpConfig = RelpConfig()
    http: HttpIngestConfig = HttpIngestConfig()
    file: FileTailConfig = FileTailConfig()
    spool: SpoolConfig = SpoolConfig()


class StageConfig(Strict):
    max_batch_records: int = Field(default=2000, ge=1)
    fetch_timeout_ms: int = Field(default=200, ge=1)


class GeoIpConfig(Strict):
    # Country and AS name of public addresses (pipeline/normalize/geoip.py), offline from the
    # database the pinned geoip2fast package ships.
    enabled: bool = True
    fields: tuple[Literal["source", "destination", "client", "server"], ...] = (
        "source",
        "destination",
        "client",
        "server",
    )


class LookupsConfig(Strict):
    # Lookup tables (core/lookups.py): the normaliser writes the row an event's address or host
    # name matches to `canhgac.lookup.<side>`; tables edited through the API apply within
    # `refresh_secs`.
    enabled: bool = True
    fields: tuple[Literal["host", "source", "destination", "observer", "client", "server"], ...] = (
        "host",
        "source",
        "destination",
        "observer",
    )
    refresh_secs: float = Field(default=10.0, gt=0)


class PipelineConfig(Strict):
    normalizer: StageConfig = StageConfig()
    geoip: GeoIpConfig = GeoIpConfig()
    lookups: LookupsConfig = LookupsConfig()
    indexer: StageConfig = StageConfig()
    detector: StageConfig = StageConfig()
    alert_indexer: StageConfig = StageConfig(max_batch_records=500)
    bulk_max_retries: int = Field(default=8, ge=0)
    retry_backoff_max_secs: float = Field(default=30.0, gt=0)


class RulesConfig(Strict):
    paths: tuple[str, ...] = ()
    include_bundled_packs: bool = True
    reload_interval_secs: float = Field(default=5.0, gt=0)
    placeholders: dict[str, tuple[str, ...]] = {}
    # Correlation windows follow event time; an event this much older than its Kafka partition's
    # newest goes to the late path (its alerts say `correlation.late`) instead of the main windows.
    correlation_allowed_lateness_secs: int = Field(default=60, ge=0)
    # The correlator writes a partition's windows to its changelog at most this often (and when its
    # input goes idle); after a replica dies its successor recounts at most this much input.
    correlation_checkpoint_interval_secs: float = Field(default=2.0, ge=0)
    # Compiled rules are kept between restarts (rules/rule_cache.py), per rule file by its content
    # hash, in a folder only this service's user may write; empty: <data_dir>/rules-cache.
    compiled_cache: bool = True
    compiled_cache_dir: str = ""


class OnboardingConfig(Strict):
    """The collector addresses written into the shipper configurations the console generates for a
    new source (api/sources/onboarding.py): what agencies reach, which may differ from where the
    collectors listen (a load balancer, NAT). The defaults are the ones docs/sources/ shows."""

    collector_host: str = Field(default="soc-collector.tinh.gov.vn", min_length=1, max_length=253)
    relp_port: int = Field(default=20514, ge=1, le=65535)
    syslog_tcp_port: int = Field(default=5514, ge=1, le=65535)
    # HTTP ingest (native and `_bulk`) as shippers reach it.
    http_url: str = Field(default="https://soc-collector.tinh.gov.vn:9200", pattern=r"^https?://[^/\s]+$")


class ApiConfig(Strict):
    # Every route but /healthz, /readyz and /metrics needs a login; still loopback by default.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_search_size: int = Field(default=500, ge=1)
    session_ttl_secs: int = Field(default=8 * 3600, ge=60)
    token_max_ttl_days: int = Field(default=365, ge=1)
    # "auto": Secure cookies when the request came over TLS (X-Forwarded-Proto from a trusted proxy).
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    # Login limiting (api/auth/rate_limit.py, docs/security.md): per (account, address) and per
    # address, never per account alone, so nobody can lock the SOC out from outside. This many
    # failures start a wait that doubles with each further failure, from the initial to the max.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_backoff_initial_secs: float = Field(default=2.0, gt=0)
    login_backoff_max_secs: float = Field(default=900.0, gt=0)
    # Failures are forgotten this long after the last one (once any wait has ended).
    login_window_secs: int = Field(default=3600, ge=1)
    login_limiter_max_keys: int = Field(default=100_000, ge=100)
    # Reverse proxies (CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed; empty: none,
    # the client address is the TCP peer's.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    # Live alert streams (SSE): at most this many open per user; each re-checks its session and
    # user this often and ends when either is gone or disabled.
    max_streams_per_user: int = Field(default=4, ge=1)
    stream_recheck_secs: float = Field(default=15.0, gt=0)
    # A live stream ends after this long and the browser reconnects (Last-Event-ID): shutdown
    # never waits on an open stream.
    stream_max_secs: float = Field(default=300.0, gt=0)
    max_query_chars: int = Field(default=4096, ge=16)
    max_buckets: int = Field(default=500, ge=10)
    max_top_values: int = Field(default=50, ge=1)
    # Search exports (CSV, NDJSON) stop after this many rows; the response says so (X-Export-* headers).
    max_export_rows: int = Field(default=10_000, ge=1)
    stream_poll_secs: float = Field(default=2.0, gt=0)
    # Backtests run converted Sigma queries (leading wildcards included) over stored events: the
    # time range is what bounds their cost.
    max_backtest_days: int = Field(default=31, ge=1)
    console_dir: str | None = None  # default: the console bundled with the package (web/)
    # Request bodies (api/body_limit.py): over its route's limit a request gets 413 as soon as its
    # Content-Length or the bytes received so far say so; the /auth/ limit applies before any login.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_auth_body_bytes: int = Field(default=16 * 1024, ge=1024)
    # /rules: pasted YAML and up to 500 sample events per test.
    max_rule_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # The whole body must arrive within this, or the request gets 408.
    body_timeout_secs: float = Field(default=30.0, gt=0)
    listener: ListenerConfig = ListenerConfig()
    onboarding: OnboardingConfig = OnboardingConfig()


class MetricsListenerConfig(Strict):
    """`/metrics`, `/healthz` and `/readyz` of a process that does not serve the API (one stage, or
    the collectors alone); a process with the API serves them on the API's port instead. No login:
    bind it to the monitoring network. Two processes on one host need two ports."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    # Scrapes and probes are few: small caps, like every other listener (core/http_listener.py).
    listener: ListenerConfig = ListenerConfig(max_connections=64, max_connections_per_address=16, backlog=128)


Transport = Literal["syslog_tcp", "syslog_udp", "syslog_tls", "relp", "http", "file"]


class SourceConfig(Strict):
    id: str
    agency: str
    format: str = "syslog"
    security_level: Literal[1, 2, 3, 4, 5] = 3
    timezone: str = "Asia/Ho_Chi_Minh"
    allowed_addresses: tuple[str, ...] = ()
    expected_interval_secs: int = Field(default=3600, ge=1)
    # Empty means every transport; otherwise only these may carry this source's logs.
    transports: tuple[Transport, ...] = ()
    # Hex SHA-256 of the HTTP ingest key (`canhgac ingest-key` style: 32+ random bytes, so an
    # unsalted fast hash is safe); the key itself is never stored.
    ingest_key_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    # false: the source is still declared (its senders are recognised) but its records are refused
    # by the collectors and dead-lettered by the normaliser with reason `source_disabled`.
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            parse_zone(value)
        except ConfigError as exc:
            raise ValueError(exc.message) from exc
        return value


# Decree 53/2022 art. 27 asks service providers to keep system logs 12 months: no level below it.
MIN_LOG_RETENTION_DAYS = 365
DEFAULT_DAYS_BY_LEVEL: dict[int, int] = {1: 365, 2: 365, 3: 365, 4: 730, 5: 1095}


class RetentionConfig(Strict):
    """Days events are kept, by the source's security level (cấp độ an toàn hệ thống thông tin),
    and days alerts (closed ones) and the audit log are kept.

    Every default meets 12 months (Decree 53/2022 art. 27), longer for levels 4 and 5. Levels left
    out of `days_by_level` keep their default; a shorter period than 12 months is allowed (a
    province may decide so for test systems) but logged as a warning at start-up."""

    enabled: bool = True
    interval_secs: float = Field(default=3600.0, gt=0)
    days_by_level: dict[int, int] = dict(DEFAULT_DAYS_BY_LEVEL)
    default_level: Literal[1, 2, 3, 4, 5] = 3
    # Closed alerts whose last_seen is older; open alerts are never pruned (someone must close them).
    alerts_days: int = Field(default=365, ge=1)
    # Audit records older than this leave their hash chain through a signed-off `audit.pruned` record.
    audit_days: int = Field(default=365, ge=1)
    # Closed cases not changed for this long (their `updated_at`); open ones are never pruned.
    cases_days: int = Field(default=365, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _every_level(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("days_by_level"), dict):
            given = {int(k): v for k, v in values["days_by_level"].items()}
            values = {**values, "days_by_level": {**DEFAULT_DAYS_BY_LEVEL, **given}}
        return values

    @model_validator(mode="after")
    def _positive(self) -> RetentionConfig:
        if set(self.days_by_level) - {1, 2, 3, 4, 5}:
            raise ValueError("days_by_level: security levels are 1 to 5")
        if any(days < 1 for days in self.days_by_level.values()):
            raise ValueError("days_by_level: every level keeps events at least 1 day")
        return self

    def short_levels(self) -> list[int]:
        """Levels configured below 12 months (MIN_LOG_RETENTION_DAYS)."""
        return sorted(level for level, days in self.days_by_level.items() if days < MIN_LOG_RETENTION_DAYS)


class ReceiptsConfig(Strict):
    """Signed daily receipts per source (core/receipts.py): sealed by the API process for each day
    past `grace_secs` after local midnight, for the last `lookback_days` days not sealed yet."""

    # HMAC-SHA256 key, at least 32 random bytes (`head -c 32 /dev/urandom > receipt.key`); none: no
    # receipts are sealed (verification still needs it).
    signing_key_file: str | None = None
    grace_secs: int = Field(default=3600, ge=0)
    interval_secs: float = Field(default=600.0, gt=0)
    lookback_days: int = Field(default=7, ge=1, le=366)


class RetroHuntConfig(Strict):
    """Retro-hunts (api/retro, docs/threat-intel.md): stored events searched when indicators arrive
    or a rule is added or changed. One job at a time, paged, paced so live search keeps its share."""

    enabled: bool = True
    # How far back a hunt looks, from the moment it starts.
    lookback_days: int = Field(default=30, ge=1, le=366)
    # A job stops (marked truncated) past either bound.
    max_events_per_job: int = Field(default=100_000, ge=1)
    max_alerts_per_job: int = Field(default=1_000, ge=1)
    page_size: int = Field(default=500, ge=1, le=10_000)
    # Pacing: after each page the job sleeps so that searching takes at most this share of its wall
    # time (0.25: a page that took 0.2 s is followed by 0.6 s of sleep), and never less than the pause.
    max_duty_cycle: float = Field(default=0.25, gt=0, le=1)
    min_pause_secs: float = Field(default=0.1, ge=0)
    query_timeout_secs: int = Field(default=30, ge=1)
    # Indicators per query (terms and wildcard clauses); an indicator hunt with more runs several.
    max_indicators_per_query: int = Field(default=500, ge=1, le=10_000)
    # A job's indicators (an import of more is split into several jobs).
    max_indicators_per_job: int = Field(default=10_000, ge=1)
    check_interval_secs: float = Field(default=2.0, gt=0)
    # A running job's claim; a runner that died leaves it to be taken over after this.
    lease_secs: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANHGAC_", env_nested_delimiter="__", extra="forbid", frozen=True)

    kafka: KafkaConfig = KafkaConfig()
    opensearch: OpenSearchConfig = OpenSearchConfig()
    collectors: CollectorsConfig = CollectorsConfig()
    pipeline: PipelineConfig = PipelineConfig()
    rules: RulesConfig = RulesConfig()
    api: ApiConfig = ApiConfig()
    metrics_listener: MetricsListenerConfig = MetricsListenerConfig()
    sources: tuple[SourceConfig, ...] = ()
    # Sources declared through the API (and their edits, disabling, deletion) reach every component
    # (collectors, normaliser, source health, retention) within this time, no restart.
    sources_refresh_secs: float = Field(default=5.0, gt=0)
    # Per-host silence inside sources, with working hours and holidays (core/host_silence.py).
    host_silence: HostSilenceConfig = HostSilenceConfig()
    notify: NotifyConfig = NotifyConfig()
    retention: RetentionConfig = RetentionConfig()
    receipts: ReceiptsConfig = ReceiptsConfig()
    # Daily snapshots of the events and restore of a day (core/archive_config.py, core/archive.py).
    archive: ArchiveConfig = ArchiveConfig()
    # Periodic reports, and the e-mail of reports and receipts (core/report_config.py).
    reports: ReportsConfig = ReportsConfig()
    # Coverage by security level: the policy file and the rounds (core/compliance.py).
    compliance: ComplianceConfig = ComplianceConfig()
    cases: CasesConfig = CasesConfig()
    retro_hunt: RetroHuntConfig = RetroHuntConfig()
    data_dir: str = "var"
    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Merge the YAML file (if any) under the environment, then validate."""
    path = config_file or os.environ.get("CANHGAC_CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file: {exc}", where=str(path)) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("config file must hold a mapping", where=str(path))
        file_values = loaded or {}
    try:
        # Environment wins over the file: pydantic-settings merges init kwargs over env, so feed the
        # file as the lowest layer by building env-only settings first.
        env_only = Settings()
        merged = _deep_merge(file_values, env_only.model_dump(exclude_unset=True))
        merged = _deep_merge(merged, overrides)
        return Settings(**merged)
    except Exception as exc:  # pydantic.ValidationError, with every bad field listed
        raise ConfigError(f"invalid settings: {exc}", where=str(path) if path else "environment") from exc


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

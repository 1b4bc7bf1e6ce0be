"""Syslog over TLS (RFC 5425: same octet-counted framing as TCP, inside TLS).

With `client_ca_file` the server asks for a client certificate and verifies it against that CA
(`require_client_cert` makes one mandatory); the verified subject and the certificate's SHA-256
go into `peer.tls_subject`/`peer.tls_hash_sha256` (the event's `tls.client.*`) so an analyst can
tell which agency's certificate sent a record. The handshake begins on the client's first byte
(collectors/listener.py), so an idle-then-send shipper is not cut off.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from canhgac.collectors.base import LiveSourceDirectory
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.syslog.tcp import SyslogStreamCollector
from canhgac.core.config import RelpConfig, Settings, SyslogTlsConfig
from canhgac.core.errors import ConfigError
from canhgac.core.metrics import Metrics


def check_tls_files(cfg: SyslogTlsConfig | RelpConfig, where: str) -> None:
    """What every TLS listener checks before it is built (syslog over TLS, RELP over TLS)."""
    if cfg.require_client_cert and not cfg.client_ca_file:
        raise ConfigError("require_client_cert needs client_ca_file", where=where)
    for name in ("cert_file", "key_file", "client_ca_file"):
        path = getattr(cfg, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"{name} {path!r} does not exist", where=where)


def server_context(cfg: SyslogTlsConfig | RelpConfig, where: str) -> ssl.SSLContext:
    """The listener's TLS context; an unreadable certificate or key is a configuration error."""
    assert cfg.cert_file and cfg.key_file
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cfg.cert_file, cfg.key_file)
        if cfg.client_ca_file:
            context.load_verify_locations(cfg.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED if cfg.require_client_cert else ssl.CERT_OPTIONAL
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot load TLS certificate or key: {exc}", where=where) from exc
    return context


@COLLECTORS.register("syslog_tls")
class SyslogTlsCollector(SyslogStreamCollector):
    name = "syslog-tls"
    transport = "syslog_tls"

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.syslog_tls.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        cfg = settings.collectors.syslog_tls
        where = "collectors.syslog_tls"
        if not cfg.cert_file or not cfg.key_file:
            raise ConfigError("cert_file and key_file are required", where=where)
        check_tls_files(cfg, where)

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> SyslogTlsCollector:
        cfg = settings.collectors.syslog_tls
        context = server_context(cfg, "collectors.syslog_tls")
        directory = LiveSourceDirectory.from_settings(settings, cfg, transport=cls.transport)
        return cls(cfg, sink_factory(cls.name), directory, metrics, ssl_context=context)

"""The onboarding's shipper configurations (api/sources/shippers.py): rendered with the default
collector address, the rsyslog and syslog-ng ones are the documented blocks, character for
character — the blocks tests/integration/test_shippers_docs.py runs with the real daemons."""

from __future__ import annotations

from canhgac.api.sources.shippers import render
from canhgac.core.config import OnboardingConfig, SourceConfig

from tests.integration.shippers import doc_configs

KEY = "k3y-Of-32-random-bytes_xxxxxxxxxxxxxxxxxxxxx"


def configs(source: SourceConfig, key: str | None = KEY, **onboarding: object) -> dict[str, str]:
    return {c.shipper: c.text for c in render(source, OnboardingConfig.model_validate(onboarding), key)}


def test_rsyslog_and_syslog_ng_are_the_documented_blocks() -> None:
    """A failure here: docs/sources/ and api/sources/shippers.py differ; change both together."""
    got = configs(SourceConfig(id="web01", agency="so-tttt"))
    assert got["rsyslog"] == doc_configs("rsyslog.md")["60-canhgac-relp.conf"]
    assert got["syslog-ng"] == doc_configs("syslog-ng.md")["canhgac.conf"]
    tcp_only = configs(SourceConfig(id="web01", agency="so-tttt", transports=("syslog_tcp",)))
    assert tcp_only["rsyslog"] == doc_configs("rsyslog.md")["60-canhgac.conf"]


def test_http_shippers_carry_the_key_and_the_collector_address() -> None:
    got = configs(
        SourceConfig(id="ubnd-dc01", agency="ubnd", format="winlogbeat"),
        collector_host="log.tinh.gov.vn",
        http_url="https://log.tinh.gov.vn:8443",
    )
    assert "Authorization: Bearer " + KEY in got["nxlog"]
    assert "URL         https://log.tinh.gov.vn:8443/ingest/v1/ubnd-dc01" in got["nxlog"]
    assert f'password: "{KEY}"' in got["winlogbeat"] and 'username: "ubnd-dc01"' in got["winlogbeat"]
    assert f"HTTP_Passwd        {KEY}" in got["fluent-bit"] and "Port               8443" in got["fluent-bit"]
    assert 'target="log.tinh.gov.vn"' in got["rsyslog"]
    assert KEY not in got["rsyslog"] + got["syslog-ng"]  # syslog: the sender is known by its address
    iis = configs(SourceConfig(id="web-iis01", agency="so-tttt", format="iis-w3c"))
    assert "im_file" in iis["nxlog"] and "ContentType text/plain" in iis["nxlog"]
    placeholder = configs(SourceConfig(id="web-iis01", agency="so-tttt"), key=None)
    assert "<ingest key of source web-iis01>" in placeholder["fluent-bit"]

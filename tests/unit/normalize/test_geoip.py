"""GeoIP enrichment at normalisation: public addresses get country and network owner, from the
database the geoip2fast package ships (offline)."""

from __future__ import annotations

from canhgac.core.config import GeoIpConfig
from canhgac.pipeline.normalize.geoip import GeoIp

GEO = GeoIp(GeoIpConfig())


def test_public_vietnamese_address_gets_country_and_network_owner() -> None:
    event = {"source": {"ip": "14.160.1.1", "port": 51000}, "destination": {"ip": "8.8.8.8"}}
    GEO.enrich(event)
    assert event["source"]["geo"] == {"country_iso_code": "VN", "country_name": "Vietnam"}
    assert event["source"]["as"] == {"organization": {"name": "VNPT Corp"}}
    assert event["source"]["port"] == 51000
    assert event["destination"]["geo"]["country_iso_code"] == "US"
    assert event["destination"]["as"]["organization"]["name"] == "GOOGLE"


def test_ipv6_public_address() -> None:
    event = {"client": {"ip": "2001:4860:4860::8888"}}
    GEO.enrich(event)
    assert event["client"]["geo"]["country_iso_code"] == "US"


def test_private_reserved_and_invalid_addresses_get_nothing() -> None:
    for address in ("10.0.0.1", "192.168.1.5", "127.0.0.1", "192.0.2.1", "fe80::1", "not-an-ip", "203.0.113.7"):
        event = {"source": {"ip": address}}
        GEO.enrich(event)
        assert event == {"source": {"ip": address}}, address


def test_what_the_parser_set_is_kept_and_sides_are_configurable() -> None:
    event = {"source": {"ip": "8.8.8.8", "geo": {"country_iso_code": "XX"}}, "server": {"ip": "8.8.8.8"}}
    GeoIp(GeoIpConfig(fields=("source",))).enrich(event)
    assert event["source"]["geo"]["country_iso_code"] == "XX"  # a device's own GeoIP wins
    assert "geo" not in event["server"]
    GeoIp(GeoIpConfig(enabled=False)).enrich(event)
    assert "geo" not in event["server"]


def test_non_object_sides_are_left_alone() -> None:
    event = {"source": "8.8.8.8", "destination": {"ip": 134744072}}
    GEO.enrich(event)
    assert event == {"source": "8.8.8.8", "destination": {"ip": 134744072}}


async def test_the_normaliser_stage_adds_geo_to_what_it_produces() -> None:
    from canhgac.core.config import CollectorsConfig, KafkaConfig, StageConfig
    from canhgac.core.envelope import RawEnvelope
    from canhgac.core.metrics import Metrics
    from canhgac.pipeline.normalizer import NormalizerStage

    from tests.unit.pipeline.test_normalizer_agency import DECLARED, normalized

    line = "<38>1 2026-12-06T10:00:00Z dc01 sshd 42 - - Failed password for root from 14.160.1.1 port 22 ssh2"
    stage = NormalizerStage(KafkaConfig(), StageConfig(), Metrics(), [DECLARED], collectors=CollectorsConfig())
    raw = RawEnvelope(source_id="win-dc", agency="", collector="syslog-tcp", format="syslog", message=line)
    (event,) = await normalized(stage, raw)
    assert event["source"]["ip"] == "14.160.1.1"
    assert event["source"]["geo"]["country_iso_code"] == "VN"
    assert event["source"]["as"]["organization"]["name"] == "VNPT Corp"

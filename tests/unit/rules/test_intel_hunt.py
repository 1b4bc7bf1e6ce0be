"""Retro-hunts' pure part (rules/intel/hunt.py) and MISP REST answers (rules/intel/formats.py)."""

from __future__ import annotations

import pytest
from canhgac.pipeline.alerts import AlertGrouper
from canhgac.rules.convert import TYPED_FIELDS
from canhgac.rules.intel.alerts import rule_for
from canhgac.rules.intel.formats import misp_attributes, misp_timestamp, parse_misp_attributes
from canhgac.rules.intel.hunt import prefilter, stream_alert_id
from canhgac.rules.intel.indicators import Indicator, IndicatorType

EVENT = {
    "@timestamp": "2026-11-20T03:17:45.120Z",
    "event": {"id": "e1"},
    "host": {"name": "web01"},
    "user": {"name": "root"},
    "source": {"ip": "203.0.113.9"},
    "canhgac": {"agency": "so-yte"},
}


def test_a_retro_alert_has_the_id_the_stream_gives_the_same_group() -> None:
    """So a hunt never raises what the stream raised, and a re-run finds its own alerts."""
    indicator = Indicator("i1", IndicatorType.IPV4, "203.0.113.9", "manual")
    rule = rule_for(indicator)
    streamed = AlertGrouper().add(rule, EVENT)
    retro_id, bucket = stream_alert_id(rule.id, EVENT)
    assert retro_id == streamed["id"]
    assert bucket % 600 == 0 and bucket <= 1_795_144_665 < bucket + 600
    other_agency = {**EVENT, "canhgac": {"agency": "so-tttt"}}
    assert stream_alert_id(rule.id, other_agency)[0] != retro_id


def test_prefilter_asks_the_matchers_fields() -> None:
    indicators = [
        Indicator("a", IndicatorType.IPV4, "203.0.113.9", "f"),
        Indicator("b", IndicatorType.CIDR, "198.51.100.0/24", "f"),
        Indicator("c", IndicatorType.DOMAIN, "evil.example", "f"),
        Indicator("d", IndicatorType.SHA256, "ab" * 32, "f"),
        Indicator("e", IndicatorType.URL, "evil.example/login?x=1", "f"),
    ]
    query = prefilter(indicators, TYPED_FIELDS)
    assert query is not None
    should = query["bool"]["should"]
    assert {"terms": {"source.ip": ["203.0.113.9", "198.51.100.0/24"]}} in should
    assert {"terms": {"related.ip.ci": ["203.0.113.9"]}} in should  # keyword field: no networks
    assert {"terms": {"dns.question.name.ci": ["evil.example"]}} in should
    assert {"wildcard": {"dns.question.name.ci": {"value": "*.evil.example"}}} in should
    assert {"terms": {"file.hash.sha256.ci": ["ab" * 32]}} in should
    assert {"terms": {"url.domain.ci": ["evil.example"]}} in should
    assert {"wildcard": {"url.full.ci": {"value": "*evil.example/login\\?x=1*"}}} in should
    assert prefilter([], TYPED_FIELDS) is None


def test_misp_rest_answer() -> None:
    answer = {
        "response": {
            "Attribute": [
                {
                    "type": "ip-dst|port",
                    "value": "192.0.2.7|443",
                    "to_ids": True,
                    "timestamp": "1764000000",
                    "uuid": "u1",
                    "Event": {"info": "C2 servers", "threat_level_id": "2"},
                    "Tag": [{"name": "tlp:green"}],
                },
                {"type": "domain", "value": "x.example", "to_ids": False, "timestamp": "1764000500"},
                {"type": "vulnerability", "value": "CVE-2026-1", "to_ids": True, "timestamp": "1764000100"},
            ]
        }
    }
    attributes = misp_attributes(answer)
    assert [misp_timestamp(a) for a in attributes] == [1764000000, 1764000500, 1764000100]
    parsed = parse_misp_attributes(attributes)
    [candidate] = parsed.candidates
    assert (candidate.type, candidate.value, candidate.reason) == (IndicatorType.IPV4, "192.0.2.7", "C2 servers")
    assert candidate.severity is not None and candidate.severity.value == "medium" and candidate.tags == ("tlp:green",)
    assert parsed.skipped == {"not for detection (to_ids off)": 1, "MISP type vulnerability": 1}
    assert misp_attributes({"response": {"Attribute": []}}) == []
    assert misp_attributes({"response": [{"Attribute": answer["response"]["Attribute"][0]}]}) == attributes[:1]
    with pytest.raises(ValueError, match="no `response`"):
        misp_attributes({"errors": "nope"})

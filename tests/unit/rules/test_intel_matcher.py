"""The indicator matcher and normalisation (canhgac.rules.intel): CIDR edges in IPv4 and IPv6,
domains with subdomains, URLs, hashes, tenancy and expiry."""

from __future__ import annotations

import pytest
from canhgac.rules.intel.indicators import Indicator, IndicatorType, detect_type, normalise
from canhgac.rules.intel.matcher import IndicatorMatcher

T = IndicatorType
NOW = 1_800_000_000.0


def ind(kind: IndicatorType, value: str, **kw) -> Indicator:  # type: ignore[no-untyped-def]
    final_kind, final_value = normalise(kind, value)
    return Indicator(id=kw.pop("id", f"{final_kind}:{final_value}"), type=final_kind, value=final_value, feed="t", **kw)


def ids(matcher: IndicatorMatcher, event: dict, agency: str | None = "so-a", now: float = NOW) -> list[str]:
    return [h.indicator.id for h in matcher.match(event, agency, now)]


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        (T.IPV4, " 1.2.3.4 ", (T.IPV4, "1.2.3.4")),
        (T.IPV4, "1[.]2[.]3[.]4", (T.IPV4, "1.2.3.4")),
        (T.IPV6, "2001:DB8:0:0::1", (T.IPV6, "2001:db8::1")),
        (T.IPV6, "::ffff:198.51.100.7", (T.IPV4, "198.51.100.7")),
        (T.IPV6, "fe80::1%eth0", (T.IPV6, "fe80::1")),
        (T.CIDR, "10.1.2.3/8", (T.CIDR, "10.0.0.0/8")),
        (T.CIDR, "10.1.2.3/32", (T.IPV4, "10.1.2.3")),
        (T.CIDR, "2001:db8::/32", (T.CIDR, "2001:db8::/32")),
        (T.CIDR, "::ffff:10.0.0.0/104", (T.CIDR, "10.0.0.0/8")),
        (T.DOMAIN, "Evil.COM.", (T.DOMAIN, "evil.com")),
        (T.DOMAIN, "*.evil[.]com", (T.DOMAIN, "evil.com")),
        (T.DOMAIN, "bücher.example", (T.DOMAIN, "xn--bcher-kva.example")),
        (T.URL, "hxxps://Evil.COM:443/Path/x.exe?A=1#frag", (T.URL, "evil.com/Path/x.exe?A=1")),
        (T.URL, "http://evil.com:8080", (T.URL, "evil.com:8080/")),
        (T.URL, "evil.com/a", (T.URL, "evil.com/a")),
        (T.MD5, "D41D8CD98F00B204E9800998ECF8427E", (T.MD5, "d41d8cd98f00b204e9800998ecf8427e")),
        (T.SHA256, " " + "A" * 64, (T.SHA256, "a" * 64)),
        (T.EMAIL, "mailto:Bad.Guy@Evil.com", (T.EMAIL, "bad.guy@evil.com")),
        (T.USER_AGENT, " sqlmap/1.7  (https://sqlmap.org) ", (T.USER_AGENT, "sqlmap/1.7 (https://sqlmap.org)")),
    ],
)
def test_normalise(kind: IndicatorType, given: str, expected: tuple[IndicatorType, str]) -> None:
    assert normalise(kind, given) == expected


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (T.IPV4, "1.2.3.256"),
        (T.CIDR, "10.0.0.0/33"),
        (T.DOMAIN, "com"),
        (T.DOMAIN, "-bad-.com"),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427"),  # 31 characters
        (T.SHA1, "z" * 40),
        (T.EMAIL, "nobody"),
        (T.URL, "http://"),
        (T.DOMAIN, ""),
    ],
)
def test_normalise_refuses(kind: IndicatorType, given: str) -> None:
    with pytest.raises(ValueError):
        normalise(kind, given)


def test_detect_type() -> None:
    assert detect_type("203.0.113.9") is T.IPV4
    assert detect_type("2001:db8::/48") is T.CIDR
    assert detect_type("a" * 40) is T.SHA1
    assert detect_type("hxxp://evil[.]com/x") is T.URL
    assert detect_type("evil.com/x") is T.URL
    assert detect_type("a@evil.com") is T.EMAIL
    assert detect_type("evil.com") is T.DOMAIN
    with pytest.raises(ValueError):
        detect_type("Mozilla/5.0")


def test_ipv4_cidr_edges() -> None:
    matcher = IndicatorMatcher([ind(T.CIDR, "198.51.100.0/24"), ind(T.IPV4, "203.0.113.9"), ind(T.CIDR, "0.0.0.0/1")])
    assert ids(matcher, {"source": {"ip": "198.51.100.0"}}) == ["cidr:198.51.100.0/24"]
    assert ids(matcher, {"source": {"ip": "198.51.100.255"}}) == ["cidr:198.51.100.0/24"]
    assert ids(matcher, {"source": {"ip": "198.51.101.0"}}) == []  # one past the end (and >= 128.0.0.0)
    assert ids(matcher, {"source": {"ip": "198.51.99.255"}}) == []  # one before the start
    assert ids(matcher, {"destination": {"ip": "127.255.255.255"}}) == ["cidr:0.0.0.0/1"]
    assert ids(matcher, {"destination": {"ip": "0.0.0.0"}}) == ["cidr:0.0.0.0/1"]
    assert ids(matcher, {"destination": {"ip": "128.0.0.0"}}) == []
    assert ids(matcher, {"client": {"ip": "203.0.113.9"}}) == ["ipv4:203.0.113.9"]
    assert ids(matcher, {"client": {"ip": "203.0.113.8"}}) == []
    # IPv4-mapped IPv6 in an event is its IPv4 address.
    assert ids(matcher, {"source": {"ip": "::ffff:203.0.113.9"}}) == ["ipv4:203.0.113.9"]
    # Lists (related.ip) and not-an-address values.
    assert ids(matcher, {"related": {"ip": ["192.0.2.200", "203.0.113.9"]}, "server": {"ip": "nope"}}) == [
        "ipv4:203.0.113.9"
    ]


def test_ipv6_cidr_edges() -> None:
    matcher = IndicatorMatcher([ind(T.CIDR, "2001:db8:abcd::/48"), ind(T.IPV6, "2001:db8::dead:beef")])
    assert ids(matcher, {"source": {"ip": "2001:db8:abcd::"}}) == ["cidr:2001:db8:abcd::/48"]
    assert ids(matcher, {"source": {"ip": "2001:db8:abcd:ffff:ffff:ffff:ffff:ffff"}}) == ["cidr:2001:db8:abcd::/48"]
    assert ids(matcher, {"source": {"ip": "2001:db8:abce::"}}) == []
    assert ids(matcher, {"source": {"ip": "2001:db8:abcc:ffff:ffff:ffff:ffff:ffff"}}) == []
    assert ids(matcher, {"source": {"ip": "2001:0DB8:0:0:0:0:DEAD:BEEF"}}) == ["ipv6:2001:db8::dead:beef"]
    assert ids(matcher, {"source": {"ip": "fe80::1%eth0"}}) == []
    # An IPv4 address never meets an IPv6 table (0.0.0.0/... and ::/... are different spaces).
    assert ids(IndicatorMatcher([ind(T.CIDR, "::/1")]), {"source": {"ip": "1.2.3.4"}}) == []


def test_domains_urls_hashes_emails_agents() -> None:
    matcher = IndicatorMatcher(
        [
            ind(T.DOMAIN, "evil.com"),
            ind(T.URL, "http://bad.example/drop/x.exe?id=1"),
            ind(T.MD5, "D41D8CD98F00B204E9800998ECF8427E"),
            ind(T.SHA256, "b" * 64),
            ind(T.EMAIL, "Phish@Evil.org"),
            ind(T.USER_AGENT, "sqlmap/1.7"),
            ind(T.IPV4, "192.0.2.1"),
        ]
    )
    assert ids(matcher, {"dns": {"question": {"name": "CDN.Evil.com."}}}) == ["domain:evil.com"]
    assert ids(matcher, {"url": {"domain": "notevil.com"}}) == []  # a suffix, not a subdomain
    assert ids(matcher, {"url": {"domain": "evil.com.au"}}) == []
    assert ids(matcher, {"url": {"original": "HTTPS://bad.example:443/drop/x.exe?id=1#top"}}) == [
        "url:bad.example/drop/x.exe?id=1"
    ]
    assert ids(matcher, {"url": {"original": "/drop/x.exe?id=1", "domain": "bad.example"}}) == [
        "url:bad.example/drop/x.exe?id=1"
    ]
    assert ids(matcher, {"url": {"original": "/drop/x.exe?id=2", "domain": "bad.example"}}) == []
    assert ids(matcher, {"url": {"full": "http://a.evil.com/x"}}) == ["domain:evil.com"]  # the URL's host
    assert ids(matcher, {"url": {"full": "http://192.0.2.1:8080/x"}}) == ["ipv4:192.0.2.1"]
    assert ids(matcher, {"process": {"hash": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}}}) == [
        "md5:d41d8cd98f00b204e9800998ecf8427e"
    ]
    assert ids(matcher, {"file": {"hash": {"sha256": "B" * 64}}}) == [f"sha256:{'b' * 64}"]
    assert ids(matcher, {"related": {"hash": ["x", "b" * 64]}}) == [f"sha256:{'b' * 64}"]
    assert ids(matcher, {"email": {"from": {"address": "phish@evil.org"}}}) == ["email:phish@evil.org"]
    assert ids(matcher, {"user_agent": {"original": "sqlmap/1.7"}}) == ["user_agent:sqlmap/1.7"]
    assert ids(matcher, {"user_agent": {"original": "SQLMAP/1.7"}}) == []
    assert ids(matcher, {"user_agent": {"original": " sqlmap/1.7\t"}}) == ["user_agent:sqlmap/1.7"]
    assert ids(matcher, {"url.original": "/drop/x.exe?id=1", "url.domain": "bad.example"}) == [
        "url:bad.example/drop/x.exe?id=1"
    ]
    # Flat dotted keys (ECS allows both spellings).
    assert ids(matcher, {"source.ip": "192.0.2.1"}) == ["ipv4:192.0.2.1"]


def test_tenancy_and_expiry() -> None:
    matcher = IndicatorMatcher(
        [
            ind(T.IPV4, "192.0.2.1", id="soc-wide"),
            ind(T.IPV4, "192.0.2.1", id="of-a", agency="so-a"),
            ind(T.IPV4, "192.0.2.2", id="of-b", agency="so-b"),
            ind(T.IPV4, "192.0.2.3", id="expired", expires_at=NOW - 1),
            ind(T.IPV4, "192.0.2.3", id="not-yet", expires_at=NOW + 1),
        ]
    )
    assert ids(matcher, {"source": {"ip": "192.0.2.1"}}, "so-a") == ["soc-wide", "of-a"]
    assert ids(matcher, {"source": {"ip": "192.0.2.1"}}, "so-b") == ["soc-wide"]
    assert ids(matcher, {"source": {"ip": "192.0.2.2"}}, "so-a") == []
    assert ids(matcher, {"source": {"ip": "192.0.2.2"}}, "so-b") == ["of-b"]
    assert ids(matcher, {"source": {"ip": "192.0.2.2"}}, None) == []
    assert ids(matcher, {"source": {"ip": "192.0.2.3"}}) == ["not-yet"]
    assert ids(matcher, {"source": {"ip": "192.0.2.3"}}, now=NOW + 1) == []


def test_one_hit_per_indicator_and_where() -> None:
    matcher = IndicatorMatcher([ind(T.IPV4, "192.0.2.1")])
    hits = matcher.match({"related": {"ip": ["192.0.2.1"]}, "source": {"ip": "192.0.2.1"}}, "so-a", NOW)
    assert [(h.field, h.observed) for h in hits] == [("source.ip", "192.0.2.1")]  # related.* is the fallback
    assert matcher.match({"source": {"ip": "192.0.2.1"}}, "so-a", NOW) and len(matcher) == 1
    assert IndicatorMatcher([]).match({"source": {"ip": "192.0.2.1"}}, "so-a", NOW) == []


def test_nested_and_adjacent_networks() -> None:
    matcher = IndicatorMatcher(
        [
            ind(T.CIDR, "10.0.0.0/8"),
            ind(T.CIDR, "10.1.0.0/16"),
            ind(T.CIDR, "10.1.2.0/24"),
            ind(T.IPV4, "10.1.2.3"),
            ind(T.CIDR, "192.0.2.0/25"),
            ind(T.CIDR, "192.0.2.128/25"),
            ind(T.CIDR, "2001:db8::/32"),
            ind(T.CIDR, "2001:db8:1::/48"),
        ]
    )
    src = lambda ip: {"source": {"ip": ip}}  # noqa: E731
    assert ids(matcher, src("10.1.2.3")) == ["ipv4:10.1.2.3", "cidr:10.1.2.0/24", "cidr:10.1.0.0/16", "cidr:10.0.0.0/8"]
    assert ids(matcher, src("10.1.2.255")) == ["cidr:10.1.2.0/24", "cidr:10.1.0.0/16", "cidr:10.0.0.0/8"]
    assert ids(matcher, src("10.1.3.0")) == ["cidr:10.1.0.0/16", "cidr:10.0.0.0/8"]
    assert ids(matcher, src("10.1.1.255")) == ["cidr:10.1.0.0/16", "cidr:10.0.0.0/8"]
    assert ids(matcher, src("10.2.0.0")) == ["cidr:10.0.0.0/8"]
    assert ids(matcher, src("10.255.255.255")) == ["cidr:10.0.0.0/8"]
    assert ids(matcher, src("11.0.0.0")) == [] and ids(matcher, src("9.255.255.255")) == []
    assert ids(matcher, src("192.0.2.127")) == ["cidr:192.0.2.0/25"]
    assert ids(matcher, src("192.0.2.128")) == ["cidr:192.0.2.128/25"]
    assert ids(matcher, src("192.0.3.0")) == []
    assert ids(matcher, src("2001:db8:1:ffff::1")) == ["cidr:2001:db8:1::/48", "cidr:2001:db8::/32"]
    assert ids(matcher, src("2001:db8:2::1")) == ["cidr:2001:db8::/32"]
    assert ids(matcher, src("2001:db9::")) == []
    assert matcher.counts() == {"cidr": 7, "ipv4": 1}

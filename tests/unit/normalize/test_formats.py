"""The format names in core (what the API and settings accept) are exactly the parser registry's."""

from __future__ import annotations

import pytest
from canhgac.core.errors import ConfigError
from canhgac.core.formats import FORMAT_ALIASES, PARSER_FORMATS, canonical_format, resolve_format
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalizer import ParserCache


def test_parser_formats_are_the_registry() -> None:
    assert set(parsers.names()) == PARSER_FORMATS


@pytest.mark.parametrize(("alias", "target"), sorted(FORMAT_ALIASES.items()))
def test_every_alias_names_a_registered_parser_and_no_parser(alias: str, target: str) -> None:
    assert target in parsers, f"alias {alias!r} points at {target!r}, which no parser registers"
    assert alias not in parsers, f"alias {alias!r} hides the parser of that name"
    assert alias == alias.lower() and "_" not in alias


@pytest.mark.parametrize(
    ("written", "parser"),
    [
        ("nginx", "nginx-access"),
        ("Nginx", "nginx-access"),
        ("nginx_access", "nginx-access"),
        (" apache ", "apache-access"),
        ("windows", "winlogbeat"),
        ("fortinet", "fortigate"),
        ("syslog", "syslog"),
    ],
)
def test_aliases_resolve(written: str, parser: str) -> None:
    assert resolve_format(written) == parser


def test_unknown_format_lists_the_known_ones() -> None:
    assert canonical_format("nginxx") is None
    with pytest.raises(ConfigError) as exc:
        resolve_format("nginxx")
    assert "nginx-access" in exc.value.message and "nginx (nginx-access)" in exc.value.message


def test_normalizer_resolves_aliases() -> None:
    assert ParserCache().get("nginx", "Asia/Ho_Chi_Minh").name == "nginx-access"


def test_unknown_format_is_a_parse_error_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    from canhgac.pipeline.normalizer import normalize
    from normalize_testkit import envelope

    event, dead = normalize(envelope("nginxx", "GET / HTTP/1.1"), ParserCache(), None)
    assert event["event"]["kind"] == "pipeline_error"
    assert "unknown format 'nginxx'" in event["error"]["message"]
    assert dead is not None and dead["reason"] == "parse_error"
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a record of an unknown format"

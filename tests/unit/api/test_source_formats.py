"""Issue 12: the sources API refuses a format no parser has (it used to accept `nginx`, and every
record of the source became a pipeline_error); aliases resolve to the parser's name. The refusal is
a domain error (InvalidRequest: a 400 whose detail lists the known formats), raised by the service
for creations and edits alike."""

from __future__ import annotations

import pytest
from canhgac.api.sources.service import parser_format
from canhgac.core.errors import InvalidRequest


def test_alias_is_stored_as_the_parser_name() -> None:
    assert parser_format("nginx") == "nginx-access"
    assert parser_format("nginx_access") == "nginx-access"


def test_parser_name_is_kept() -> None:
    assert parser_format("winlogbeat") == "winlogbeat"


def test_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidRequest) as exc:
        parser_format("nginxx")
    text = exc.value.message
    assert "unknown format 'nginxx'" in text
    assert "nginx-access" in text and "winlogbeat" in text

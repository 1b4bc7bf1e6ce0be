"""Issue 12: the sources API refuses a format no parser has (it used to accept `nginx`, and every
record of the source became a pipeline_error); aliases resolve to the parser's name."""

from __future__ import annotations

import pytest
from canhgac.api.sources.models import SourceCreate
from pydantic import ValidationError


def test_alias_is_stored_as_the_parser_name() -> None:
    assert SourceCreate(id="portal-web", agency="so-tttt", format="nginx").format == "nginx-access"
    assert SourceCreate(id="portal-web", agency="so-tttt", format="nginx_access").format == "nginx-access"


def test_parser_name_is_kept() -> None:
    assert SourceCreate(id="dc01", agency="so-tttt", format="winlogbeat").format == "winlogbeat"


def test_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationError) as exc:
        SourceCreate(id="portal-web", agency="so-tttt", format="nginxx")
    text = str(exc.value)
    assert "unknown format 'nginxx'" in text
    assert "nginx-access" in text and "winlogbeat" in text

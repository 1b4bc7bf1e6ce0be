"""Which source and agency a sender gets (collectors/base.py SourceDirectory)."""

from __future__ import annotations

from canhgac.collectors.base import SourceDirectory
from canhgac.core.config import SourceConfig

DATA_CENTRE = SourceConfig(id="ttdl-servers", agency="ttdl", format="linux-auth", allowed_addresses=("10.20.0.0/16",))


def test_unmatched_sender_gets_the_declared_default_source_with_its_agency_and_format() -> None:
    directory = SourceDirectory((DATA_CENTRE,), default_source_id="ttdl-servers", default_agency="unknown")
    assert directory.lookup("192.0.2.7") == ("ttdl-servers", "ttdl", "linux-auth")


def test_undeclared_default_source_keeps_the_default_agency() -> None:
    directory = SourceDirectory((DATA_CENTRE,), default_source_id="syslog-default", default_agency="so-tttt")
    assert directory.lookup("192.0.2.7") == ("syslog-default", "so-tttt", None)
    assert directory.lookup("10.20.1.5") == ("ttdl-servers", "ttdl", "linux-auth")


def test_no_default_source_refuses_the_sender() -> None:
    assert SourceDirectory((DATA_CENTRE,)).lookup("192.0.2.7") is None

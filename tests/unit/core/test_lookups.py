"""Lookup tables: an address, network or host name finds its row; the most specific network
wins; the event's agency (tenancy) is never touched."""

from __future__ import annotations

from canhgac.core.lookups import LookupDirectory, LookupRow, LookupTable, parse_csv


def directory() -> LookupDirectory:
    return LookupDirectory(
        [
            LookupTable(
                name="assets",
                rows=(
                    LookupRow(match="10.20.0.0/16", agency="so-yte", owner="Phòng CNTT Sở Y tế"),
                    LookupRow(match="10.20.5.0/24", agency="so-yte", system="his-benhvien"),
                    LookupRow(match="10.20.5.7", agency="so-yte", system="his-db"),
                    LookupRow(match="WEB01", agency="so-tttt", system="cong-thong-tin"),
                ),
            )
        ]
    )


def test_most_specific_row_wins_and_names_match_by_first_label() -> None:
    d = directory()
    assert d.address("10.20.5.7").row.system == "his-db"  # type: ignore[union-attr]
    assert d.address("10.20.5.8").row.system == "his-benhvien"  # type: ignore[union-attr]
    assert d.address("10.20.9.1").row.owner == "Phòng CNTT Sở Y tế"  # type: ignore[union-attr]
    assert d.address("::ffff:10.20.5.7").row.system == "his-db"  # type: ignore[union-attr]
    assert d.address("10.21.0.1") is None
    assert d.host("web01.tinh.gov.vn").row.system == "cong-thong-tin"  # type: ignore[union-attr]


def test_enrich_writes_per_side_and_keeps_the_agency() -> None:
    event = {
        "source": {"ip": "10.20.5.8"},
        "host": {"name": "web01"},
        "canhgac": {"agency": "so-tttt", "lookup": {"source": {"agency": "forged"}}},
    }
    directory().enrich(event)
    assert event["canhgac"]["agency"] == "so-tttt"
    assert event["canhgac"]["lookup"] == {
        "host": {"table": "assets", "match": "web01", "agency": "so-tttt", "system": "cong-thong-tin"},
        "source": {"table": "assets", "match": "10.20.5.0/24", "agency": "so-yte", "system": "his-benhvien"},
    }
    forged = {"canhgac": {"lookup": {"source": {"agency": "forged"}}}, "source": {"ip": "8.8.8.8"}}
    directory().enrich(forged)
    assert "lookup" not in forged["canhgac"]


def test_csv_rows_and_problems() -> None:
    rows, problems = parse_csv("match,agency,system,owner\n10.1.0.0/16,so-gtvt,,Ông A\nnot valid!,x,,\n")
    assert rows[0].match == "10.1.0.0/16" and rows[0].system is None
    assert problems and problems[0].startswith("line 3")

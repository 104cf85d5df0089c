"""Parsing and checking catalogue files."""

from __future__ import annotations

import pytest

from precinct.core.catalogue import CatalogueError, category_of, code_level, parse_catalogue
from precinct.domains.incidents.catalogue import default_catalogue_text

HEADER = "code,parent,name_zh,name_en,priority,response_target_s\n"


def test_the_default_catalogue_follows_the_domain() -> None:
    entries = {e.code: e for e in parse_catalogue(default_catalogue_text())}
    categories = {e.name_zh for e in entries.values() if e.level == 1}
    assert {"报警", "求助", "投诉", "咨询", "无效警情"} <= categories
    burglary = entries["01010101"]
    assert (burglary.level, burglary.parent_code, burglary.priority) == (4, "01010100", 2)
    # An entry that sets no target inherits its parent's.
    assert entries["01010401"].response_target_s == 900
    assert all(e.priority is not None for e in entries.values() if e.level > 1)


def test_levels_and_categories() -> None:
    assert [code_level(c) for c in ("01000000", "01020000", "01020300", "01020304")] == [1, 2, 3, 4]
    assert category_of("01020304") == "01000000"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0100,,a,a,,\n", "not 8 upper-case"),
        ("01000000,,a,a,,\n01000000,,b,b,,\n", "appears twice"),
        ("01000000,,a,a,,\n01020000,02000000,b,b,2,\n", "must have parent 01000000"),
        ("01020000,01000000,b,b,2,\n", "not in the catalogue"),
        ("01000000,,a,a,7,\n", "outside 1..4"),
        ("01000000,,a,a,1,-5\n", "not positive"),
        ("01000000,,a,a,one,\n", "not a whole number"),
        ("01000000,,,a,1,\n", "Chinese and an English name"),
        ("", "no entries"),
    ],
)
def test_bad_catalogues_are_refused_line_by_line(rows: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(HEADER + rows)


def test_a_file_without_the_columns_is_refused() -> None:
    with pytest.raises(CatalogueError, match="header"):
        parse_catalogue("a,b\n1,2\n")

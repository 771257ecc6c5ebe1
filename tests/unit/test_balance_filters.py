"""Balance questions with several values per filter, year ranges, and the county-year view."""

import csv
import io
from dataclasses import fields

import numpy as np
import pytest

from commands.exports.csv_export import EXCEL_SV, csv_bytes, kronor_text
from commands.exports.records import named_fields, named_record, named_records, named_values
from projections.domain.counties import county_of, county_rows
from projections.domain.filters import Filters, parse_counties, parse_years
from projections.domain.rows import (
    AgencyYearRow,
    CountyYearRow,
    ProgrammeYearRow,
    RecipientYearRow,
    View,
)
from projections.replay import RecipientYearRows, RecipientYearTotals
from schemas.errors import InvalidQuery

MALMO, LUND, GOTEBORG, REGION_SKANE, ORG = "1280", "1281", "1480", "12", "8020123456"


def row(recipient: str, year: int, awarded: int, programme: str = "p") -> RecipientYearRow:
    """A recipient-year row with only `awarded` (and its request) set."""
    return RecipientYearRow(programme, recipient, year, awarded, awarded, awarded // 2, 0)


def test_years_take_single_years_and_inclusive_ranges() -> None:
    """`2019`, `2021..2022`: 2019, 2021 and 2022 kept, 2020 not."""
    filters = Filters(years=parse_years(["2019", "2021..2022"]))
    assert [y for y in range(2018, 2024) if filters.has_year(y)] == [2019, 2021, 2022]
    assert Filters(years=parse_years(["2020..2020"])).single_year == 2020


@pytest.mark.parametrize("raw", ["20x1", "2021..2019", "1800", "2019..", "..2019", "2019...2020"])
def test_a_year_that_is_not_one_is_refused_naming_it(raw: str) -> None:
    """InvalidQuery naming `year` and the value as given."""
    with pytest.raises(InvalidQuery) as refusal:
        parse_years([raw])
    assert (refusal.value.field, refusal.value.value) == ("year", raw)


def test_several_recipients_are_all_kept() -> None:
    """--recipient 1280 --recipient 1480 keeps both (it used to keep only the last)."""
    filters = Filters(recipients=(MALMO, GOTEBORG))
    rows = [row(MALMO, 2019, 1), row(LUND, 2019, 1), row(GOTEBORG, 2019, 1)]
    assert [r.recipient for r in rows if filters.keeps(r)] == [MALMO, GOTEBORG]
    assert filters.narrowest_selection(View.RECIPIENT_YEAR).recipient is None


def test_a_filter_the_view_has_no_column_for_is_refused() -> None:
    """A recipient in the agency-year view, a county outside county-year, an agency in
    recipient-year."""
    for filters, view, field in (
        (Filters(recipients=(MALMO,)), View.AGENCY_YEAR, "recipient"),
        (Filters(counties=("12",)), View.RECIPIENT_YEAR, "county"),
        (Filters(agencies=("delmos",)), View.RECIPIENT_YEAR, "agency"),
    ):
        with pytest.raises(InvalidQuery) as refusal:
            filters.check_for(view)
        assert refusal.value.field == field
    Filters(agencies=("delmos",)).check_for(View.PROGRAMME_YEAR)
    assert not Filters(agencies=("delmos",)).keeps(
        ProgrammeYearRow("p", 2019, "tillvaxtverket", 0, 0, 0, 0)
    )
    assert Filters(agencies=("delmos",)).keeps(AgencyYearRow("delmos", 2021, 1, 1, 0))


def test_unknown_county_codes_are_refused() -> None:
    """Only the 21 länskoder."""
    assert parse_counties(["12", "14", "12"]) == ("12", "14")
    with pytest.raises(InvalidQuery):
        parse_counties(["99"])


def test_county_year_rolls_municipalities_and_the_region_up_to_their_lan() -> None:
    """Malmö, Lund and Region Skåne sum into Skåne (12); Göteborg into Västra Götaland (14);
    an organisation has no län and is left out."""
    assert [county_of(code) for code in (MALMO, GOTEBORG, REGION_SKANE, ORG)] == [
        "12",
        "14",
        "12",
        None,
    ]
    rows = [
        row(MALMO, 2019, 100),
        row(LUND, 2019, 20),
        row(REGION_SKANE, 2019, 3),
        row(GOTEBORG, 2019, 50),
        row(ORG, 2019, 7),
        row(MALMO, 2020, 10),
    ]
    assert county_rows(rows) == [
        CountyYearRow("p", "12", 2019, 123, 123, 61, 0),
        CountyYearRow("p", "12", 2020, 10, 10, 5, 0),
        CountyYearRow("p", "14", 2019, 50, 50, 25, 0),
    ]


def test_records_carry_the_name_after_the_code() -> None:
    """recipient_name from the reference data; organisations by number; county names."""
    assert named_fields(View.RECIPIENT_YEAR)[:4] == (
        "programme_id",
        "recipient",
        "recipient_name",
        "year",
    )
    assert named_record(View.RECIPIENT_YEAR, row(MALMO, 2019, 1))["recipient_name"] == "Malmö"
    assert named_record(View.RECIPIENT_YEAR, row(ORG, 2019, 1))["recipient_name"] == (
        "Organisation 802012-3456"
    )
    county = named_record(View.COUNTY_YEAR, CountyYearRow("p", "12", 2019, 1, 1, 0, 0))
    assert county["county_name"] == "Skåne län"
    assert county["outstanding_ore"] == 1


def test_csv_for_swedish_excel_keeps_zeros_and_uses_decimal_commas() -> None:
    """BOM, semicolons, kronor with a decimal comma, codes as ="0123" text."""
    values = named_values(
        View.RECIPIENT_YEAR, [RecipientYearRow("p", "0123", 2019, 135_000_000_050, 5, -250, 0)]
    )
    body = csv_bytes(named_fields(View.RECIPIENT_YEAR), values, EXCEL_SV)
    assert body.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][:5] == ["programme_id", "recipient", "recipient_name", "year", "requested_kr"]
    assert lines[1][:6] == ["p", '="0123"', "Järfälla", "2019", "1350000000,50", "0,05"]
    assert lines[1][6] == "-2,50"
    assert kronor_text(-1) == "-0,01"
    plain = csv_bytes(named_fields(View.RECIPIENT_YEAR), values, None).decode()
    assert plain.splitlines()[1].startswith("p,0123,Järfälla,2019,135000000050,5,-250")


def test_only_filters_with_nothing_set_keep_every_row_unasked() -> None:
    """`keeps_all` lets a reader skip asking each row; any one filter set turns it off."""
    assert Filters().keeps_all
    one_set = [
        Filters(programmes=("p",)),
        Filters(recipients=("0180",)),
        Filters(counties=("01",)),
        Filters(agencies=("delmos",)),
        Filters(years=((2020, 2020),)),
    ]
    assert not any(filters.keeps_all for filters in one_set)
    assert {field.name for field in fields(Filters)} == {
        "programmes",
        "recipients",
        "counties",
        "agencies",
        "years",
    }, "a new filter is covered here"


def test_records_of_the_engines_columns_are_the_records_of_its_rows() -> None:
    """A replay answer's columns give the same records, values and CSV as its rows one by one
    (names by code, outstanding by the row's own property)."""
    table = RecipientYearTotals(
        *(
            np.array(values, dtype=np.int64)
            for values in (
                [0, 0, 1],
                [1, 2, 1],
                [2019, 2019, 2020],
                [5, 0, 0],
                [100, 40, 7],
                [60, 50, 0],
                [0, 10, 0],
            )
        )
    )
    columns = RecipientYearRows(table, ["p-a", "p-b"], ["", MALMO, ORG])
    rows = list(columns)
    view = View.RECIPIENT_YEAR
    assert named_records(view, columns) == [named_record(view, row) for row in rows]
    assert named_values(view, columns) == named_values(view, rows)
    assert [record["outstanding_ore"] for record in named_records(view, columns)] == [40, -10, 7]
    for dialect in (None, EXCEL_SV):
        assert csv_bytes(named_fields(view), named_values(view, columns), dialect) == csv_bytes(
            named_fields(view), named_values(view, rows), dialect
        )

"""Finance's balances over HTTP on the reference scenario: the same rows and integer öre as
`balances --format json` for every view, now and as of a date, with the position they reflect;
several values per filter and year ranges; CSV for Swedish Excel; an XLSX workbook."""

import io
import json
from collections.abc import Iterator

import openpyxl
import pytest
from fastapi.testclient import TestClient

from commands.cli.main import main
from commands.exports.records import NAMED_CODES
from commands.http.app import create_app
from commands.http.settings import ServiceSettings
from projections.domain.rows import FIELDS, View
from tests.http_service import tokens_for

PROGRAMME = "sfs-2018-151"
SCENARIO_EVENTS = 365
AS_OF_DATES = (None, "2019-12-31", "2021-03-31")
MALMO, GOTEBORG = "1280", "1480"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def finance(projected_scenario: ServiceSettings) -> Iterator[TestClient]:
    """The API over the projected scenario, signed in as finance."""
    with TestClient(create_app(projected_scenario)) as client:
        client.headers.update(tokens_for(projected_scenario).headers("finance", sub="erik"))
        yield client


def cli_rows(
    settings: ServiceSettings, capsys: pytest.CaptureFixture[str], *flags: str
) -> list[dict[str, object]]:
    """`grant-ledger balances --format json` with the same read side."""
    read_side = ["--read-store", settings.read_store_url, "--replay-dir", str(settings.replay_dir)]
    capsys.readouterr()
    assert main(["balances", *read_side, "--format", "json", *flags]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def without_names(view: View, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """HTTP rows minus the name the HTTP adds after the code."""
    name = NAMED_CODES.get(view, ("", ""))[1]
    return [{key: value for key, value in row.items() if key != name} for row in rows]


@pytest.mark.parametrize("as_of_date", AS_OF_DATES)
@pytest.mark.parametrize("view", list(View))
def test_every_view_over_http_equals_the_cli_now_and_as_of_a_date(
    finance: TestClient,
    projected_scenario: ServiceSettings,
    capsys: pytest.CaptureFixture[str],
    view: View,
    as_of_date: str | None,
) -> None:
    """Same rows, same fields, same integer öre; the position in the header and the JSON."""
    params = {"programme": PROGRAMME, **({"as_of_date": as_of_date} if as_of_date else {})}
    response = finance.get(f"/v1/balances/{view.value}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    flags = ["--by", view.value, "--programme", PROGRAMME]
    if as_of_date:
        flags += ["--as-of-date", as_of_date]
    expected = cli_rows(projected_scenario, capsys, *flags)
    assert expected, "the scenario has rows in every view"
    assert without_names(view, body["rows"]) == expected
    assert all(list(row)[: len(FIELDS[view]) + 1] for row in body["rows"])
    assert body["position"] == SCENARIO_EVENTS
    assert response.headers["X-Ledger-Position"] == str(SCENARIO_EVENTS)
    assert body["source"] == ("read store" if as_of_date is None else "replay store")


def test_recipient_rows_carry_the_municipality_name(finance: TestClient) -> None:
    """Malmö by name from the reference data."""
    rows = finance.get(
        "/v1/balances/recipient-year", params={"recipient": MALMO, "year": "2019"}
    ).json()["rows"]
    assert [(row["recipient"], row["recipient_name"], row["year"]) for row in rows] == [
        (MALMO, "Malmö", 2019)
    ]


def test_several_recipients_and_a_year_range_over_http_and_the_cli(
    finance: TestClient, projected_scenario: ServiceSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """recipient=1280&recipient=1480&year=2019..2021: both municipalities, three years each."""
    params = [("recipient", MALMO), ("recipient", GOTEBORG), ("year", "2019..2021")]
    rows = finance.get("/v1/balances/recipient-year", params=params).json()["rows"]
    assert sorted({(row["recipient"], row["year"]) for row in rows}) == [
        (code, year) for code in (MALMO, GOTEBORG) for year in (2019, 2020, 2021)
    ]
    cli = cli_rows(
        projected_scenario,
        capsys,
        *("--recipient", MALMO, "--recipient", GOTEBORG, "--year", "2019..2021"),
    )
    assert without_names(View.RECIPIENT_YEAR, rows) == cli


def test_county_year_sums_the_municipalities_of_each_lan(finance: TestClient) -> None:
    """Skåne (12) in 2019 is the sum of its municipalities' recipient-year rows."""
    recipients = finance.get(
        "/v1/balances/recipient-year", params={"programme": PROGRAMME, "year": "2019"}
    ).json()["rows"]
    skane = [row for row in recipients if row["recipient"].startswith("12")]
    counties = finance.get(
        "/v1/balances/county-year", params={"county": "12", "year": "2019"}
    ).json()["rows"]
    assert len(counties) == 1
    assert counties[0]["county_name"] == "Skåne län"
    for field in ("awarded_ore", "disbursed_ore", "recovered_ore", "outstanding_ore"):
        assert counties[0][field] == sum(row[field] for row in skane)


def test_agency_year_over_several_programmes_sums_their_splits(finance: TestClient) -> None:
    """Asking for the programme twice, or once, gives the same split (no double counting)."""
    once = finance.get("/v1/balances/agency-year", params={"programme": PROGRAMME}).json()
    twice = finance.get(
        "/v1/balances/agency-year", params=[("programme", PROGRAMME), ("programme", PROGRAMME)]
    ).json()
    assert once["rows"] == twice["rows"]


def test_csv_plain_and_for_swedish_excel(finance: TestClient) -> None:
    """?format=csv (integer öre) and Accept: text/csv; &dialect=excel-sv (BOM, ;, kronor)."""
    params = {"recipient": MALMO, "year": "2019"}
    plain = finance.get("/v1/balances/recipient-year", params={**params, "format": "csv"})
    assert plain.headers["content-type"].startswith("text/csv")
    assert plain.headers["X-Ledger-Position"] == str(SCENARIO_EVENTS)
    header, line = plain.text.splitlines()
    assert header.split(",")[:4] == ["programme_id", "recipient", "recipient_name", "year"]
    awarded = finance.get("/v1/balances/recipient-year", params=params).json()["rows"][0]
    assert line.split(",")[5] == str(awarded["awarded_ore"])
    negotiated = finance.get(
        "/v1/balances/recipient-year", params=params, headers={"Accept": "text/csv"}
    )
    assert negotiated.text == plain.text
    excel = finance.get(
        "/v1/balances/recipient-year", params={**params, "format": "csv", "dialect": "excel-sv"}
    )
    assert excel.content.startswith("\ufeff".encode())
    cells = excel.content.decode("utf-8-sig").splitlines()[1].split(";")
    kronor, ore = divmod(awarded["awarded_ore"], 100)
    assert cells[1] == f'="{MALMO}"' and cells[5] == f"{kronor},{ore:02d}"
    refused = finance.get("/v1/balances/recipient-year", params={"dialect": "excel-sv"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "dialect"


def test_a_workbook_has_one_sheet_per_view_with_kronor_and_totals(finance: TestClient) -> None:
    """Sheets named by view; amounts in kronor with a kr number format; a SUM totals row."""
    response = finance.get(
        "/v1/balances/workbook",
        params=[("programme", PROGRAMME), ("view", "programme-year"), ("view", "county-year")],
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["programme-year", "county-year"]
    sheet = book["programme-year"]
    assert "ledger position 365" in str(sheet["A1"].value)
    headers = [cell.value for cell in sheet[3]]
    assert headers[:4] == ["programme_id", "year", "agency", "appropriated (kr)"]
    rows = finance.get("/v1/balances/programme-year", params={"programme": PROGRAMME}).json()[
        "rows"
    ]
    first = [cell.value for cell in sheet[4]]
    assert round(first[3] * 100) == rows[0]["appropriated_ore"]
    assert '"kr"' in sheet.cell(row=4, column=4).number_format
    total_row = 4 + len(rows)
    assert sheet.cell(row=total_row, column=1).value == "Totalt"
    assert sheet.cell(row=total_row, column=4).value == f"=SUM(D4:D{total_row - 1})"
    single = finance.get(
        "/v1/balances/recipient-year", params={"programme": PROGRAMME, "format": "xlsx"}
    )
    assert openpyxl.load_workbook(io.BytesIO(single.content)).sheetnames == ["recipient-year"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"programme": "no-such"}, 404, "programme"),
        ({"recipient": "9999"}, 404, "recipient"),
        ({"year": "20x1"}, 422, "year"),
        ({"as_of_date": "2020-13-01"}, 422, "as_of_date"),
        ({"at_position": "100000"}, 503, "at_position"),
    ],
)
def test_bad_questions_are_refused_naming_the_parameter(
    finance: TestClient, params: dict[str, str], status: int, field: str
) -> None:
    """Unknown programme or recipient, a year or date that is not one, a position not yet
    projected."""
    response = finance.get("/v1/balances/recipient-year", params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_the_chain_status_is_verified_against_the_store(
    projected_scenario: ServiceSettings,
) -> None:
    """The read side's newest hash equals the store's chain at that position."""
    with TestClient(create_app(projected_scenario)) as client:
        status = client.get(
            "/v1/chain", headers=tokens_for(projected_scenario).headers("auditor")
        ).json()
    assert status["store_head"]["position"] == SCENARIO_EVENTS
    assert status["last_checkpoint"]["position"] == SCENARIO_EVENTS
    assert status["last_checkpoint"]["hash"] == status["store_head"]["hash"]
    assert status["verified"] is True
    assert status["signed"] is False

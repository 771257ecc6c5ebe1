"""`grant-ledger audit report`: one self-contained HTML file, opened in headless Chromium, whose
figures are `balances`' figures, whose chain section holds the head against the checkpoint, and
which prints to PDF."""

import base64
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from selenium.webdriver.common.by import By

from commands.cli.main import main
from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from tests.audited_ledger import AuditedLedger, audited  # noqa: F401 (fixture)
from tests.browser import chromium
from tests.scenario_ledger import PROGRAMME_ID

pytestmark = pytest.mark.kafka

MONEY_FIELDS = {
    "programme-years": ("appropriated", "awarded", "disbursed", "recovered", "available"),
    "recipient-years": ("requested", "awarded", "disbursed", "recovered", "outstanding"),
}


def report(audited: AuditedLedger, out: Path, *flags: str) -> int:  # noqa: F811
    """Run `audit report` on the scenario; returns the exit code."""
    return main(
        [
            "audit",
            "report",
            "--programme",
            PROGRAMME_ID,
            "--out",
            str(out),
            *flags,
            *audited.store_flags(),
            *audited.kafka_flags(),
        ]
    )


def balances(
    audited: AuditedLedger,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    view: str,
    *flags: str,
) -> list[dict[str, Any]]:
    """`balances --format json` of the programme, from the read store (or its replay store)."""
    args = ["balances", "--by", view, "--programme", PROGRAMME_ID, "--format", "json", *flags]
    assert main([*args, *audited.read_flags()]) == 0
    rows: list[dict[str, Any]] = orjson.loads(capsys.readouterr().out)
    return rows


def table_in_browser(driver: Any, table_id: str) -> list[dict[str, Any]]:
    """The report table's rows as the browser shows them, money from each cell's öre."""
    rows = []
    for tr in driver.find_elements(By.CSS_SELECTOR, f"table#{table_id} tr[data-year]"):
        cells = tr.find_elements(By.CSS_SELECTOR, "td.money")
        money = {
            f"{name}_ore": int(cell.get_attribute("data-ore"))
            for name, cell in zip(MONEY_FIELDS[table_id], cells, strict=True)
        }
        assert all(cell.text.endswith(" kr") for cell in cells)
        key = {"year": int(tr.get_attribute("data-year"))}
        if tr.get_attribute("data-recipient"):
            key["recipient"] = tr.get_attribute("data-recipient")
        rows.append({**key, **money})
    return rows


@pytest.mark.parametrize("as_of", [[], ["--as-of-date", "2019-12-31"]])
def test_the_report_in_a_browser_shows_the_balances_figures(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    as_of: list[str],
) -> None:
    """Per year and per municipality x year, every amount equals `balances`; no request made."""
    out = tmp_path / "report.html"
    assert report(audited, out, *as_of) == 0
    capsys.readouterr()
    expected_years = [
        {k: row[k] for k in ("year", *(f"{n}_ore" for n in MONEY_FIELDS["programme-years"]))}
        for row in balances(audited, capsys, "programme-year", *as_of)
    ]
    expected_recipients = [
        {
            k: row[k]
            for k in ("year", "recipient", *(f"{n}_ore" for n in MONEY_FIELDS["recipient-years"]))
        }
        for row in balances(audited, capsys, "recipient-year", *as_of)
    ]
    with chromium(tmp_path / "profile", tmp_path / "downloads") as driver:
        driver.get(out.as_uri())
        assert driver.find_element(By.ID, "programme-id").text == PROGRAMME_ID
        assert table_in_browser(driver, "programme-years") == expected_years
        shown = table_in_browser(driver, "recipient-years")
        assert sorted(shown, key=lambda r: (r["recipient"], r["year"])) == sorted(
            expected_recipients, key=lambda r: (r["recipient"], r["year"])
        )
        status = driver.find_element(By.ID, "chain-status")
        assert status.get_attribute("data-status") == "ok", status.text
        assert driver.find_element(By.ID, "head-position").text == str(audited.events)
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg rect")) > 50
        over = driver.find_element(By.ID, "finding-over-committed")
        assert int(over.get_attribute("data-count") or "0") >= 1
        agency = driver.find_element(By.ID, "finding-wrong-agency")
        assert agency.get_attribute("data-count") == "0" and "None" in agency.text
        pdf = base64.b64decode(driver.print_page())
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2


def test_the_report_is_self_contained(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
) -> None:
    """No scripts, no links or sources to fetch, one file."""
    out = tmp_path / "report.html"
    assert report(audited, out) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html, flags=re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert "@import" not in html and "url(" not in html


def test_a_store_that_no_longer_matches_its_checkpoint_is_a_prominent_failure(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An event altered after publication: the report says CHAIN FAILURE and exits 1."""
    copy = tmp_path / "ledger.db"
    copy.write_bytes(Path(audited.store_url.removeprefix("sqlite:///")).read_bytes())
    ledger = GrantLedger(f"sqlite:///{copy}")
    try:
        stored = ledger.stored_programme_events(0, 50)[40]
        with ledger.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute(
                "UPDATE stored_events SET state=? WHERE rowid=? AND topic=?",
                (
                    orjson.dumps({**stored.state, "note": "edited"}),
                    stored.notification_id,
                    PROGRAMME_EVENT_TOPIC,
                ),
            )
    finally:
        ledger.close()
    out = tmp_path / "report.html"
    code = main(
        [
            "audit",
            "report",
            "--programme",
            PROGRAMME_ID,
            "--out",
            str(out),
            "--store",
            f"sqlite:///{copy}",
            *audited.kafka_flags(),
        ]
    )
    assert code == 1
    html = out.read_text(encoding="utf-8")
    assert 'data-status="failed"' in html and "CHAIN FAILURE" in html


def test_an_unknown_programme_is_refused(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2 naming --programme; no file written."""
    args = ["audit", "report", "--programme", "nope", "--out", str(tmp_path / "r.html")]
    assert main([*args, *audited.store_flags()]) == 2
    assert "--programme='nope'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_a_negative_backdating_window_is_refused_by_its_flag(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2 naming --backdating-days (the library names `backdating_days`); no file written."""
    out = tmp_path / "r.html"
    assert report(audited, out, "--backdating-days", "-1") == 2
    assert "--backdating-days=-1: must be 0 or more" in capsys.readouterr().err
    assert not out.exists()

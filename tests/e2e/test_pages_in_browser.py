"""The pages in a real browser (Debian's chromium): finance signs in with a token, sees Malmö's
awarded amount exactly as the API gives it, downloads the CSV; an auditor follows a grant's
trail from the table and sees the chain verified. Screenshots go to the test's directory (and
to docs/ when GRANT_LEDGER_SCREENSHOTS_DIR names it, to refresh the README's pictures)."""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from commands.http.settings import ServiceSettings
from schemas.money import format_sek
from tests.browser import chromium
from tests.http_service import Tokens, live_server, tokens_for

MALMO = "1280"
YEAR = 2019
PROGRAMME = "sfs-2018-151"
GRANT = "sfs2018151-1280-2018"
WAIT_S = 30
SCREENSHOTS_ENV = "GRANT_LEDGER_SCREENSHOTS_DIR"


@pytest.fixture(scope="module")
def site(projected_scenario: ServiceSettings) -> Iterator[tuple[str, Tokens]]:
    """The service over the projected scenario, live on a free port."""
    with live_server(projected_scenario) as base_url:
        yield base_url, tokens_for(projected_scenario)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless chromium."""
    (tmp_path / "downloads").mkdir()
    with chromium(tmp_path / "profile", tmp_path / "downloads") as driver:
        yield driver


def sign_in(browser: webdriver.Chrome, url: str, token: str) -> None:
    """Paste the token and sign in, as a person would."""
    browser.get(url)
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "sign-in").click()


def wait_for(browser: webdriver.Chrome, css: str) -> None:
    """Until an element matching `css` is on the page."""
    WebDriverWait(browser, WAIT_S).until(ready.presence_of_element_located((By.CSS_SELECTOR, css)))


def keep_screenshot(browser: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    """The page as a PNG in the test's directory (and docs/ when asked)."""
    path = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.stat().st_size > 0
    target = os.environ.get(SCREENSHOTS_ENV)
    if target:
        shutil.copy(path, Path(target) / f"{name}.png")
    return path


def no_console_errors(browser: webdriver.Chrome) -> None:
    """No CSP violation, no script error (the favicon is data:, nothing else is fetched)."""
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_finance_sees_malmo_as_the_api_says_and_downloads_the_csv(
    site: tuple[str, Tokens], browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """The municipality × year table shows the API's integer öre as `22 000 000,00 kr`."""
    base_url, tokens = site
    token = tokens.mint("finance", sub="erik.finance")
    api = httpx.get(
        f"{base_url}/v1/balances/recipient-year",
        params={"programme": PROGRAMME, "recipient": MALMO, "year": str(YEAR)},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    awarded_ore = api["rows"][0]["awarded_ore"]
    sign_in(browser, f"{base_url}/", token)
    cell = f'tr[data-recipient="{MALMO}"][data-year="{YEAR}"] td[data-field="awarded_ore"]'
    wait_for(browser, cell)
    assert browser.find_element(By.CSS_SELECTOR, cell).text == format_sek(awarded_ore)
    assert browser.execute_script(
        "return Boolean(Chart.getChart('awarded-chart') && Chart.getChart('agency-chart'))"
    )
    assert browser.execute_script("return sessionStorage.getItem('grant-ledger.token')") == token
    assert browser.get_cookies() == []

    browser.find_element(By.ID, "download-csv").click()
    csv_file = tmp_path / "downloads" / "recipient-year.csv"
    deadline = time.monotonic() + WAIT_S
    while not csv_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("programme_id,recipient,recipient_name,year")
    malmo = next(line for line in lines if line.startswith(f"{PROGRAMME},{MALMO},Malmö,{YEAR},"))
    assert malmo.split(",")[5] == str(awarded_ore)

    # As of 2019 year end, 2020 was over-committed (the 2019 cut): marked in the table.
    browser.execute_script("document.getElementById('as-of').value = '2019-12-31'")
    browser.find_element(By.ID, "show").click()
    wait_for(browser, '#programme-years tr.over-committed[data-year="2020"] .badge')
    keep_screenshot(browser, tmp_path, "finance-page")
    no_console_errors(browser)


def test_an_auditor_follows_a_grants_trail_from_the_table(
    site: tuple[str, Tokens], browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """From Malmö's row to its trail: every event with dates, actor, agency, position, hash;
    the chain's status verified against the store."""
    base_url, tokens = site
    token = tokens.mint("auditor", sub="revisor-1")
    history = httpx.get(
        f"{base_url}/v1/applications/{GRANT}/history",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    sign_in(browser, f"{base_url}/", token)
    link = f'tr[data-recipient="{MALMO}"][data-year="{YEAR}"] td.code a'
    wait_for(browser, link)
    browser.find_element(By.CSS_SELECTOR, link).click()
    trail = f'table.trail[data-application="{GRANT}"] tbody tr'
    wait_for(browser, trail)
    rows = browser.find_elements(By.CSS_SELECTOR, trail)
    assert len(rows) == len(history)
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[0].text == str(history[0]["position"])
    assert first[1].text == history[0]["type"]
    assert first[2].text == history[0]["effective_date"]
    assert first[4].text == history[0]["actor"]
    assert first[7].get_attribute("title") == history[0]["hash"]
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.ID, "verified").text == "verified"
    )
    browser.execute_script("window.scrollTo(0, 0)")
    keep_screenshot(browser, tmp_path, "auditor-page")
    no_console_errors(browser)

"""The shipped reference scenario of SFS 2018:151: it runs through the real CLI, exactly once.

The expected figures below are hand-checked against the public record in
commands/scenarios/sfs_2018_151.md and the labelled assumptions of the scenario; they are
compared with totals folded from the file's own commands, and the ledger's balances are compared
with those totals.
"""

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from commands.cli.main import main
from commands.scenarios import sfs_2018_151 as generator
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.programme import Programme
from schemas.recipients import eligible_sfs_2018_151

SCENARIO = Path(str(resources.files("commands").joinpath("scenarios", "sfs_2018_151.jsonl")))
PROGRAMME_ID = "sfs-2018-151"
MKR = 100_000_000  # one million kronor in öre
KR = 100

# Per year: appropriated, awarded, disbursed, recovered (öre), after the whole scenario.
EXPECTED_TOTALS = {
    2018: (425 * MKR, 425 * MKR, 425 * MKR, 0),
    2019: (410 * MKR, 410 * MKR, 410 * MKR, 250_000 * KR),
    2020: (415 * MKR, 415 * MKR, 415 * MKR, 0),
    2021: (160 * MKR, 160 * MKR, 160 * MKR, 180_000 * KR),
    2022: (0, 0, 0, 0),
}
PRESS_2018_ORE = {
    "0180": 51_000_000 * KR,  # Stockholm
    "1480": 33_000_000 * KR,  # Göteborg
    "1280": 22_000_000 * KR,  # Malmö
    "0380": 17_000_000 * KR,  # Uppsala
    "0580": 14_000_000 * KR,  # Linköping
    "1283": 13_000_000 * KR,  # Helsingborg
    "1290": 10_300_000 * KR,  # Kristianstad
    "2081": 8_800_000 * KR,  # Borlänge
    "1282": 8_500_000 * KR,  # Landskrona
    "1277": 7_100_000 * KR,  # Åstorp
    "1782": 6_900_000 * KR,  # Filipstad
    "1275": 6_700_000 * KR,  # Perstorp
}
SUCCESSOR = "boverket"


def commands_in_file() -> list[dict[str, Any]]:
    """The scenario's commands, parsed as plain JSON (not through the ledger)."""
    return [json.loads(line) for line in SCENARIO.read_text(encoding="utf-8").splitlines()]


def of_type(kind: str) -> list[dict[str, Any]]:
    """The file's commands of one type."""
    return [body for body in commands_in_file() if body["type"] == kind]


def totals_from_file() -> dict[int, tuple[int, int, int, int]]:
    """Appropriated, awarded, disbursed and recovered per year, folded from the file's commands."""
    appropriated: dict[int, int] = defaultdict(int)
    awarded: dict[int, int] = defaultdict(int)
    disbursed: dict[int, int] = defaultdict(int)
    recovered: dict[int, int] = defaultdict(int)
    for body in commands_in_file():
        kind = body["type"]
        if kind == "SetAppropriation":
            appropriated[body["year"]] = body["amount_ore"]
        elif kind == "AmendAppropriation":
            appropriated[body["year"]] += body["change_ore"]
        elif kind in ("AwardGrant", "ExtendGrant"):
            for year, amount in body["amounts_ore"].items():
                awarded[int(year)] += amount
        elif kind == "AmendAward":
            awarded[body["year"]] += body["change_ore"]
        elif kind == "DisburseFunds":
            disbursed[body["year"]] += body["amount_ore"]
        elif kind == "RecoverFunds":
            recovered[body["year"]] += body["amount_ore"]
    return {
        year: (appropriated[year], awarded[year], disbursed[year], recovered[year])
        for year in sorted(appropriated)
    }


def submit(store_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    """Run `grant-ledger submit` on the shipped file; the exit code and one result per line."""
    code = main(["submit", str(SCENARIO), "--store", store_url, "--format", "json"])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def log_length(store_url: str) -> int:
    """How many events the store's log holds (the last global position)."""
    ledger = GrantLedger(store_url)
    try:
        return sum(1 for _ in ledger.programme_events())
    finally:
        ledger.close()


def programme_in(store_url: str) -> Programme:
    """The programme's state as the ledger holds it."""
    ledger = GrantLedger(store_url)
    try:
        return ledger.programme(PROGRAMME_ID)
    finally:
        ledger.close()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """An empty SQLite event store."""
    return f"sqlite:///{tmp_path}/l.db"


@pytest.fixture
def submitted(store_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A store the scenario was submitted to once, successfully."""
    code, results = submit(store_url, capsys)
    assert code == 0, [r for r in results if not r["ok"]][:3]
    return store_url


# ---------------------------------------------------------------- through the CLI


def test_every_line_is_recorded_on_an_empty_store(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On an empty store every line succeeds and is new, in file order, positions 1..N."""
    code, results = submit(store_url, capsys)
    failures = [r for r in results if not r["ok"]]
    assert code == 0, failures[:3]
    assert len(results) == len(commands_in_file())
    assert not any(r["duplicate"] for r in results)
    assert [r["position"] for r in results] == list(range(1, len(results) + 1))


def test_submitting_again_records_nothing_new(
    submitted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second submission reports every line as a duplicate and leaves the log as it was."""
    before = log_length(submitted)
    code, results = submit(submitted, capsys)
    assert code == 0
    assert len(results) == len(commands_in_file())
    assert all(r["ok"] and r["duplicate"] for r in results)
    assert [r["position"] for r in results] == list(range(1, len(results) + 1))
    assert log_length(submitted) == before == len(results)


def test_ledger_balances_equal_the_totals_of_the_file(submitted: str) -> None:
    """The programme's per-year balances equal the hand-checked totals of the file."""
    programme = programme_in(submitted)
    grants = programme.grants.values()
    for year, (appropriated, awarded, disbursed, recovered) in EXPECTED_TOTALS.items():
        assert programme.appropriated_ore.get(year, 0) == appropriated, year
        assert programme.awarded_ore.get(year, 0) == awarded, year
        assert sum(g.disbursed_ore.get(year, 0) for g in grants) == disbursed, year
        assert sum(g.recovered_ore.get(year, 0) for g in grants) == recovered, year
    for code, amount in PRESS_2018_ORE.items():
        assert programme.grants[f"sfs2018151-{code}-2018"].awarded_ore[2018] == amount, code


def test_the_programme_ends_administered_by_the_successor(submitted: str) -> None:
    """Tillväxtverket, then Delmos from 2021, then the successor from 2023."""
    programme = programme_in(submitted)
    assert programme.agency == SUCCESSOR
    assert [(str(since), agency) for since, agency in programme.agency_timeline] == [
        ("2018-03-15", "tillvaxtverket"),
        ("2021-01-01", "delmos"),
        ("2023-01-01", SUCCESSOR),
    ]


# ---------------------------------------------------------------- the file itself


def test_yearly_totals_of_the_file_are_the_hand_checked_figures() -> None:
    """Appropriated, awarded, disbursed and recovered per year add up as documented."""
    assert totals_from_file() == EXPECTED_TOTALS


def test_the_2018_appropriation_is_fully_awarded() -> None:
    """The 2018 awards sum to exactly 425 M kr, the whole 2018 appropriation."""
    awards_2018 = sum(body["amounts_ore"].get("2018", 0) for body in of_type("AwardGrant"))
    assert awards_2018 == 42_500_000_000
    (set_2018,) = [body for body in of_type("SetAppropriation") if body["year"] == 2018]
    assert set_2018["amount_ore"] == 42_500_000_000


def test_all_32_eligible_municipalities_get_a_three_year_award_in_2018() -> None:
    """Every municipality of the annex gets a 2018-2020 decision, and one for 2021."""
    recipient_of = {b["application_id"]: b["recipient"] for b in of_type("SubmitApplication")}
    three_year = {
        recipient_of[b["application_id"]]
        for b in of_type("AwardGrant")
        if sorted(b["amounts_ore"]) == ["2018", "2019", "2020"]
    }
    one_year_2021 = {
        recipient_of[b["application_id"]]
        for b in of_type("AwardGrant")
        if sorted(b["amounts_ore"]) == ["2021"]
    }
    assert len(eligible_sfs_2018_151()) == 32
    assert three_year == one_year_2021 == set(eligible_sfs_2018_151())


def test_the_press_amounts_for_2018_are_exact() -> None:
    """The twelve amounts reported in the press are the 2018 awards, to the öre."""
    recipient_of = {b["application_id"]: b["recipient"] for b in of_type("SubmitApplication")}
    awarded_2018 = {
        recipient_of[b["application_id"]]: b["amounts_ore"]["2018"]
        for b in of_type("AwardGrant")
        if "2018" in b["amounts_ore"]
    }
    assert {code: awarded_2018[code] for code in PRESS_2018_ORE} == PRESS_2018_ORE


def test_the_2019_cut_over_commits_then_reductions_and_the_supplement_restore_balance() -> None:
    """2019: planned 1 350 M, cut to 88.6 M, awards reduced to it, then +321.4 M awarded."""
    amendments = [b for b in of_type("AmendAppropriation") if b["year"] == 2019]
    assert [b["change_ore"] for b in amendments] == [-1_261_400_000 * KR, 321_400_000 * KR]
    assert amendments[0]["effective_date"] == "2018-12-20"
    changes = [b["change_ore"] for b in of_type("AmendAward") if b["year"] == 2019]
    assert sum(c for c in changes if c < 0) == (88_600_000 - 1_350_000_000) * KR
    assert sum(c for c in changes if c > 0) == 321_400_000 * KR


def test_the_2021_round_is_decided_by_delmos_after_the_handover() -> None:
    """Applications close 2021-03-31, Delmos decides 2021-05-17, 160 M in total."""
    apps_2021 = [b for b in of_type("SubmitApplication") if "2021" in b["amounts_ore"]]
    awards_2021 = [b for b in of_type("AwardGrant") if "2021" in b["amounts_ore"]]
    assert {(b["agency"], b["effective_date"]) for b in apps_2021} == {("delmos", "2021-03-31")}
    assert {(b["agency"], b["effective_date"]) for b in awards_2021} == {("delmos", "2021-05-17")}
    assert sum(b["amounts_ore"]["2021"] for b in awards_2021) == 160 * MKR


def test_every_command_is_explicit_deterministic_and_in_date_order() -> None:
    """Unique ids, actor, agency and an explicit date on every line; dates never go back."""
    bodies = commands_in_file()
    ids = [b["command_id"] for b in bodies]
    assert len(ids) == len(set(ids))
    assert all(b["actor"] and b["agency"] and b["effective_date"] for b in bodies)
    dates = [b["effective_date"] for b in bodies]
    assert dates == sorted(dates)


def test_money_is_integer_ore_never_float() -> None:
    """Every amount in the file is a JSON integer."""
    for body in commands_in_file():
        for field, value in body.items():
            if field.endswith("_ore"):
                values = value.values() if isinstance(value, dict) else [value]
                assert all(type(v) is int for v in values), (body["command_id"], field)


def test_choices_outside_the_public_record_are_labelled_as_assumptions() -> None:
    """The successor, the handover date and the population key say they are assumptions."""
    handovers = {b["to_agency"]: b["note"] for b in of_type("HandOverProgramme")}
    assert "assumption" in handovers["delmos"].lower()
    assert "assumption" in handovers[SUCCESSOR].lower()
    by_population = [
        b
        for b in of_type("SubmitApplication")
        if "2018" in b["amounts_ore"] and b["recipient"] not in PRESS_2018_ORE
    ]
    assert len(by_population) == 20
    assert all("population key" in b["note"] for b in by_population)


def test_the_generator_reproduces_the_shipped_file() -> None:
    """The committed JSON Lines file is exactly what the generator writes (they never drift)."""
    assert SCENARIO.read_text(encoding="utf-8") == generator.render()

"""Random commands through the real write side: hypothesis draws command intents, each resolved
against the ledger's state then; what the rules refuse is dropped, so what is recorded is a valid
ledger by construction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.grant import GrantStatus
from ledger.domain.programme import Programme
from ledger.domain.recorded import ProgrammeEvent
from schemas.calendar import today_in_stockholm
from schemas.commands import COMMAND_ADAPTER
from schemas.errors import LedgerError
from schemas.recipients import eligible_sfs_2018_151

RANDOM_PROGRAMMES = ("prog-a", "prog-b")
RANDOM_AGENCIES = ("tillvaxtverket", "delmos", "boverket")
RANDOM_FIRST_YEAR = 2018
RANDOM_LAST_YEAR = 2022
RANDOM_APPLICATIONS = 6
RANDOM_START = datetime(2018, 1, 2, 9, 0, tzinfo=UTC)
RANDOM_STEP = timedelta(hours=7)


def random_recipients() -> tuple[str, ...]:
    """A few municipalities of the SFS 2018:151 annex."""
    return eligible_sfs_2018_151()[:4]


def _effective_dates() -> st.SearchStrategy[date]:
    return st.dates(date(2017, 12, 1), date(2023, 6, 30))


RANDOM_KINDS = (
    *["SubmitApplication"] * 3,
    *["AwardGrant"] * 3,
    *["DisburseFunds"] * 4,
    *["RecoverFunds"] * 2,
    *["AmendAward"] * 2,
    *["AmendAppropriation"] * 2,
    "ExtendGrant",
    "RejectApplication",
    "HandOverProgramme",
    "SetAppropriation",
)


@st.composite
def random_action(draw: st.DrawFn) -> dict[str, Any]:
    """One command intent; `resolve` turns it into a command against the ledger's state then.

    Amounts are drawn as shares (percent) of what the state allows, so most commands are
    valid; some still break a rule (budget, cost cap, order of events) and are refused.
    """
    return {
        "type": draw(st.sampled_from(RANDOM_KINDS)),
        "programme": draw(st.sampled_from(RANDOM_PROGRAMMES)),
        "application": draw(st.integers(0, RANDOM_APPLICATIONS - 1)),
        "recipient": draw(st.sampled_from(random_recipients())),
        "first_year": draw(st.integers(RANDOM_FIRST_YEAR, RANDOM_LAST_YEAR)),
        "years": draw(st.integers(1, 3)),
        "year_index": draw(st.integers(0, 2)),
        "share_percent": draw(st.integers(1, 100)),
        "amount_units": draw(st.integers(1, 40)),
        "sign": draw(st.sampled_from((1, -1))),
        "agency": draw(st.sampled_from(RANDOM_AGENCIES)),
        "effective_date": draw(_effective_dates()),
    }


def random_actions(
    min_size: int = 10, max_size: int = 50
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A sequence of command intents to try."""
    return st.lists(random_action(), min_size=min_size, max_size=max_size)


def _share(amount: int, percent: int) -> int:
    return max(amount * percent // 100 // 100 * 100, 100)


PROGRAMME_COMMANDS = ("SetAppropriation", "AmendAppropriation", "HandOverProgramme")


def resolve(ledger: GrantLedger, intent: dict[str, Any]) -> dict[str, Any] | None:
    """The concrete command for an intent in the ledger's current state (None: nothing to do)."""
    try:
        programme = ledger.programme(intent["programme"])
    except LedgerError:
        return None
    common = {"type": intent["type"], "effective_date": intent["effective_date"]}
    unit = intent["amount_units"] * 5_000_000
    if intent["type"] in PROGRAMME_COMMANDS:
        return _programme_command(programme, intent, common, unit)
    if intent["type"] == "SubmitApplication":
        first = min(intent["first_year"], RANDOM_LAST_YEAR - intent["years"] + 1)
        return {
            **common,
            "application_id": f"app-{programme.id}-{intent['application']}",
            "programme_id": programme.id,
            "recipient": intent["recipient"],
            "recipient_type": "municipality",
            "amounts_ore": {str(first + i): unit for i in range(intent["years"])},
        }
    return _grant_command(programme, intent, common, unit)


def _programme_command(
    programme: Programme, intent: dict[str, Any], common: dict[str, Any], unit: int
) -> dict[str, Any]:
    base = {**common, "programme_id": programme.id}
    if intent["type"] == "SetAppropriation":
        year = intent["first_year"]
        return {**base, "year": year, "amount_ore": unit * 4, "decision_ref": "rb"}
    if intent["type"] == "AmendAppropriation":
        year = intent["first_year"]
        current = programme.appropriated_ore.get(year, 0)
        change = _share(current, intent["share_percent"]) * intent["sign"] if current else unit
        return {**base, "year": year, "change_ore": change, "decision_ref": "äb", "reason": "b"}
    return {**base, "to_agency": intent["agency"], "decision_ref": "sfs"}


def _grant_command(  # noqa: PLR0911 (one return per command type, none when none fits)
    programme: Programme, intent: dict[str, Any], common: dict[str, Any], unit: int
) -> dict[str, Any] | None:
    """Decisions and payments pick among the programme's applications in the right state."""
    kind = intent["type"]
    deciding = kind in ("AwardGrant", "RejectApplication")
    wanted = GrantStatus.SUBMITTED if deciding else GrantStatus.AWARDED
    candidates = sorted(app for app, g in programme.grants.items() if g.status is wanted)
    if not candidates:
        return None
    grant = programme.grants[candidates[intent["application"] % len(candidates)]]
    app = {**common, "application_id": grant.application_id}
    share = intent["share_percent"]
    if kind == "AwardGrant":
        amounts = {str(y): _share(a, share) for y, a in grant.requested_ore.items()}
        return {**app, "amounts_ore": amounts, "decision_ref": "beslut", "conditions": []}
    if kind == "RejectApplication":
        return {**app, "decision_ref": "avslag", "reason": "no"}
    if not grant.awarded_ore:
        return None
    years = sorted(grant.awarded_ore)
    year = years[min(intent["year_index"], len(years) - 1)]
    if kind == "ExtendGrant":
        return {**app, "amounts_ore": {str(years[-1] + 1): unit}, "decision_ref": "förlängning"}
    if kind == "DisburseFunds":
        amount = _share(grant.undisbursed_ore(year), share)
        return {**app, "year": year, "amount_ore": amount, "payment_ref": "p"}
    if kind == "AmendAward":
        change = _share(grant.awarded_ore[year], share) * intent["sign"]
        return {**app, "year": year, "change_ore": change, "decision_ref": "ä", "reason": "r"}
    amount = _share(max(grant.net_disbursed_ore(year), 100), share)
    return {**app, "year": year, "amount_ore": amount, "decision_ref": "å", "reason": "r"}


def establish_commands() -> list[dict[str, Any]]:
    """Both random programmes, established by Tillväxtverket, with some appropriations."""
    commands: list[dict[str, Any]] = []
    for programme in RANDOM_PROGRAMMES:
        commands.append(
            {
                "type": "EstablishProgramme",
                "programme_id": programme,
                "name": f"Programme {programme}",
                "ordinance": "SFS 2018:151",
                "administering_agency": RANDOM_AGENCIES[0],
                "first_year": RANDOM_FIRST_YEAR,
                "last_year": RANDOM_LAST_YEAR,
                "recipient_types": ["municipality"],
                "eligible": list(random_recipients()),
                "effective_date": date(2018, 1, 15),
            }
        )
        for year in range(RANDOM_FIRST_YEAR, RANDOM_LAST_YEAR + 1):
            commands.append(
                {
                    "type": "SetAppropriation",
                    "programme_id": programme,
                    "year": year,
                    "amount_ore": 200_000_000,
                    "decision_ref": "rb",
                    "effective_date": date(2018, 1, 15),
                }
            )
    return commands


def _agency_for(ledger: GrantLedger, command: dict[str, Any], now: datetime) -> str:
    """The agency in charge when the command is recorded (handovers can be recorded ahead)."""
    today = today_in_stockholm(now)
    # An unknown programme or application: the command is refused for that, not for its agency,
    # so any agency will do.
    with contextlib.suppress(LedgerError):
        if "programme_id" in command and command["type"] != "EstablishProgramme":
            return ledger.programme(command["programme_id"]).agency_on(today)
        if "application_id" in command and command["type"] != "SubmitApplication":
            programme_id = ledger.programme_of_application(command["application_id"])
            return ledger.programme(programme_id).agency_on(today)
    return str(command.get("administering_agency", RANDOM_AGENCIES[0]))


def run_commands(
    ledger: GrantLedger, commands: Iterable[dict[str, Any] | None], start: datetime = RANDOM_START
) -> int:
    """Execute what the rules allow, recorded an hour apart; returns how many were recorded."""
    recorded = 0
    now = start
    for command in commands:
        if command is None:
            continue
        now += RANDOM_STEP
        full = {
            **command,
            "command_id": f"cmd-{uuid.uuid4().hex}",
            "actor": "tester",
            "agency": _agency_for(ledger, command, now),
        }
        try:
            ledger.execute(COMMAND_ADAPTER.validate_python(full), now=now)
        except (LedgerError, ValidationError):
            continue
        recorded += 1
    return recorded


def run_actions(ledger: GrantLedger, actions: list[dict[str, Any]]) -> int:
    """Establish the programmes, then resolve and execute each intent in turn."""
    recorded = run_commands(ledger, establish_commands())
    start = RANDOM_START + RANDOM_STEP * len(establish_commands())
    for index, intent in enumerate(actions):
        recorded += run_commands(ledger, [resolve(ledger, intent)], start + RANDOM_STEP * index)
    return recorded


def recorded_events(ledger: GrantLedger) -> list[ProgrammeEvent]:
    """Every programme event, in position order."""
    return [event for _, event in ledger.programme_events()]

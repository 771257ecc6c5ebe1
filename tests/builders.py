"""Builders of valid commands and contexts with defaults, so each test states only what matters.

Amounts are keyed by int year for convenience (`{2018: 500}`); the builders turn them into the
contract's string keys. Every builder takes keyword overrides for any command field.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
import pytest

from ledger.application.digest import command_digest
from ledger.domain.context import CommandContext
from ledger.domain.errors import RuleViolation
from ledger.domain.programme import Programme
from schemas import commands as c
from schemas.recipients import eligible_sfs_2018_151

PROGRAMME_ID = "sfs-2018-151"
OTHER_PROGRAMME_ID = "sfs-2018-118"
AGENCY = "tillvaxtverket"
SUCCESSOR = "delmos"
THIRD_AGENCY = "boverket"
FIRST_YEAR = 2018
LAST_YEAR = 2027
ESTABLISHED_ON = date(2018, 3, 15)
DECIDED_ON = date(2018, 6, 26)
HANDED_OVER_ON = date(2021, 1, 1)
RECORDED_AT = datetime(2018, 6, 26, 10, 0, tzinfo=UTC)

STOCKHOLM = "0180"
MALMO = "1280"
GOTEBORG = "1480"
LANDSKRONA = "1282"
UPPLANDS_VASBY = "0114"  # a real municipality, but not in the annex of SFS 2018:151
STOCKHOLMS_LAN = "01"
VALID_ORGANISATIONSNUMMER = "2021005489"

YearAmounts = Mapping[int, int] | Mapping[str, int]


def new_command_id() -> str:
    """A fresh, unique command_id."""
    return f"cmd-{uuid.uuid4().hex[:16]}"


def year_keys(amounts: YearAmounts) -> dict[str, int]:
    """Per-year amounts keyed by the contract's string years."""
    return {str(year): amount for year, amount in amounts.items()}


def _fields(type_name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": type_name,
        "command_id": new_command_id(),
        "actor": "officer-1",
        "agency": AGENCY,
        "effective_date": DECIDED_ON,
        **defaults,
        **overrides,
    }
    if "amounts_ore" in fields:
        fields["amounts_ore"] = year_keys(fields["amounts_ore"])
    return fields


def establish(**overrides: Any) -> c.EstablishProgramme:
    """EstablishProgramme for SFS 2018:151: annex municipalities, 2018–2027, 3 years a decision."""
    defaults = {
        "programme_id": PROGRAMME_ID,
        "name": "Statsbidrag till kommuner med socioekonomiskt eftersatta områden",
        "ordinance": "SFS 2018:151",
        "administering_agency": overrides.get("agency", AGENCY),
        "first_year": FIRST_YEAR,
        "last_year": LAST_YEAR,
        "recipient_types": ["municipality"],
        "eligible": list(eligible_sfs_2018_151()),
        "max_years_per_decision": 3,
        "cost_share_cap_percent": None,
        "effective_date": ESTABLISHED_ON,
    }
    return c.EstablishProgramme.model_validate(_fields("EstablishProgramme", defaults, overrides))


def set_appropriation(
    year: int = FIRST_YEAR, amount_ore: int = 1_000_000, **overrides: Any
) -> c.SetAppropriation:
    """SetAppropriation for one year of the default programme."""
    defaults = {
        "programme_id": PROGRAMME_ID,
        "year": year,
        "amount_ore": amount_ore,
        "decision_ref": f"regleringsbrev {year}",
    }
    return c.SetAppropriation.model_validate(_fields("SetAppropriation", defaults, overrides))


def amend_appropriation(year: int, change_ore: int, **overrides: Any) -> c.AmendAppropriation:
    """AmendAppropriation: raise (positive) or cut (negative) a year."""
    defaults = {
        "programme_id": PROGRAMME_ID,
        "year": year,
        "change_ore": change_ore,
        "decision_ref": f"ändringsbudget {year}",
        "reason": "amending budget",
    }
    return c.AmendAppropriation.model_validate(_fields("AmendAppropriation", defaults, overrides))


def hand_over(to_agency: str = SUCCESSOR, **overrides: Any) -> c.HandOverProgramme:
    """HandOverProgramme from the current agency (default tillvaxtverket) to `to_agency`."""
    defaults = {
        "programme_id": PROGRAMME_ID,
        "to_agency": to_agency,
        "decision_ref": "SFS 2020:1266",
        "effective_date": HANDED_OVER_ON,
    }
    return c.HandOverProgramme.model_validate(_fields("HandOverProgramme", defaults, overrides))


def application(
    application_id: str = "app-malmo",
    amounts_ore: YearAmounts | None = None,
    recipient: str = MALMO,
    **overrides: Any,
) -> c.SubmitApplication:
    """SubmitApplication from a municipality; default 500 000 öre for 2018."""
    defaults = {
        "application_id": application_id,
        "programme_id": PROGRAMME_ID,
        "recipient": recipient,
        "recipient_type": "municipality",
        "amounts_ore": amounts_ore if amounts_ore is not None else {FIRST_YEAR: 500_000},
    }
    return c.SubmitApplication.model_validate(_fields("SubmitApplication", defaults, overrides))


def award(
    application_id: str = "app-malmo", amounts_ore: YearAmounts | None = None, **overrides: Any
) -> c.AwardGrant:
    """AwardGrant; default 500 000 öre for 2018."""
    defaults = {
        "application_id": application_id,
        "amounts_ore": amounts_ore if amounts_ore is not None else {FIRST_YEAR: 500_000},
        "decision_ref": f"beslut {application_id}",
        "conditions": [],
    }
    return c.AwardGrant.model_validate(_fields("AwardGrant", defaults, overrides))


def reject(application_id: str = "app-malmo", **overrides: Any) -> c.RejectApplication:
    """RejectApplication."""
    defaults = {
        "application_id": application_id,
        "decision_ref": f"avslag {application_id}",
        "reason": "does not meet the conditions",
    }
    return c.RejectApplication.model_validate(_fields("RejectApplication", defaults, overrides))


def disburse(
    application_id: str = "app-malmo",
    year: int = FIRST_YEAR,
    amount_ore: int = 100_000,
    **overrides: Any,
) -> c.DisburseFunds:
    """DisburseFunds for a grant-year."""
    defaults = {
        "application_id": application_id,
        "year": year,
        "amount_ore": amount_ore,
        "payment_ref": f"utbetalning {application_id} {year}",
    }
    return c.DisburseFunds.model_validate(_fields("DisburseFunds", defaults, overrides))


def extend(
    application_id: str = "app-malmo", amounts_ore: YearAmounts | None = None, **overrides: Any
) -> c.ExtendGrant:
    """ExtendGrant; default 100 000 öre for 2019."""
    defaults = {
        "application_id": application_id,
        "amounts_ore": amounts_ore if amounts_ore is not None else {FIRST_YEAR + 1: 100_000},
        "decision_ref": f"förlängning {application_id}",
    }
    return c.ExtendGrant.model_validate(_fields("ExtendGrant", defaults, overrides))


def amend_award(
    application_id: str = "app-malmo",
    year: int = FIRST_YEAR,
    change_ore: int = 100_000,
    **overrides: Any,
) -> c.AmendAward:
    """AmendAward: supplement (positive) or reduce (negative) a grant-year."""
    defaults = {
        "application_id": application_id,
        "year": year,
        "change_ore": change_ore,
        "decision_ref": f"ändringsbeslut {application_id}",
        "reason": "supplement" if change_ore > 0 else "reduction",
    }
    return c.AmendAward.model_validate(_fields("AmendAward", defaults, overrides))


def recover(
    application_id: str = "app-malmo",
    year: int = FIRST_YEAR,
    amount_ore: int = 100_000,
    **overrides: Any,
) -> c.RecoverFunds:
    """RecoverFunds (återkrav) for a grant-year."""
    defaults = {
        "application_id": application_id,
        "year": year,
        "amount_ore": amount_ore,
        "decision_ref": f"återkrav {application_id}",
        "reason": "money not used as decided",
    }
    return c.RecoverFunds.model_validate(_fields("RecoverFunds", defaults, overrides))


# --------------------------------------------------------------------------- contexts


def ctx(
    agency: str = AGENCY,
    effective_date: date = DECIDED_ON,
    *,
    actor: str = "officer-1",
    command_id: str | None = None,
    recorded_at: datetime = RECORDED_AT,
) -> CommandContext:
    """A CommandContext with defaults."""
    return CommandContext(
        event_id=uuid.uuid4(),
        recorded_at=recorded_at,
        effective_date=effective_date,
        actor=actor,
        agency=agency,
        command_id=command_id or new_command_id(),
        command_digest="0" * 64,
        note=None,
    )


def recorded_on(day: date) -> datetime:
    """An instant (10:00 UTC) on a business day: when a command is recorded."""
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def context_for(command: c.CommandBase, recorded_at: datetime | None = None) -> CommandContext:
    """The context the application would give the domain for `command`.

    By default the command is recorded on its effective date.
    """
    effective_date = command.effective_date or DECIDED_ON
    return CommandContext(
        event_id=uuid.uuid4(),
        recorded_at=recorded_at or recorded_on(effective_date),
        effective_date=effective_date,
        actor=command.actor,
        agency=command.agency,
        command_id=command.command_id,
        command_digest=command_digest(command),
        note=command.note,
    )


# --------------------------------------------------------------------------- the aggregate

_METHODS: dict[type[c.CommandBase], str] = {
    c.SetAppropriation: "set_appropriation",
    c.AmendAppropriation: "amend_appropriation",
    c.HandOverProgramme: "hand_over",
    c.SubmitApplication: "submit_application",
    c.AwardGrant: "award",
    c.RejectApplication: "reject_application",
    c.DisburseFunds: "disburse",
    c.ExtendGrant: "extend",
    c.AmendAward: "amend_award",
    c.RecoverFunds: "recover",
}


def perform(
    programme: Programme,
    command: c.CommandBase,
    recorded_at: datetime | None = None,
    context: CommandContext | None = None,
) -> None:
    """Decide `command` on the programme, in the context the application would give it."""
    decide = getattr(programme, _METHODS[type(command)])
    decide(command, context or context_for(command, recorded_at))


def programme_with(
    *commands: c.CommandBase, established: c.EstablishProgramme | None = None
) -> Programme:
    """A programme established (default: `establish()`) with `commands` applied, nothing pending."""
    command = established or establish()
    programme = Programme.establish(command, context_for(command))
    for each in commands:
        perform(programme, each)
    programme.collect_events()
    return programme


def _snapshot(programme: Programme) -> tuple[Any, ...]:
    return (
        programme.version,
        programme.agency,
        list(programme.agency_timeline),
        dict(programme.appropriated_ore),
        dict(programme.awarded_ore),
        copy.deepcopy(programme.grants),
    )


def assert_refused(
    programme: Programme, command: c.CommandBase, field: str, recorded_at: datetime | None = None
) -> RuleViolation:
    """The command is refused naming `field`, and the programme neither records nor changes."""
    before = _snapshot(programme)
    with pytest.raises(RuleViolation) as refusal:
        perform(programme, command, recorded_at)
    assert refusal.value.field == field, refusal.value
    assert programme.collect_events() == []
    assert _snapshot(programme) == before
    return refusal.value


def assert_recorded(
    programme: Programme,
    command: c.CommandBase,
    event_type: str,
    recorded_at: datetime | None = None,
) -> None:
    """The command is accepted and records exactly one event of `event_type`."""
    version = programme.version
    perform(programme, command, recorded_at)
    events = programme.collect_events()
    assert [event.data.type for event in events] == [event_type]
    assert programme.version == version + 1


def as_line(command: c.CommandBase | dict[str, Any]) -> bytes:
    """One JSON Lines line for the CLI."""
    obj = (
        command if isinstance(command, dict) else command.model_dump(mode="json", exclude_none=True)
    )
    return orjson.dumps(obj)

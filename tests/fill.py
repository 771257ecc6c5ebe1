"""Fill an event store with many valid events quickly, through the real command path."""

from collections.abc import Iterator

from ledger.application.grant_ledger import GrantLedger
from schemas import commands as c

PROGRAMME_ID = "fill"
AGENCY = "tillvaxtverket"
YEAR = 2019
SETUP_EVENTS = 4  # establish, appropriation, application, award
GRANT_ORE = 10**12


def _base(command_id: str) -> dict[str, str]:
    return {"command_id": command_id, "actor": "filler", "agency": AGENCY}


def setup_commands(recipient: str = "0180") -> list[c.CommandBase]:
    """A programme with one large awarded grant to pay out from."""
    return [
        c.EstablishProgramme(
            type="EstablishProgramme",
            programme_id=PROGRAMME_ID,
            name="Fill",
            ordinance="SFS 2018:151",
            administering_agency=AGENCY,
            first_year=2018,
            last_year=2022,
            recipient_types=["municipality"],
            **_base("fill-est"),
        ),
        c.SetAppropriation(
            type="SetAppropriation",
            programme_id=PROGRAMME_ID,
            year=YEAR,
            amount_ore=GRANT_ORE,
            decision_ref="budget",
            **_base("fill-app"),
        ),
        c.SubmitApplication(
            type="SubmitApplication",
            application_id="fill-a",
            programme_id=PROGRAMME_ID,
            recipient=recipient,
            recipient_type="municipality",
            amounts_ore={str(YEAR): GRANT_ORE},
            **_base("fill-sub"),
        ),
        c.AwardGrant(
            type="AwardGrant",
            application_id="fill-a",
            amounts_ore={str(YEAR): GRANT_ORE},
            decision_ref="d",
            **_base("fill-award"),
        ),
    ]


def disbursements(start: int, count: int) -> Iterator[c.CommandBase]:
    """`count` small payments, numbered from `start` (distinct command ids)."""
    for index in range(start, start + count):
        yield c.DisburseFunds(
            type="DisburseFunds",
            application_id="fill-a",
            year=YEAR,
            amount_ore=1 + index % 7,
            payment_ref=f"p{index}",
            **_base(f"fill-pay-{index}"),
        )


def fill(store_url: str, events: int) -> int:
    """Record at least `events` programme events; returns how many the store then holds."""
    assert events >= SETUP_EVENTS
    ledger = GrantLedger(store_url)
    try:
        for command in setup_commands():
            ledger.execute(command)
        last = 0
        for command in disbursements(0, events - SETUP_EVENTS):
            last = ledger.execute(command).position
        return max(last, SETUP_EVENTS)
    finally:
        ledger.close()


def add_payments(store_url: str, start: int, count: int) -> int:
    """Record `count` more payments; returns the last position."""
    ledger = GrantLedger(store_url)
    try:
        last = 0
        for command in disbursements(start, count):
            last = ledger.execute(command).position
        return last
    finally:
        ledger.close()

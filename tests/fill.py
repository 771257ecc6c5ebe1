"""Fill an event store with many valid events quickly: through the real command path, or
decided by the aggregate and saved in batches (large stores for benchmarks)."""

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from uuid import uuid4

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.context import CommandContext
from ledger.domain.programme import Programme
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


SAVE_BATCH_EVENTS = 1_000
BULK_STEP = timedelta(seconds=1)


def _context(command: c.CommandBase, at: datetime) -> CommandContext:
    return CommandContext(
        event_id=uuid4(),
        recorded_at=at,
        effective_date=command.effective_date or at.date(),
        actor=command.actor,
        agency=command.agency,
        command_id=command.command_id,
        command_digest="0" * 64,
        note=command.note,
    )


def save_decided(
    store_url: str,
    commands: Iterable[c.CommandBase],
    start: datetime,
    batch_events: int = SAVE_BATCH_EVENTS,
) -> int:
    """Decide each command of one programme on the aggregate (every rule applies) and save
    the events a batch per transaction, recorded a second apart; returns how many.

    No idempotency or application index entries: a store for readers of the log, fast.
    """
    ledger = GrantLedger(store_url)
    programme: Programme | None = None
    decided = 0
    try:
        for decided, command in enumerate(commands, start=1):
            ctx = _context(command, start + BULK_STEP * decided)
            if programme is None:
                assert isinstance(command, c.EstablishProgramme), command.type
                programme = Programme.establish(command, ctx)
            else:
                GrantLedger._dispatch(programme, command, ctx)
            if decided % batch_events == 0:
                ledger.save(programme)
        if programme is not None:
            ledger.save(programme)
    finally:
        ledger.close()
    return decided


GRANT_EVENTS = 7  # submit, award, three payments, a reduction, a recovery
GRANT_YEARS = (2018, 2019, 2020, 2021, 2022)
GRANT_ORE = 4_000_000_000  # 40 M kr: a realistic SFS 2018:151 grant


def grants_programme_commands(recipients: list[str], events: int) -> Iterator[c.CommandBase]:
    """A programme whose grants each have a seven-event trail, recipients taken in turn:
    about `events` events (the set-up, then whole grants)."""
    yield c.EstablishProgramme(
        type="EstablishProgramme",
        programme_id=PROGRAMME_ID,
        name="Bulk",
        ordinance="SFS 2018:151",
        administering_agency=AGENCY,
        first_year=GRANT_YEARS[0],
        last_year=GRANT_YEARS[-1],
        recipient_types=["municipality"],
        **_base("bulk-est"),
    )
    for year in GRANT_YEARS:
        yield c.SetAppropriation(
            type="SetAppropriation",
            programme_id=PROGRAMME_ID,
            year=year,
            amount_ore=10**15,
            decision_ref="budget",
            **_base(f"bulk-app-{year}"),
        )
    for grant in range((events - 1 - len(GRANT_YEARS)) // GRANT_EVENTS):
        yield from _grant_trail(grant, recipients[grant % len(recipients)])


def bulk_application_id(grant: int) -> str:
    """The application id of the grant numbered `grant`."""
    return f"bulk-{grant}"


def _grant_trail(grant: int, recipient: str) -> Iterator[c.CommandBase]:
    application_id = bulk_application_id(grant)
    year = GRANT_YEARS[grant % len(GRANT_YEARS)]
    amounts = {str(year): GRANT_ORE}
    grant_fields = {"application_id": application_id}
    yield c.SubmitApplication(
        type="SubmitApplication",
        programme_id=PROGRAMME_ID,
        recipient=recipient,
        recipient_type="municipality",
        amounts_ore=amounts,
        **grant_fields,
        **_base(f"{application_id}-sub"),
    )
    yield c.AwardGrant(
        type="AwardGrant",
        amounts_ore=amounts,
        decision_ref="beslut",
        **grant_fields,
        **_base(f"{application_id}-award"),
    )
    for part in range(3):
        yield c.DisburseFunds(
            type="DisburseFunds",
            year=year,
            amount_ore=GRANT_ORE // 4,
            payment_ref=f"{application_id}-{part}",
            **grant_fields,
            **_base(f"{application_id}-pay-{part}"),
        )
    yield c.AmendAward(
        type="AmendAward",
        year=year,
        change_ore=-GRANT_ORE // 8,
        decision_ref="ändring",
        reason="reduction",
        **grant_fields,
        **_base(f"{application_id}-amend"),
    )
    yield c.RecoverFunds(
        type="RecoverFunds",
        year=year,
        amount_ore=GRANT_ORE // 16,
        decision_ref="återkrav",
        reason="unspent",
        **grant_fields,
        **_base(f"{application_id}-recover"),
    )

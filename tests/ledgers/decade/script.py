"""One programme's decade as commands in time order, each decided on the programme's state then.

An agenda of dated activities (appropriations, calls, submissions, decisions, payments,
amendments, recoveries, extensions, handovers) drives it; when an activity falls due, the
command is sized on the programme as it stands (what is available, awarded, paid), so every
command is one the rules accept. Whoever runs the commands (the domain in memory, or
GrantLedger) hands the script the programme's state; the same state gives the same commands.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ledger.domain.grant import Grant, GrantStatus
from ledger.domain.programme import Programme
from tests.ledgers.decade.programmes import ProgrammeSpec
from tests.ledgers.decade.recipients import Recipients

# Commands are recorded on working days between these UTC hours.
OFFICE_OPENS_UTC = time(7, 0)
OFFICE_HOURS = 9
LEDGER_END = date(2025, 12, 31)
DECISION_DAYS = (45, 100)  # from an application to its decision
REJECTED_SHARE = 0.12
AMENDED_SHARE = 0.15  # of awarded grant-years
RECOVERED_SHARE = 0.05  # of awarded grant-years, after the year
EXTENDED_SHARE = 0.08  # of grants, in their last year
BACKDATED_PAYMENT_SHARE = 0.03
APPROPRIATION_MARGIN = 1.15  # appropriations cover the expected awards, with this margin
MEAN_YEARS_PER_GRANT = 2.0
AWARDED_SHARE = (0.6, 1.0)  # of what was requested
MEAN_AWARDED_SHARE = sum(AWARDED_SHARE) / 2
ORE_STEP = 100  # amounts in whole kronor


@dataclass(frozen=True)
class Planned:
    """A command, and when it is recorded."""

    recorded_at: datetime
    programme_index: int
    sequence: int  # per programme, in recorded order
    command: dict[str, Any]


# An activity on the agenda: (when, order of scheduling, action, its arguments). A plain tuple:
# the heap compares millions of them, and tuples compare in C.
Due = tuple[datetime, int, str, tuple[Any, ...]]


class ProgrammeScript:
    """The commands of one programme; `commands(state)` yields them, reading `state()` between."""

    def __init__(
        self,
        spec: ProgrammeSpec,
        programme_index: int,
        recipients: Recipients,
        applications_per_year: int,
        seed: int,
    ) -> None:
        self.spec = spec
        self.index = programme_index
        self.rng = random.Random(f"{seed}:{spec.programme_id}")
        self.pool = [
            (recipient_type, code)
            for recipient_type in spec.recipient_types
            for code in (spec.eligible or recipients.of_type(recipient_type))
        ]
        self.applications_per_year = applications_per_year
        self.agenda: list[Due] = []
        self.now = datetime(self.spec.first_year - 2, 1, 1, tzinfo=UTC)
        self.scheduled = 0
        self.commands_made = 0
        self.applications = 0

    # ----------------------------------------------------------------- agenda

    def _at(self, day: date, action: str, *arguments: Any) -> None:
        """Put an activity on the agenda, at a random office hour of that working day (or the
        next one, if that day is already past)."""
        day = _working_day(max(day, self.now.date() + timedelta(days=1)))
        if day > LEDGER_END:
            return
        moment = datetime.combine(day, OFFICE_OPENS_UTC, tzinfo=UTC)
        moment += timedelta(seconds=self.rng.randrange(OFFICE_HOURS * 3600))
        self.scheduled += 1
        heapq.heappush(self.agenda, (moment, self.scheduled, action, arguments))

    def _plan_decade(self) -> None:
        spec = self.spec
        established = date(spec.first_year - 1, 11, 1)
        self._at(established, "establish")
        for year in range(spec.first_year, spec.last_year + 1):
            # The plan for every year comes with the programme; budgets then raise and cut it.
            self._at(established + timedelta(days=7), "appropriate", year)
            self._at(date(year, 4, 20), "amend_appropriation", year)
            self._at(date(year, 9, 20), "amend_appropriation", year)
            self._at(date(year, 2, 1), "call", year)
        for handover in spec.handovers:
            self._at(handover.effective, "hand_over", handover)

    def commands(self, state: Callable[[], Programme | None]) -> Iterator[Planned]:
        """Every command of the decade in recorded order; `state()` is read before each."""
        self._plan_decade()
        while self.agenda:
            at, _, action, arguments = heapq.heappop(self.agenda)
            self.now = at
            command = getattr(self, f"_{action}")(state(), at, *arguments)
            if command is None:
                continue
            self.commands_made += 1
            command.setdefault("command_id", f"{self.spec.programme_id}-c{self.commands_made}")
            command.setdefault("actor", f"handlaggare-{self.rng.randrange(1, 40)}")
            yield Planned(at, self.index, self.commands_made, command)

    def _agency(self, programme: Programme, at: datetime) -> str:
        return programme.agency_on(_stockholm_day(at))

    # ----------------------------------------------------------------- the programme

    def _establish(self, _: None, at: datetime) -> dict[str, Any]:
        spec = self.spec
        return {
            "type": "EstablishProgramme",
            "programme_id": spec.programme_id,
            "name": spec.name,
            "ordinance": spec.ordinance,
            "administering_agency": spec.agency,
            "agency": spec.agency,
            "first_year": spec.first_year,
            "last_year": spec.last_year,
            "recipient_types": [t.value for t in spec.recipient_types],
            "eligible": list(spec.eligible) if spec.eligible is not None else None,
            "cost_share_cap_percent": spec.cost_share_cap_percent,
        }

    def _appropriate(self, programme: Programme, at: datetime, year: int) -> dict[str, Any]:
        low, high = self.spec.yearly_grant_ore
        mean_grant_ore = (high - low) / math.log(high / low)  # amounts are log-uniform
        expected = (
            self.applications_per_year
            * (1 - REJECTED_SHARE)
            * MEAN_YEARS_PER_GRANT
            * mean_grant_ore
            * MEAN_AWARDED_SHARE
            * APPROPRIATION_MARGIN
        )
        return {
            "type": "SetAppropriation",
            "programme_id": self.spec.programme_id,
            "agency": self._agency(programme, at),
            "year": year,
            "amount_ore": _kronor(expected),
            "decision_ref": f"regleringsbrev {year}",
        }

    def _amend_appropriation(
        self, programme: Programme, at: datetime, year: int
    ) -> dict[str, Any] | None:
        current = programme.appropriated_ore.get(year, 0)
        if current == 0 or self.rng.random() < 0.5:
            return None
        # Mostly raises; a third are cuts, some below what is already awarded (over-commitment).
        factor = (
            self.rng.uniform(-0.3, -0.05)
            if self.rng.random() < 1 / 3
            else self.rng.uniform(0.05, 0.2)
        )
        return {
            "type": "AmendAppropriation",
            "programme_id": self.spec.programme_id,
            "agency": self._agency(programme, at),
            "year": year,
            "change_ore": _kronor(current * factor) or ORE_STEP,
            "decision_ref": f"ändringsbudget {year}",
            "reason": "cut in the amending budget"
            if factor < 0
            else "raised in the amending budget",
        }

    def _hand_over(self, programme: Programme, at: datetime, handover: Any) -> dict[str, Any]:
        return {
            "type": "HandOverProgramme",
            "programme_id": self.spec.programme_id,
            "agency": self._agency(programme, at),
            "to_agency": handover.to_agency,
            "decision_ref": handover.decision_ref,
            "effective_date": _stockholm_day(at),
        }

    def _call(self, programme: Programme, at: datetime, year: int) -> None:
        """The year's call: applications come in over eight weeks."""
        for _ in range(self.applications_per_year):
            self._at(_stockholm_day(at) + timedelta(days=self.rng.randrange(56)), "submit", year)

    # ----------------------------------------------------------------- grants

    def _submit(self, programme: Programme, at: datetime, year: int) -> dict[str, Any]:
        spec = self.spec
        years = min(self.rng.choice((1, 2, 2, 3, 3)), spec.last_year - year + 1)
        low, high = spec.yearly_grant_ore
        yearly = _kronor(math.exp(self.rng.uniform(math.log(low), math.log(high))))
        recipient_type, recipient = self.rng.choice(self.pool)
        self.applications += 1
        application_id = f"{spec.programme_id}-a{self.applications}"
        command = {
            "type": "SubmitApplication",
            "application_id": application_id,
            "programme_id": spec.programme_id,
            "agency": self._agency(programme, at),
            "recipient_type": recipient_type.value,
            "recipient": recipient,
            "amounts_ore": {str(year + i): yearly for i in range(years)},
        }
        if spec.cost_share_cap_percent is not None:
            command["total_cost_ore"] = _cost_of(yearly * years, spec.cost_share_cap_percent)
        decided = _stockholm_day(at) + timedelta(days=self.rng.randint(*DECISION_DAYS))
        self._at(decided, "decide", application_id)
        return command

    def _decide(self, programme: Programme, at: datetime, application_id: str) -> dict[str, Any]:
        grant = programme.grants[application_id]
        share = self.rng.uniform(*AWARDED_SHARE)
        amounts = {
            year: min(_kronor(requested * share), programme.available_ore(year))
            for year, requested in grant.requested_ore.items()
        }
        base = {"application_id": application_id, "agency": self._agency(programme, at)}
        if self.rng.random() < REJECTED_SHARE or min(amounts.values()) < ORE_STEP:
            return {
                **base,
                "type": "RejectApplication",
                "decision_ref": f"avslag {application_id}",
                "reason": "other applications were given priority",
            }
        self._schedule_grant_years(application_id, sorted(amounts), at)
        if self.rng.random() < EXTENDED_SHARE:
            self._at(date(max(amounts), 10, 1), "extend", application_id)
        return {
            **base,
            "type": "AwardGrant",
            "amounts_ore": {str(year): amount for year, amount in amounts.items()},
            "decision_ref": f"beslut {application_id}",
            "conditions": ["återrapportering senast 31 mars året efter"],
        }

    def _schedule_grant_years(self, application_id: str, years: list[int], at: datetime) -> None:
        payments = self.spec.payments_per_year
        for year in years:
            first = max(_stockholm_day(at) + timedelta(days=10), date(year, 1, 10))
            step = max((date(year, 12, 15) - first).days // payments, 1)
            for number in range(payments):
                self._at(first + timedelta(days=step * number), "pay", application_id, year, number)
            if self.rng.random() < AMENDED_SHARE:
                self._at(date(year, 6, 15), "amend", application_id, year)
            if self.rng.random() < RECOVERED_SHARE:
                self._at(date(year + 1, 4, 1), "recover", application_id, year)

    def _pay(
        self, programme: Programme, at: datetime, application_id: str, year: int, number: int
    ) -> dict[str, Any] | None:
        grant = programme.grants[application_id]
        left = grant.undisbursed_ore(year)
        remaining_payments = self.spec.payments_per_year - number
        amount = left if remaining_payments <= 1 else _kronor(left / remaining_payments)
        if amount <= 0:
            return None
        command = {
            "type": "DisburseFunds",
            "application_id": application_id,
            "agency": self._agency(programme, at),
            "year": year,
            "amount_ore": amount,
            "payment_ref": f"utbetalning {application_id}/{year}/{number + 1}",
        }
        if self.rng.random() < BACKDATED_PAYMENT_SHARE:
            # A payment booked late: it counts on the day it was due.
            command["effective_date"] = _stockholm_day(at) - timedelta(days=self.rng.randint(1, 20))
        return command

    def _amend(
        self, programme: Programme, at: datetime, application_id: str, year: int
    ) -> dict[str, Any] | None:
        grant = programme.grants[application_id]
        change = _amendment(grant, year, programme, self.spec, self.rng)
        if change == 0:
            return None
        return {
            "type": "AmendAward",
            "application_id": application_id,
            "agency": self._agency(programme, at),
            "year": year,
            "change_ore": change,
            "decision_ref": f"ändringsbeslut {application_id}/{year}",
            "reason": "supplement" if change > 0 else "reduced: the measure was scaled down",
        }

    def _recover(
        self, programme: Programme, at: datetime, application_id: str, year: int
    ) -> dict[str, Any] | None:
        paid = programme.grants[application_id].net_disbursed_ore(year)
        amount = _kronor(paid * self.rng.uniform(0.05, 0.5))
        if amount <= 0:
            return None
        return {
            "type": "RecoverFunds",
            "application_id": application_id,
            "agency": self._agency(programme, at),
            "year": year,
            "amount_ore": amount,
            "decision_ref": f"återkrav {application_id}/{year}",
            "reason": "the money was not used as decided",
        }

    def _extend(
        self, programme: Programme, at: datetime, application_id: str
    ) -> dict[str, Any] | None:
        grant = programme.grants[application_id]
        if grant.status is not GrantStatus.AWARDED:
            return None
        first = grant.last_awarded_year + 1
        years = [y for y in (first, first + 1) if y <= self.spec.last_year][
            : self.rng.randint(1, 2)
        ]
        yearly = min(
            (
                grant.awarded_ore[grant.last_awarded_year],
                *(programme.available_ore(y) for y in years),
            ),
            default=0,
        )
        yearly = _kronor(yearly * 0.8)
        if not years or yearly < ORE_STEP:
            return None
        command: dict[str, Any] = {
            "type": "ExtendGrant",
            "application_id": application_id,
            "agency": self._agency(programme, at),
            "amounts_ore": {str(year): yearly for year in years},
            "decision_ref": f"förlängning {application_id}",
        }
        if self.spec.cost_share_cap_percent is not None:
            command["total_cost_ore"] = _cost_of(
                yearly * len(years), self.spec.cost_share_cap_percent
            )
        self._schedule_grant_years(application_id, years, at)
        return command


def _amendment(
    grant: Grant, year: int, programme: Programme, spec: ProgrammeSpec, rng: random.Random
) -> int:
    """A supplement within budget and cost cap, or a reduction not below what was paid out."""
    awarded = grant.awarded_ore[year]
    if rng.random() < 0.5:
        room = programme.available_ore(year)
        cap = spec.cost_share_cap_percent
        if cap is not None and grant.total_cost_ore is not None:
            room = min(room, grant.total_cost_ore * cap // 100 - sum(grant.awarded_ore.values()))
        return max(_kronor(min(awarded * rng.uniform(0.05, 0.2), room)), 0)
    floor = grant.net_disbursed_ore(year)
    return -max(_kronor(min(awarded * rng.uniform(0.05, 0.2), awarded - floor)), 0)


def _kronor(amount_ore: float) -> int:
    """Whole kronor, rounded down."""
    return int(amount_ore) // ORE_STEP * ORE_STEP


def _cost_of(grant_ore: int, cap_percent: int) -> int:
    """Total costs so that the grant stays within the cap (with some own funding on top)."""
    return -(-grant_ore * 100 // cap_percent) + ORE_STEP * 1000


def _working_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _stockholm_day(moment: datetime) -> date:
    """Recording happens 07-16 UTC, the same calendar day in Stockholm."""
    return moment.date()

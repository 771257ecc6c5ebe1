"""The Programme aggregate: a grant programme's rules, budget and grants, one consistency boundary.

Every rule that protects money spans the programme (awards against the year's appropriation,
only the current agency may act), so the programme's stream is the unit of optimistic
concurrency: two writers racing for the last kronor of a year conflict on its version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from ledger.domain.context import CommandContext
from ledger.domain.errors import RuleViolation
from ledger.domain.grant import Grant, GrantStatus
from ledger.domain.grant_book import GrantBook
from ledger.domain.recorded import APPLICATION_KEY_PREFIX, COMMAND_KEY_PREFIX, ProgrammeEvent
from schemas import commands as c
from schemas import events as e
from schemas.calendar import MIN_YEAR, today_in_stockholm
from schemas.money import MAX_AMOUNT_ORE
from schemas.recipients import RecipientType


def years_of(amounts_ore: Mapping[str, int]) -> dict[int, int]:
    """Per-year amounts keyed by int year, in year order."""
    return {int(year): amount for year, amount in sorted(amounts_ore.items())}


def year_keys(amounts_ore: Mapping[int, int]) -> dict[str, int]:
    """Per-year amounts keyed by the contract's string years."""
    return {str(year): amount for year, amount in sorted(amounts_ore.items())}


# Acts may count a few years after a programme's last grant year (late payments, recoveries,
# återkrav); a later effective date, or one before the programme existed, is a typo.
EFFECTIVE_YEARS_AFTER_LAST_YEAR = 5
EARLIEST_EFFECTIVE_DATE = date(MIN_YEAR, 1, 1)


def _require_within_life(effective_date: date, last_year: int) -> None:
    latest = date(last_year + EFFECTIVE_YEARS_AFTER_LAST_YEAR, 12, 31)
    if effective_date > latest:
        raise RuleViolation(
            "effective_date",
            effective_date.isoformat(),
            f"after {latest.isoformat()}: the programme's last year is {last_year}, and acts "
            f"count at most {EFFECTIVE_YEARS_AFTER_LAST_YEAR} years after it",
        )


class Programme:
    """A grant programme (e.g. SFS 2018:151) and every grant decided under it."""

    def __init__(self, established: ProgrammeEvent) -> None:
        data = established.data
        assert isinstance(data, e.ProgrammeEstablished)
        self.id: str = established.originator_id
        self.version: int = 0
        self.name = data.name
        self.ordinance = data.ordinance
        self.first_year = data.first_year
        self.last_year = data.last_year
        self.recipient_types = frozenset(data.recipient_types)
        self.eligible: frozenset[str] | None = (
            frozenset(data.eligible) if data.eligible is not None else None
        )
        self.max_years_per_decision = data.max_years_per_decision
        self.cost_share_cap_percent = data.cost_share_cap_percent
        self.agency: str = data.administering_agency
        # (effective_date, agency) in order: who administered the programme when.
        self.agency_timeline: list[tuple[date, str]] = [
            (established.effective_date, data.administering_agency)
        ]
        # The newest business date and system time in the stream: a handover may not reach back
        # behind acts already recorded, and recorded_at never runs backwards within a programme.
        self.latest_effective_date: date = established.effective_date
        self.last_recorded_at: datetime = established.timestamp
        self.appropriated_ore: dict[int, int] = {}
        self.awarded_ore: dict[int, int] = {}
        self.grants = GrantBook()
        self._pending: list[ProgrammeEvent] = []
        self._undo: list[_Undo] = []

    # ----------------------------------------------------------------- queries

    def available_ore(self, year: int) -> int:
        """Appropriated minus awarded for a year; negative means over-committed."""
        return self.appropriated_ore.get(year, 0) - self.awarded_ore.get(year, 0)

    def agency_on(self, day: date) -> str:
        """The agency administering the programme on a business date."""
        agency = self.agency_timeline[0][1]
        for since, successor in self.agency_timeline:
            if since <= day:
                agency = successor
        return agency

    def collect_events(self) -> list[ProgrammeEvent]:
        """Hand the new events to the application for saving (eventsourcing protocol)."""
        pending, self._pending = self._pending, []
        return pending

    def rollback_unsaved(self, saved_version: int) -> None:
        """Undo the events decided after `saved_version` whose save failed (a lost write race).

        The programme is then exactly as it was at `saved_version`, ready to be fast-forwarded
        to the stream's head instead of being rebuilt from its history.
        """
        if not self._undo or self._undo[0].version_before != saved_version:
            raise AssertionError(
                f"{self.id}: nothing decided after v{saved_version} to roll back "
                f"(undo journal from v{self._undo[0].version_before if self._undo else None})"
            )
        for undo in reversed(self._undo):
            undo.restore(self)
        self._undo.clear()
        self._pending.clear()
        assert self.version == saved_version, (self.id, self.version, saved_version)

    # ----------------------------------------------------------------- commands

    @classmethod
    def establish(cls, cmd: c.EstablishProgramme, ctx: CommandContext) -> Programme:
        """Create a programme; the acting agency must be the one that will administer it."""
        for prefix in (COMMAND_KEY_PREFIX, APPLICATION_KEY_PREFIX):
            if cmd.programme_id.startswith(prefix):
                raise RuleViolation(
                    "programme_id", cmd.programme_id, f"must not start with the reserved {prefix!r}"
                )
        if ctx.agency != cmd.administering_agency:
            raise RuleViolation(
                "agency",
                ctx.agency,
                f"a programme is established by its administering agency "
                f"{cmd.administering_agency!r}",
            )
        if ctx.effective_date < EARLIEST_EFFECTIVE_DATE:
            raise RuleViolation(
                "effective_date",
                ctx.effective_date.isoformat(),
                f"before {EARLIEST_EFFECTIVE_DATE.isoformat()}: not a date this ledger books",
            )
        _require_within_life(ctx.effective_date, cmd.last_year)
        data = e.ProgrammeEstablished(
            programme_id=cmd.programme_id,
            name=cmd.name,
            ordinance=cmd.ordinance,
            administering_agency=cmd.administering_agency,
            first_year=cmd.first_year,
            last_year=cmd.last_year,
            recipient_types=list(cmd.recipient_types),
            eligible=sorted(cmd.eligible) if cmd.eligible is not None else None,
            max_years_per_decision=cmd.max_years_per_decision,
            cost_share_cap_percent=cmd.cost_share_cap_percent,
        )
        event = _record(cmd.programme_id, 1, data, ctx)
        programme = cls.evolve(None, event)
        programme._pending.append(event)
        return programme

    def set_appropriation(self, cmd: c.SetAppropriation, ctx: CommandContext) -> None:
        """Record a year's appropriation; a year is set once, then amended."""
        self._require_agency(ctx)
        self._require_programme_year("year", cmd.year)
        if cmd.year in self.appropriated_ore:
            raise RuleViolation(
                "year",
                cmd.year,
                f"the {cmd.year} appropriation is already set "
                f"({self.appropriated_ore[cmd.year]} öre); change it with AmendAppropriation",
            )
        self._trigger(
            e.AppropriationSet(
                programme_id=self.id,
                year=cmd.year,
                amount_ore=cmd.amount_ore,
                decision_ref=cmd.decision_ref,
            ),
            ctx,
        )

    def amend_appropriation(self, cmd: c.AmendAppropriation, ctx: CommandContext) -> None:
        """Raise or cut a year's appropriation; a cut below the awarded total is over-commitment."""
        self._require_agency(ctx)
        self._require_programme_year("year", cmd.year)
        if cmd.year not in self.appropriated_ore:
            raise RuleViolation(
                "year", cmd.year, f"no appropriation set for {cmd.year}; use SetAppropriation first"
            )
        new_amount_ore = self.appropriated_ore[cmd.year] + cmd.change_ore
        if new_amount_ore > MAX_AMOUNT_ORE:
            raise RuleViolation(
                "change_ore",
                cmd.change_ore,
                f"would take the {cmd.year} appropriation above the ledger's maximum "
                f"of {MAX_AMOUNT_ORE} öre",
            )
        if new_amount_ore < 0:
            raise RuleViolation(
                "change_ore",
                cmd.change_ore,
                f"would take the {cmd.year} appropriation below zero "
                f"(it is {self.appropriated_ore[cmd.year]} öre)",
            )
        self._trigger(
            e.AppropriationAmended(
                programme_id=self.id,
                year=cmd.year,
                change_ore=cmd.change_ore,
                amount_ore=new_amount_ore,
                decision_ref=cmd.decision_ref,
                reason=cmd.reason,
            ),
            ctx,
        )

    def hand_over(self, cmd: c.HandOverProgramme, ctx: CommandContext) -> None:
        """Move administration to another agency from the command's effective date."""
        self._require_agency(ctx)
        if cmd.to_agency == self.current_agency(ctx):
            raise RuleViolation(
                "to_agency", cmd.to_agency, "a handover must go to a different agency"
            )
        last_since = self.agency_timeline[-1][0]
        recorded_on = today_in_stockholm(ctx.recorded_at)
        if last_since > recorded_on:
            raise RuleViolation(
                "effective_date",
                ctx.effective_date.isoformat(),
                f"the handover to {self.agency_timeline[-1][1]!r} recorded ahead takes effect on "
                f"{last_since.isoformat()}; the next handover can be recorded from that day",
            )
        if ctx.effective_date < self.latest_effective_date:
            raise RuleViolation(
                "effective_date",
                ctx.effective_date.isoformat(),
                f"the books already hold acts effective {self.latest_effective_date.isoformat()}"
                f" under {self.current_agency(ctx)!r}; a handover cannot take effect before them",
            )
        if ctx.effective_date < last_since:
            raise RuleViolation(
                "effective_date",
                ctx.effective_date.isoformat(),
                f"a handover cannot take effect before the previous one ({last_since.isoformat()})",
            )
        self._trigger(
            e.ProgrammeHandedOver(
                programme_id=self.id,
                from_agency=self.current_agency(ctx),
                to_agency=cmd.to_agency,
                decision_ref=cmd.decision_ref,
            ),
            ctx,
        )

    def submit_application(self, cmd: c.SubmitApplication, ctx: CommandContext) -> None:
        """Register an application from an allowed, eligible recipient for programme years."""
        self._require_agency(ctx)
        if cmd.application_id in self.grants:
            raise RuleViolation(
                "application_id", cmd.application_id, "an application with this id already exists"
            )
        if cmd.recipient_type not in self.recipient_types:
            raise RuleViolation(
                "recipient_type",
                cmd.recipient_type.value,
                f"programme {self.id} accepts {sorted(t.value for t in self.recipient_types)}",
            )
        if self.eligible is not None and cmd.recipient not in self.eligible:
            raise RuleViolation(
                "recipient",
                cmd.recipient,
                f"not eligible under programme {self.id} ({self.ordinance})",
            )
        requested = years_of(cmd.amounts_ore)
        self._require_decision_years("amounts_ore", requested)
        if self.cost_share_cap_percent is not None and cmd.total_cost_ore is None:
            raise RuleViolation(
                "total_cost_ore",
                None,
                f"programme {self.id} caps grants at {self.cost_share_cap_percent} % of costs: "
                "the application must state total_cost_ore",
            )
        self._trigger(
            e.ApplicationSubmitted(
                programme_id=self.id,
                application_id=cmd.application_id,
                recipient=cmd.recipient,
                recipient_type=RecipientType(cmd.recipient_type),
                amounts_ore=year_keys(requested),
                total_cost_ore=cmd.total_cost_ore,
            ),
            ctx,
        )

    def reject_application(self, cmd: c.RejectApplication, ctx: CommandContext) -> None:
        """Refuse a submitted application."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.SUBMITTED)
        self._trigger(
            e.ApplicationRejected(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                decision_ref=cmd.decision_ref,
                reason=cmd.reason,
            ),
            ctx,
        )

    def award(self, cmd: c.AwardGrant, ctx: CommandContext) -> None:
        """Award amounts per year, within what was requested and what the appropriation allows."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.SUBMITTED)
        amounts = years_of(cmd.amounts_ore)
        self._require_decision_years("amounts_ore", amounts)
        for year, amount in amounts.items():
            requested = grant.requested_ore.get(year, 0)
            if amount > requested:
                raise RuleViolation(
                    f"amounts_ore.{year}",
                    amount,
                    f"more than the {requested} öre requested for {year}; "
                    "award at most the request, then supplement with AmendAward",
                )
        self._require_budget("amounts_ore", amounts)
        self._require_cost_share("amounts_ore", grant, amounts, grant.total_cost_ore)
        self._trigger(
            e.GrantAwarded(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                amounts_ore=year_keys(amounts),
                decision_ref=cmd.decision_ref,
                conditions=list(cmd.conditions),
            ),
            ctx,
        )

    def extend(self, cmd: c.ExtendGrant, ctx: CommandContext) -> None:
        """Award further years that start directly after the grant's last year."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.AWARDED)
        amounts = years_of(cmd.amounts_ore)
        first_new_year = grant.last_awarded_year + 1
        if min(amounts) != first_new_year:
            raise RuleViolation(
                "amounts_ore",
                sorted(amounts),
                f"an extension starts directly after the grant's last year: with {first_new_year}",
            )
        self._require_decision_years("amounts_ore", amounts)
        total_cost_ore = grant.total_cost_ore
        if cmd.total_cost_ore is not None:
            total_cost_ore = (total_cost_ore or 0) + cmd.total_cost_ore
        elif self.cost_share_cap_percent is not None:
            raise RuleViolation(
                "total_cost_ore",
                None,
                f"programme {self.id} caps grants at {self.cost_share_cap_percent} % of costs: "
                "an extension must state the costs of its years",
            )
        self._require_budget("amounts_ore", amounts)
        self._require_cost_share("amounts_ore", grant, amounts, total_cost_ore)
        self._trigger(
            e.GrantExtended(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                amounts_ore=year_keys(amounts),
                decision_ref=cmd.decision_ref,
                total_cost_ore=cmd.total_cost_ore,
            ),
            ctx,
        )

    def amend_award(self, cmd: c.AmendAward, ctx: CommandContext) -> None:
        """Supplement or reduce a grant-year; never below what was paid out net of recoveries."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.AWARDED)
        self._require_grant_year(grant, cmd.year)
        if cmd.change_ore > 0:
            increase = {cmd.year: cmd.change_ore}
            self._require_budget("change_ore", increase)
            self._require_cost_share("change_ore", grant, increase, grant.total_cost_ore)
        else:
            new_award_ore = grant.awarded_ore[cmd.year] + cmd.change_ore
            floor_ore = grant.net_disbursed_ore(cmd.year)
            if new_award_ore < floor_ore:
                raise RuleViolation(
                    "change_ore",
                    cmd.change_ore,
                    f"would reduce the {cmd.year} award to {new_award_ore} öre, below the "
                    f"{floor_ore} öre already paid out; recover funds first",
                )
        self._trigger(
            e.AwardAmended(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                year=cmd.year,
                change_ore=cmd.change_ore,
                decision_ref=cmd.decision_ref,
                reason=cmd.reason,
            ),
            ctx,
        )

    def disburse(self, cmd: c.DisburseFunds, ctx: CommandContext) -> None:
        """Pay out at most what is awarded and not yet paid for the grant-year."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.AWARDED)
        self._require_grant_year(grant, cmd.year)
        undisbursed_ore = grant.undisbursed_ore(cmd.year)
        if cmd.amount_ore > undisbursed_ore:
            raise RuleViolation(
                "amount_ore",
                cmd.amount_ore,
                f"only {max(undisbursed_ore, 0)} öre of the {cmd.year} award is left to pay out",
            )
        self._trigger(
            e.FundsDisbursed(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                year=cmd.year,
                amount_ore=cmd.amount_ore,
                payment_ref=cmd.payment_ref,
            ),
            ctx,
        )

    def recover(self, cmd: c.RecoverFunds, ctx: CommandContext) -> None:
        """Claw back at most what was paid out and not yet recovered for the grant-year."""
        self._require_agency(ctx)
        grant = self._grant_in_status(cmd.application_id, GrantStatus.AWARDED)
        self._require_grant_year(grant, cmd.year)
        recoverable_ore = grant.net_disbursed_ore(cmd.year)
        if cmd.amount_ore > recoverable_ore:
            raise RuleViolation(
                "amount_ore",
                cmd.amount_ore,
                f"only {recoverable_ore} öre of {cmd.year} was paid out and not yet recovered",
            )
        self._trigger(
            e.FundsRecovered(
                programme_id=self.id,
                application_id=grant.application_id,
                recipient=grant.recipient,
                year=cmd.year,
                amount_ore=cmd.amount_ore,
                decision_ref=cmd.decision_ref,
                reason=cmd.reason,
            ),
            ctx,
        )

    # ----------------------------------------------------------------- rules

    def current_agency(self, ctx: CommandContext) -> str:
        """The agency administering the programme when the command is recorded.

        A handover recorded ahead of its effective date takes effect on that date, not before.
        """
        return self.agency_on(today_in_stockholm(ctx.recorded_at))

    def _require_agency(self, ctx: CommandContext) -> None:
        self._require_effective_date(ctx)
        current = self.current_agency(ctx)
        if ctx.agency != current:
            raise RuleViolation(
                "agency",
                ctx.agency,
                f"only the administering agency {current!r} may act on programme {self.id}",
            )

    def _require_effective_date(self, ctx: CommandContext) -> None:
        """An act counts in the books between the programme's establishment and a few years
        after its last year (late payments, recoveries); outside that a date is a typo."""
        established_on = self.agency_timeline[0][0]
        if ctx.effective_date < established_on:
            raise RuleViolation(
                "effective_date",
                ctx.effective_date.isoformat(),
                f"before programme {self.id} was established ({established_on.isoformat()})",
            )
        _require_within_life(ctx.effective_date, self.last_year)

    def _require_programme_year(self, field: str, year: int) -> None:
        if not self.first_year <= year <= self.last_year:
            raise RuleViolation(
                field,
                year,
                f"programme {self.id} runs {self.first_year}–{self.last_year}",
            )

    def _require_decision_years(self, field: str, amounts: Mapping[int, int]) -> None:
        years = sorted(amounts)
        for year in years:
            self._require_programme_year(f"{field}.{year}", year)
        if years != list(range(years[0], years[0] + len(years))):
            raise RuleViolation(field, years, "the years of one decision must be consecutive")
        if len(years) > self.max_years_per_decision:
            raise RuleViolation(
                field,
                years,
                f"one decision covers at most {self.max_years_per_decision} years",
            )

    def _require_budget(self, field: str, increases: Mapping[int, int]) -> None:
        for year, increase_ore in increases.items():
            available_ore = self.available_ore(year)
            if available_ore < 0:
                raise RuleViolation(
                    field,
                    year,
                    f"{year} is over-committed by {-available_ore} öre after an appropriation cut: "
                    "no new awards or increases until the appropriation covers what is awarded",
                )
            if increase_ore > available_ore:
                raise RuleViolation(
                    f"{field}.{year}" if field == "amounts_ore" else field,
                    increase_ore,
                    f"exceeds the {available_ore} öre still available in {year} "
                    f"(appropriated {self.appropriated_ore.get(year, 0)}, "
                    f"awarded {self.awarded_ore.get(year, 0)})",
                )

    def _require_cost_share(
        self, field: str, grant: Grant, increases: Mapping[int, int], total_cost_ore: int | None
    ) -> None:
        cap_percent = self.cost_share_cap_percent
        if cap_percent is None:
            return
        assert total_cost_ore is not None, "capped programmes require total_cost_ore at submission"
        awarded_after_ore = sum(grant.awarded_ore.values()) + sum(increases.values())
        # Integer comparison: awarded / cost <= cap / 100, without rounding.
        if awarded_after_ore * 100 > total_cost_ore * cap_percent:
            raise RuleViolation(
                field,
                awarded_after_ore,
                f"the grant would cover more than {cap_percent} % of the "
                f"{total_cost_ore} öre of costs",
            )

    def _grant_in_status(self, application_id: str, status: GrantStatus) -> Grant:
        grant = self.grants.get(application_id)
        if grant is None:
            raise RuleViolation(
                "application_id", application_id, f"no such application in programme {self.id}"
            )
        if grant.status is not status:
            raise RuleViolation(
                "application_id",
                application_id,
                f"the application is {grant.status.value}; this needs it {status.value}",
            )
        return grant

    @staticmethod
    def _require_grant_year(grant: Grant, year: int) -> None:
        if year not in grant.awarded_ore:
            raise RuleViolation(
                "year", year, f"grant {grant.application_id} covers {sorted(grant.awarded_ore)}"
            )

    # ----------------------------------------------------------------- events

    def _trigger(self, data: e.AnyEventData, ctx: CommandContext) -> None:
        if not self._pending:
            # A new decision: what was decided before is saved, or the application rolled it
            # back or dropped this object, so its undo records are spent.
            self._undo.clear()
        event = _record(self.id, self.version + 1, data, ctx)
        self._undo.append(_Undo.before(self, data))
        Programme.evolve(self, event)
        self._pending.append(event)

    @classmethod
    def evolve(cls, programme: Programme | None, event: ProgrammeEvent) -> Programme:
        """Apply one recorded event; the only place state changes."""
        data = event.data
        if programme is None:
            assert isinstance(data, e.ProgrammeEstablished), f"stream starts with {data.type}"
            programme = cls(event)
        else:
            assert event.originator_version == programme.version + 1, (
                f"{programme.id}: event v{event.originator_version} after v{programme.version}"
            )
            programme._apply(event)
            programme.latest_effective_date = max(
                programme.latest_effective_date, event.effective_date
            )
            programme.last_recorded_at = max(programme.last_recorded_at, event.timestamp)
        programme.version = event.originator_version
        return programme

    def _apply(self, event: ProgrammeEvent) -> None:
        data = event.data
        if isinstance(data, e.AppropriationSet | e.AppropriationAmended):
            self.appropriated_ore[data.year] = data.amount_ore
        elif isinstance(data, e.ProgrammeHandedOver):
            self.agency = data.to_agency
            self.agency_timeline.append((event.effective_date, data.to_agency))
        elif isinstance(data, e.ApplicationSubmitted):
            self.grants[data.application_id] = Grant(
                application_id=data.application_id,
                recipient=data.recipient,
                recipient_type=data.recipient_type.value,
                requested_ore=years_of(data.amounts_ore),
                total_cost_ore=data.total_cost_ore,
            )
        elif isinstance(data, e.ApplicationRejected):
            self.grants[data.application_id].status = GrantStatus.REJECTED
        elif isinstance(data, e.GrantAwarded | e.GrantExtended):
            grant = self.grants[data.application_id]
            grant.status = GrantStatus.AWARDED
            for year, amount in years_of(data.amounts_ore).items():
                grant.awarded_ore[year] = grant.awarded_ore.get(year, 0) + amount
                self.awarded_ore[year] = self.awarded_ore.get(year, 0) + amount
            if isinstance(data, e.GrantAwarded):
                grant.conditions = list(data.conditions)
            elif data.total_cost_ore is not None:
                grant.total_cost_ore = (grant.total_cost_ore or 0) + data.total_cost_ore
        elif isinstance(data, e.AwardAmended):
            grant = self.grants[data.application_id]
            grant.awarded_ore[data.year] += data.change_ore
            self.awarded_ore[data.year] += data.change_ore
        elif isinstance(data, e.FundsDisbursed):
            grant = self.grants[data.application_id]
            grant.disbursed_ore[data.year] = grant.disbursed_ore.get(data.year, 0) + data.amount_ore
        elif isinstance(data, e.FundsRecovered):
            grant = self.grants[data.application_id]
            grant.recovered_ore[data.year] = grant.recovered_ore.get(data.year, 0) + data.amount_ore
        else:
            raise AssertionError(f"{self.id}: {data.type} cannot follow the establishment")
        if isinstance(data, e.GrantEventData):
            self.grants[data.application_id].check_invariants()


def _copied(value: object) -> object:
    """A programme attribute's value, independent of later changes: containers of the
    programme's own attributes hold values only (years, amounts, dates, agency names)."""
    if isinstance(value, dict | list):
        return value.copy()
    assert isinstance(value, str | int | date | frozenset | type(None)), (
        f"undo cannot copy a {type(value).__name__} attribute yet"
    )
    return value


# Attributes an undo record does not copy whole: the grants (only the event's own grant is kept)
# and the bookkeeping of what is decided but not saved.
_NOT_COPIED_FOR_UNDO = frozenset({"grants", "_pending", "_undo"})


@dataclass(frozen=True, slots=True)
class _Undo:
    """What one decided event changes, as it was before: enough to take the event back.

    An event changes the programme's own attributes (small: years, agencies, dates) and at most
    the grant it names; the property tests check that rolling back restores the whole state.
    """

    version_before: int
    attributes: dict[str, object]
    application_id: str | None
    grant_before: Grant | None

    @classmethod
    def before(cls, programme: Programme, data: e.AnyEventData) -> _Undo:
        """Record the state an event about to be applied will change."""
        application_id = data.application_id if isinstance(data, e.GrantEventData) else None
        grant = programme.grants.get(application_id) if application_id is not None else None
        return cls(
            version_before=programme.version,
            attributes={
                name: _copied(value)
                for name, value in vars(programme).items()
                if name not in _NOT_COPIED_FOR_UNDO
            },
            application_id=application_id,
            grant_before=None if grant is None else grant.copy(),
        )

    def restore(self, programme: Programme) -> None:
        """Put the recorded state back."""
        for name, value in self.attributes.items():
            setattr(programme, name, value)
        if self.application_id is not None:
            if self.grant_before is None:
                del programme.grants[self.application_id]
            else:
                programme.grants[self.application_id] = self.grant_before


def replay(events: Iterable[ProgrammeEvent]) -> Programme | None:
    """Rebuild a programme from its stream (pure; used by tests and the auditors' tools)."""
    programme: Programme | None = None
    for event in events:
        programme = Programme.evolve(programme, event)
    return programme


def _record(
    programme_id: str, version: int, data: e.AnyEventData, ctx: CommandContext
) -> ProgrammeEvent:
    return ProgrammeEvent(
        originator_id=programme_id,
        originator_version=version,
        timestamp=ctx.recorded_at,
        event_id=ctx.event_id,
        effective_date=ctx.effective_date,
        actor=ctx.actor,
        agency=ctx.agency,
        command_id=ctx.command_id,
        command_digest=ctx.command_digest,
        note=ctx.note,
        data=data,
    )

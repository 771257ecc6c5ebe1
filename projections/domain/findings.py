"""An auditor's findings on one programme, each with the events (positions) behind it.

Pure: a walk over the programme's envelopes in position order (what the ledger knew, when).
- over-committed years: from the act that took a year's appropriation below what was awarded
  to the act that ended it (or "still"), and by how much at most;
- backdated acts: recorded more than a threshold of days after their effective date;
- supplements (awards raised above the request), reductions and recoveries;
- disbursements effective in a calendar year after their grant-year, and grant-years still
  outstanding (awarded, not paid) after the programme's last year;
- acts by an agency that did not administer the programme on the day they were recorded (the
  write side refuses them: the report proves there are none, by checking every act).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from schemas.calendar import today_in_stockholm
from schemas.errors import InvalidQuery, QueryParameter
from schemas.money import format_sek

DEFAULT_BACKDATING_DAYS: Final = 30


def check_backdating_days(backdating_days: int) -> None:
    """Refuse a negative backdating window, naming the parameter (before any store is read)."""
    if backdating_days < 0:
        raise InvalidQuery(QueryParameter.BACKDATING_DAYS, backdating_days, "must be 0 or more")


class FindingKind(StrEnum):
    """What a finding is about (its section in the report)."""

    OVER_COMMITTED = "Over-committed year"
    BACKDATED = "Backdated act"
    SUPPLEMENT = "Award above the request (supplement)"
    REDUCTION = "Reduction of an award"
    RECOVERY = "Recovery (återkrav)"
    LATE_DISBURSEMENT = "Disbursed after the grant-year"
    OUTSTANDING = "Outstanding after the programme's last year"
    WRONG_AGENCY = "Act by an agency not administering the programme"


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: what, how much (öre, when it is money), and the positions behind it."""

    kind: FindingKind
    text: str
    positions: tuple[int, ...]
    amount_ore: int | None = None


@dataclass
class ProgrammeRecord:
    """A programme's rules, agency timeline and findings, from its events."""

    programme_id: str
    rules: dict[str, Any] = field(default_factory=dict)
    # (effective date, agency, position, decision reference) in the order recorded.
    timeline: list[tuple[date, str, int, str | None]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    acts_checked_for_agency: int = 0
    events: int = 0

    def agency_on(self, day: date) -> str | None:
        """The agency administering on a day, by the handovers recorded so far."""
        agency = None
        for since, successor, _, _ in self.timeline:
            if since <= day:
                agency = successor
        return agency or (self.timeline[0][1] if self.timeline else None)

    def of_kind(self, kind: FindingKind) -> list[Finding]:
        """The findings of one kind, in order."""
        return [finding for finding in self.findings if finding.kind is kind]


@dataclass
class _Episode:
    year: int
    started_position: int
    started_on: date
    deepest_ore: int
    positions: list[int]


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _recorded_day(text: str) -> date:
    return today_in_stockholm(datetime.fromisoformat(text.replace("Z", "+00:00")))


class _Walk:
    """The state a walk keeps: money per year and grant, open over-commitment episodes."""

    def __init__(self, record: ProgrammeRecord, backdating_days: int) -> None:
        self.record = record
        self.backdating_days = backdating_days
        self.appropriated: dict[int, int] = defaultdict(int)
        self.awarded: dict[int, int] = defaultdict(int)
        self.requested: dict[tuple[str, int], int] = defaultdict(int)
        self.granted: dict[tuple[str, int], int] = defaultdict(int)
        self.paid: dict[tuple[str, int], int] = defaultdict(int)  # disbursed (gross)
        self.award_positions: dict[str, list[int]] = defaultdict(list)
        self.recipients: dict[str, str] = {}
        self.open: dict[int, _Episode] = {}

    def add(self, envelope: Mapping[str, Any]) -> None:
        position, kind, data = envelope["position"], envelope["type"], envelope["data"]
        effective = _day(envelope["effective_date"])
        self._check_agency(envelope, kind, position)
        self._check_backdating(envelope, kind, position, effective)
        if kind == "ProgrammeEstablished":
            self.record.rules = dict(data)
            self.record.timeline.append((effective, data["administering_agency"], position, None))
        elif kind == "ProgrammeHandedOver":
            self.record.timeline.append(
                (effective, data["to_agency"], position, data.get("decision_ref"))
            )
        elif kind == "AppropriationSet":
            self.appropriated[data["year"]] = data["amount_ore"]
            self._commitment(data["year"], position, effective)
        elif kind == "AppropriationAmended":
            self.appropriated[data["year"]] += data["change_ore"]
            self._commitment(data["year"], position, effective)
        elif kind == "ApplicationSubmitted":
            self.recipients[data["application_id"]] = data["recipient"]
            for year, amount in data["amounts_ore"].items():
                self.requested[(data["application_id"], int(year))] += amount
        elif kind in ("GrantAwarded", "GrantExtended"):
            self.award_positions[data["application_id"]].append(position)
            for year, amount in data["amounts_ore"].items():
                self._award(data["application_id"], int(year), amount, position, effective)
        elif kind == "AwardAmended":
            self._amended(data, position, effective)
        elif kind == "FundsDisbursed":
            self._disbursed(data, position, effective)
        elif kind == "FundsRecovered":
            self.record.findings.append(
                Finding(
                    FindingKind.RECOVERY,
                    f"{data['application_id']} ({data['recipient']}) {data['year']}: "
                    f"{data.get('reason', '')}",
                    (position,),
                    data["amount_ore"],
                )
            )

    def _check_agency(self, envelope: Mapping[str, Any], kind: str, position: int) -> None:
        if kind == "ProgrammeEstablished":
            return  # established by its administering agency: the rule of the act itself
        self.record.acts_checked_for_agency += 1
        day = _recorded_day(envelope["recorded_at"])
        expected = self.record.agency_on(day)
        if envelope["agency"] != expected:
            self.record.findings.append(
                Finding(
                    FindingKind.WRONG_AGENCY,
                    f"{kind} by {envelope['agency']} on {day}, when {expected} administered "
                    "the programme",
                    (position,),
                )
            )

    def _check_backdating(
        self, envelope: Mapping[str, Any], kind: str, position: int, effective: date
    ) -> None:
        late_days = (_recorded_day(envelope["recorded_at"]) - effective).days
        if late_days > self.backdating_days:
            self.record.findings.append(
                Finding(
                    FindingKind.BACKDATED,
                    f"{kind} effective {effective}, recorded {late_days} days later",
                    (position,),
                )
            )

    def _award(self, application: str, year: int, amount: int, position: int, on: date) -> None:
        self.granted[(application, year)] += amount
        self.awarded[year] += amount
        self._commitment(year, position, on)

    def _amended(self, data: Mapping[str, Any], position: int, on: date) -> None:
        application, year, change = data["application_id"], data["year"], data["change_ore"]
        self.award_positions[application].append(position)
        self._award(application, year, change, position, on)
        above = self.granted[(application, year)] - self.requested[(application, year)]
        if change > 0:
            self.record.findings.append(
                Finding(
                    FindingKind.SUPPLEMENT,
                    f"{application} ({data['recipient']}) {year}: raised by the supplement; "
                    f"now {'above' if above > 0 else 'within'} the request"
                    + (f" by {format_sek(above)}" if above > 0 else ""),
                    (position,),
                    change,
                )
            )
        else:
            self.record.findings.append(
                Finding(
                    FindingKind.REDUCTION,
                    f"{application} ({data['recipient']}) {year}: {data.get('reason', '')}",
                    (position,),
                    -change,
                )
            )

    def _disbursed(self, data: Mapping[str, Any], position: int, on: date) -> None:
        key = (data["application_id"], data["year"])
        self.paid[key] += data["amount_ore"]
        if on.year > data["year"]:
            self.record.findings.append(
                Finding(
                    FindingKind.LATE_DISBURSEMENT,
                    f"{data['application_id']} ({data['recipient']}): grant-year {data['year']} "
                    f"paid on {on}",
                    (position,),
                    data["amount_ore"],
                )
            )

    def _commitment(self, year: int, position: int, on: date) -> None:
        available = self.appropriated[year] - self.awarded[year]
        episode = self.open.get(year)
        if available < 0 and episode is None:
            self.open[year] = _Episode(year, position, on, available, [position])
        elif available < 0 and episode is not None:
            episode.deepest_ore = min(episode.deepest_ore, available)
            episode.positions.append(position)
        elif episode is not None:
            episode.positions.append(position)
            self._close(episode, f"until {on} (position {position})")
            del self.open[year]

    def _close(self, episode: _Episode, until: str) -> None:
        self.record.findings.append(
            Finding(
                FindingKind.OVER_COMMITTED,
                f"{episode.year}: over-committed from {episode.started_on} (position "
                f"{episode.started_position}) {until}, by at most "
                f"{format_sek(-episode.deepest_ore)}",
                tuple(episode.positions),
                -episode.deepest_ore,
            )
        )

    def finish(self, as_of: date) -> None:
        for episode in list(self.open.values()):
            self._close(episode, f"and still at {as_of}")
        last_year = self.record.rules.get("last_year")
        if last_year is None or as_of.year <= last_year:
            return
        for (application, year), granted in sorted(self.granted.items()):
            outstanding = granted - self.paid[(application, year)]
            if outstanding > 0:
                self.record.findings.append(
                    Finding(
                        FindingKind.OUTSTANDING,
                        f"{application} ({self.recipients.get(application, '?')}) {year}: "
                        f"awarded, not paid after {last_year}",
                        tuple(self.award_positions[application]),
                        outstanding,
                    )
                )


def programme_record(
    programme_id: str,
    envelopes: Iterable[Mapping[str, Any]],
    *,
    as_of: date,
    backdating_days: int = DEFAULT_BACKDATING_DAYS,
) -> ProgrammeRecord:
    """The programme's rules, timeline and findings from its envelopes (position order), counting
    events effective on or before `as_of`."""
    assert backdating_days >= 0, backdating_days
    record = ProgrammeRecord(programme_id)
    walk = _Walk(record, backdating_days)
    for envelope in envelopes:
        if envelope["programme_id"] != programme_id or _day(envelope["effective_date"]) > as_of:
            continue
        record.events += 1
        walk.add(envelope)
    walk.finish(as_of)
    return record

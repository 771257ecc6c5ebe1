"""The end-of-run check over the event store: no command lost, doubled or recorded out of rule.

It reads the published log (what the relay puts on Kafka) and the command index, and recomputes
the money rules itself, event by event, without the Programme aggregate's code: awarded never
above appropriated when an award grows, paid out never above awarded, recovered never above paid
out. Then it holds every answer the API gave against what the store holds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from eventsourcing.utils import get_topic

from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.domain.recorded import COMMAND_KEY_PREFIX, IndexEntry
from tests.load.driver import ALREADY_RECORDED, RECORDED, LoadResult

INDEX_PAGE = 10_000
AWARD_GROWS = frozenset({"GrantAwarded", "GrantExtended"})


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What the store holds after the run."""

    events: int
    awarded_ore: dict[tuple[str, int], int]
    appropriated_ore: dict[tuple[str, int], int]
    disbursed_ore: int


class MoneyBook:
    """Per programme-year and grant-year sums, checked at every event."""

    def __init__(self) -> None:
        self.appropriated: dict[tuple[str, int], int] = {}
        self.awarded: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.granted: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.paid: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.recovered: defaultdict[tuple[str, int], int] = defaultdict(int)

    def apply(self, envelope: dict[str, Any]) -> None:
        """Add one event and assert the rules it could break."""
        kind, data = envelope["type"], envelope["data"]
        programme = envelope["programme_id"]
        where = f"position {envelope['position']} ({kind})"
        if kind in ("AppropriationSet", "AppropriationAmended"):
            self.appropriated[programme, data["year"]] = data["amount_ore"]
        elif kind in AWARD_GROWS:
            for year_key, amount in data["amounts_ore"].items():
                self._grow_award(programme, data["application_id"], int(year_key), amount, where)
        elif kind == "AwardAmended":
            year, change = data["year"], data["change_ore"]
            if change > 0:
                self._grow_award(programme, data["application_id"], year, change, where)
            else:
                self.awarded[programme, year] += change
                grant_year = (data["application_id"], year)
                self.granted[grant_year] += change
                net_paid = self.paid[grant_year] - self.recovered[grant_year]
                assert self.granted[grant_year] >= net_paid, f"{where}: below what was paid"
        elif kind == "FundsDisbursed":
            grant_year = (data["application_id"], data["year"])
            self.paid[grant_year] += data["amount_ore"]
            assert self.paid[grant_year] <= self.granted[grant_year], f"{where}: paid > awarded"
        elif kind == "FundsRecovered":
            grant_year = (data["application_id"], data["year"])
            self.recovered[grant_year] += data["amount_ore"]
            assert self.recovered[grant_year] <= self.paid[grant_year], f"{where}: > paid"

    def _grow_award(self, programme: str, app: str, year: int, amount: int, where: str) -> None:
        self.awarded[programme, year] += amount
        self.granted[app, year] += amount
        appropriated = self.appropriated.get((programme, year), 0)
        assert self.awarded[programme, year] <= appropriated, (
            f"{where}: {programme} {year} awarded {self.awarded[programme, year]} "
            f"> appropriated {appropriated}"
        )


def command_index(ledger: GrantLedger) -> Counter[str]:
    """How many index entries reserve each command_id."""
    topic = get_topic(IndexEntry)
    counts: Counter[str] = Counter()
    start = 1
    while page := ledger.recorder.select_notifications(
        start=start, limit=INDEX_PAGE, topics=[topic]
    ):
        for notification in page:
            key = str(notification.originator_id)
            if key.startswith(COMMAND_KEY_PREFIX):
                counts[key[len(COMMAND_KEY_PREFIX) :]] += 1
        start = page[-1].id + 1
    return counts


def audit(ledger: GrantLedger, result: LoadResult | None = None) -> AuditReport:
    """Check the store (and the answers, when given); the report sums what it found."""
    book = MoneyBook()
    stored: dict[str, dict[str, Any]] = {}
    for envelope in store_envelopes(ledger):
        command_id = envelope["command_id"]
        assert command_id not in stored, f"{command_id} recorded twice"
        stored[command_id] = envelope
        book.apply(envelope)
    index = command_index(ledger)
    assert set(index) == set(stored), "index entries and recorded commands differ"
    assert max(index.values(), default=1) == 1, "a command_id reserved twice"
    if result is not None:
        _answers_match_the_store(result, stored)
    return AuditReport(
        events=len(stored),
        awarded_ore=dict(book.awarded),
        appropriated_ore=dict(book.appropriated),
        disbursed_ore=sum(book.paid.values()),
    )


def _answers_match_the_store(result: LoadResult, stored: dict[str, dict[str, Any]]) -> None:
    recorded_answers = Counter(a.command_id for a in result.answers if a.status == RECORDED)
    assert max(recorded_answers.values(), default=1) == 1, "a command answered 201 twice"
    acknowledged = set()
    for answer in result.answers:
        if answer.status in (RECORDED, ALREADY_RECORDED):
            acknowledged.add(answer.command_id)
            envelope = stored.get(answer.command_id)
            assert envelope is not None, f"{answer.command_id} acknowledged but not stored (lost)"
            assert answer.body["position"] == envelope["position"], (answer, envelope["position"])
            assert answer.body["aggregate_version"] == envelope["aggregate_version"], answer
    answered = {answer.command_id for answer in result.answers}
    refused_only = answered - acknowledged
    assert not refused_only & set(stored), "a refused command is in the store"
    assert answered & set(stored) == acknowledged, "a stored command was never acknowledged"

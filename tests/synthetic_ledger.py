"""A deterministic synthetic ledger: 290 municipalities, several programmes, twenty grant-years.

One vectorised plan (numpy, fixed seed) describes every event. From it come either the replay
store's columns directly (fast: the 10M-event benchmarks) or full envelopes with a real hash
chain and checkpoints (slower: the 1M-event Kafka topic). Events are schema-valid; the money
follows a plausible mix (applications, awards, payments, amendments, recoveries, appropriation
cuts, handovers, backdating) without replaying the write side's rules.
"""

from __future__ import annotations

import os
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import ValidationError

from ledger.application.envelopes import chained_envelopes
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import LedgerError
from ledger.domain.grant import GrantStatus
from ledger.domain.recorded import ProgrammeEvent
from ledger.infrastructure.kafka.reading import consumer_config, producer_config
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.proof.chain_reader import GENESIS_POINT, Arrival, ChainPoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.messages import read_envelope
from ledger.relay.messages import cloudevents_headers
from projections.consumer.columnizer import Columnizer
from projections.domain.asof import AsOf
from projections.domain.balances import Balances
from projections.domain.facts import EventFacts, facts_of
from projections.domain.kinds import EventKind
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, RecipientYearRow, View
from projections.domain.selection import Selection
from projections.domain.time_units import date_of_day, instant_of_micros, micros_of
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.engine import base_totals
from projections.replay.layout import COLUMNS, EVENTS, POSTINGS, TIMELINE
from projections.replay.views import balances_from_totals
from projections.store.read_store import ProvenBatch, ReadStore
from schemas.calendar import today_in_stockholm
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from schemas.commands import COMMAND_ADAPTER
from schemas.envelope import Checkpoint
from schemas.recipients import eligible_sfs_2018_151, municipalities
from tests.signing import ledger_signer

SEED = 20180315
PROGRAMME_COUNT = 8
FIRST_YEAR = 2016
LAST_YEAR = 2035
LEDGER_START = datetime(2016, 1, 4, 8, 0, tzinfo=UTC)
LEDGER_END = datetime(2035, 12, 20, 16, 0, tzinfo=UTC)
AGENCIES = ("tillvaxtverket", "delmos", "boverket", "socialstyrelsen")
CHECKPOINT_EVERY = 1_000
BACKDATED_SHARE = 0.05
BACKDATE_MAX_DAYS = 90

# The stream after the set-up (establishments, appropriations): kind -> share of events.
STREAM_MIX: dict[EventKind, float] = {
    EventKind.APPLICATION_SUBMITTED: 0.14,
    EventKind.GRANT_AWARDED: 0.11,
    EventKind.APPLICATION_REJECTED: 0.03,
    EventKind.GRANT_EXTENDED: 0.01,
    EventKind.AWARD_AMENDED: 0.04,
    EventKind.FUNDS_DISBURSED: 0.62,
    EventKind.FUNDS_RECOVERED: 0.045,
    EventKind.APPROPRIATION_AMENDED: 0.005,
}
MULTI_YEAR_KINDS = (
    EventKind.APPLICATION_SUBMITTED,
    EventKind.GRANT_AWARDED,
    EventKind.GRANT_EXTENDED,
)
# (low, high) öre per posting.
AMOUNT_RANGE_ORE: dict[EventKind, tuple[int, int]] = {
    EventKind.APPLICATION_SUBMITTED: (10**7, 5 * 10**9),
    EventKind.GRANT_AWARDED: (10**7, 4 * 10**9),
    EventKind.GRANT_EXTENDED: (10**7, 2 * 10**9),
    EventKind.AWARD_AMENDED: (10**5, 10**8),
    EventKind.FUNDS_DISBURSED: (10**6, 10**9),
    EventKind.FUNDS_RECOVERED: (10**5, 10**8),
    EventKind.APPROPRIATION_SET: (10**11, 10**12),
    EventKind.APPROPRIATION_AMENDED: (10**9, 10**10),
}
# (share of the stream, from index, to index): handovers of some programmes.
HANDOVERS = ((0.40, 0, 1), (0.40, 1, 1), (0.75, 1, 2), (0.55, 2, 3))


def programme_ids() -> list[str]:
    """The synthetic programmes."""
    return [f"synthetic-{index + 1}" for index in range(PROGRAMME_COUNT)]


@dataclass(frozen=True)
class SyntheticPlan:
    """Every event of the synthetic ledger as arrays (codes index the lists beside)."""

    kind: npt.NDArray[np.uint8]
    programme: npt.NDArray[np.uint16]
    recipient: npt.NDArray[np.int32]  # 0: none, else 1 + index into `recipient_codes`
    recorded_at_us: npt.NDArray[np.int64]
    effective_day: npt.NDArray[np.int32]
    posting_count: npt.NDArray[np.uint8]
    posting_year: npt.NDArray[np.int16]
    posting_amount_ore: npt.NDArray[np.int64]
    timeline_agency: dict[int, int]  # event index -> agency code
    recipient_codes: list[str]

    @property
    def event_count(self) -> int:
        """Events in the plan."""
        return len(self.kind)


def plan(events: int, seed: int = SEED) -> SyntheticPlan:
    """The deterministic plan of `events` events."""
    rng = np.random.default_rng(seed)
    codes = sorted(municipalities())
    years = LAST_YEAR - FIRST_YEAR + 1
    setup = PROGRAMME_COUNT * (1 + years)
    assert events >= setup + len(HANDOVERS), f"at least {setup + len(HANDOVERS)} events"

    kind = np.empty(events, dtype=np.uint8)
    programme = np.empty(events, dtype=np.uint16)
    # Set-up: each programme established, then its appropriation for every year.
    kind[:PROGRAMME_COUNT] = EventKind.PROGRAMME_ESTABLISHED
    programme[:PROGRAMME_COUNT] = np.arange(PROGRAMME_COUNT)
    kind[PROGRAMME_COUNT:setup] = EventKind.APPROPRIATION_SET
    programme[PROGRAMME_COUNT:setup] = np.repeat(np.arange(PROGRAMME_COUNT), years)
    stream_kinds = np.array(list(STREAM_MIX), dtype=np.uint8)
    shares = np.array(list(STREAM_MIX.values()))
    kind[setup:] = rng.choice(stream_kinds, size=events - setup, p=shares / shares.sum())
    # Bigger programmes get more events.
    weights = np.linspace(2.0, 0.5, PROGRAMME_COUNT)
    programme[setup:] = rng.choice(PROGRAMME_COUNT, size=events - setup, p=weights / weights.sum())

    timeline_agency: dict[int, int] = {index: 0 for index in range(PROGRAMME_COUNT)}
    stream = events - setup
    for share, programme_index, agency in HANDOVERS:
        at = setup + int(stream * share)
        while at in timeline_agency:
            at += 1
        kind[at] = EventKind.PROGRAMME_HANDED_OVER
        programme[at] = programme_index
        timeline_agency[at] = agency

    grant = np.isin(kind, [int(k) for k in STREAM_MIX if k != EventKind.APPROPRIATION_AMENDED])
    # Larger municipalities (by code order, a stand-in) apply a little more often.
    recipient_weights = rng.uniform(0.5, 2.0, len(codes))
    recipient = np.where(
        grant,
        1 + rng.choice(len(codes), size=events, p=recipient_weights / recipient_weights.sum()),
        0,
    ).astype(np.int32)

    span_us = micros_of(LEDGER_END) - micros_of(LEDGER_START)
    step_us = span_us // events
    recorded_at_us = (
        micros_of(LEDGER_START)
        + np.arange(events, dtype=np.int64) * step_us
        + rng.integers(0, max(step_us, 1), size=events)
    )
    recorded_day = (recorded_at_us // 86_400_000_000).astype(np.int32)
    backdated = rng.random(events) < BACKDATED_SHARE
    backdated[:setup] = False
    backdated[kind == EventKind.PROGRAMME_HANDED_OVER] = False
    effective_day = recorded_day - np.where(
        backdated, rng.integers(1, BACKDATE_MAX_DAYS + 1, size=events), 0
    ).astype(np.int32)
    effective_day[:setup] = recorded_day[0]

    posting_count = np.zeros(events, dtype=np.uint8)
    multi = np.isin(kind, [int(k) for k in MULTI_YEAR_KINDS])
    posting_count[multi] = rng.integers(1, 4, size=int(multi.sum()))
    single = np.isin(kind, [int(k) for k in AMOUNT_RANGE_ORE]) & ~multi
    posting_count[single] = 1

    calendar_year = np.array(
        [
            date_of_day(int(day)).year
            for day in range(int(recorded_day[0]), int(recorded_day[-1]) + 1)
        ],
        dtype=np.int16,
    )[recorded_day - recorded_day[0]]
    base_year = np.clip(calendar_year, FIRST_YEAR, LAST_YEAR).astype(np.int16)
    # Appropriations: one per programme-year, in year order.
    base_year[PROGRAMME_COUNT:setup] = np.tile(
        np.arange(FIRST_YEAR, LAST_YEAR + 1), PROGRAMME_COUNT
    )
    # Applications and awards look ahead; payments and corrections sometimes look back a year.
    base_year[multi] = np.minimum(
        base_year[multi], LAST_YEAR + 1 - posting_count[multi].astype(np.int16)
    )
    look_back = single & (kind != EventKind.APPROPRIATION_SET) & (rng.random(events) < 0.3)
    base_year[look_back] = np.maximum(base_year[look_back] - 1, FIRST_YEAR)

    counts = posting_count.astype(np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    within = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    posting_year = (np.repeat(base_year, counts) + within).astype(np.int16)
    low = np.zeros(256, dtype=np.int64)
    high = np.ones(256, dtype=np.int64)
    for each, (lo, hi) in AMOUNT_RANGE_ORE.items():
        low[each], high[each] = lo, hi
    posting_kind = np.repeat(kind, counts)
    amount = (rng.random(total) * (high[posting_kind] - low[posting_kind])).astype(np.int64)
    amount = (low[posting_kind] + amount) // 100 * 100
    signed = np.isin(posting_kind, [EventKind.AWARD_AMENDED, EventKind.APPROPRIATION_AMENDED])
    # Amendments: a third are supplements, the rest cuts.
    amount[signed] *= np.where(rng.random(int(signed.sum())) < 1 / 3, 1, -1)

    return SyntheticPlan(
        kind=kind,
        programme=programme,
        recipient=recipient,
        recorded_at_us=recorded_at_us,
        effective_day=effective_day,
        posting_count=posting_count,
        posting_year=posting_year,
        posting_amount_ore=amount,
        timeline_agency=timeline_agency,
        recipient_codes=codes,
    )


def pseudo_hash(position: int, seed: int = SEED) -> str:
    """A stand-in chain hash for the columns-only ledger (no envelopes to hash)."""
    rng = np.random.default_rng([seed, position])
    return bytes(rng.integers(0, 256, size=32, dtype=np.uint8)).hex()


def synthetic_columns(
    events: int, seed: int = SEED
) -> tuple[ReplayColumns, Dictionaries, list[Checkpoint]]:
    """Replay-store columns of the plan, its dictionaries and checkpoints of stand-in hashes."""
    p = plan(events, seed)
    rng = np.random.default_rng(seed + 1)
    hash_prefix = rng.integers(0, 2**63, size=events, dtype=np.int64).astype(np.uint64)
    checkpoint_positions = [*range(CHECKPOINT_EVERY, events + 1, CHECKPOINT_EVERY)]
    if not checkpoint_positions or checkpoint_positions[-1] != events:
        checkpoint_positions.append(events)
    checkpoints = []
    for position in checkpoint_positions:
        tail = pseudo_hash(position, seed)[16:]
        checkpoints.append(
            Checkpoint(
                position=position,
                hash=f"{int(hash_prefix[position - 1]):016x}{tail}",
                events=position,
                recorded_at=instant_of_micros(int(p.recorded_at_us[position - 1])),
            )
        )
    timeline_rows = sorted(p.timeline_agency.items())
    index = np.array([row for row, _ in timeline_rows], dtype=np.int64)
    event_table = {
        "position": np.arange(1, events + 1, dtype=np.int64),
        "recorded_at_us": p.recorded_at_us,
        "hash_prefix": hash_prefix,
        "effective_day": p.effective_day,
        "recipient": p.recipient,
        "programme": p.programme,
        "kind": p.kind,
        "posting_count": p.posting_count,
    }
    columns = ReplayColumns(
        {
            name: np.ascontiguousarray(event_table[name], dtype=dtype)
            for name, dtype in COLUMNS[EVENTS].items()
        },
        {
            "year": p.posting_year.astype(COLUMNS[POSTINGS]["year"]),
            "amount_ore": p.posting_amount_ore.astype(COLUMNS[POSTINGS]["amount_ore"]),
        },
        {
            "position": (index + 1).astype(COLUMNS[TIMELINE]["position"]),
            "recorded_at_us": p.recorded_at_us[index].astype(COLUMNS[TIMELINE]["recorded_at_us"]),
            "effective_day": p.effective_day[index].astype(COLUMNS[TIMELINE]["effective_day"]),
            "programme": p.programme[index].astype(COLUMNS[TIMELINE]["programme"]),
            "agency": np.array(
                [agency for _, agency in timeline_rows], dtype=COLUMNS[TIMELINE]["agency"]
            ),
        },
    )
    dictionaries = Dictionaries.from_lists(
        programme_ids(), ["", *p.recipient_codes], list(AGENCIES)
    )
    return columns, dictionaries, checkpoints


def _data(
    p: SyntheticPlan, index: int, postings: list[tuple[int, int]], programme_id: str
) -> dict[str, Any]:
    kind = EventKind(int(p.kind[index]))
    recipient = p.recipient_codes[int(p.recipient[index]) - 1] if p.recipient[index] else None
    grant = {
        "programme_id": programme_id,
        "application_id": f"syn-{programme_id}-{recipient}-{index}",
        "recipient": recipient,
    }
    amounts = {str(year): amount for year, amount in postings}
    if kind is EventKind.PROGRAMME_ESTABLISHED:
        return {
            "type": "ProgrammeEstablished",
            "programme_id": programme_id,
            "name": f"Synthetic programme {programme_id}",
            "ordinance": "SFS 2018:151",
            "administering_agency": AGENCIES[p.timeline_agency[index]],
            "first_year": FIRST_YEAR,
            "last_year": LAST_YEAR,
            "recipient_types": ["municipality"],
            "eligible": None,
            "max_years_per_decision": 3,
            "cost_share_cap_percent": None,
        }
    if kind is EventKind.PROGRAMME_HANDED_OVER:
        return {
            "type": "ProgrammeHandedOver",
            "programme_id": programme_id,
            "from_agency": "previous",
            "to_agency": AGENCIES[p.timeline_agency[index]],
            "decision_ref": "SFS 2020:1266",
        }
    if kind is EventKind.APPROPRIATION_SET:
        ((year, amount),) = postings
        return {
            "type": "AppropriationSet",
            "programme_id": programme_id,
            "year": year,
            "amount_ore": amount,
            "decision_ref": f"regleringsbrev {year}",
        }
    if kind is EventKind.APPROPRIATION_AMENDED:
        ((year, change),) = postings
        return {
            "type": "AppropriationAmended",
            "programme_id": programme_id,
            "year": year,
            "change_ore": change,
            "amount_ore": 10**12,
            "decision_ref": "ändringsbudget",
            "reason": "amending budget",
        }
    if kind is EventKind.APPLICATION_SUBMITTED:
        return {
            "type": "ApplicationSubmitted",
            **grant,
            "recipient_type": "municipality",
            "amounts_ore": amounts,
            "total_cost_ore": None,
        }
    if kind is EventKind.APPLICATION_REJECTED:
        return {
            "type": "ApplicationRejected",
            **grant,
            "decision_ref": "avslag",
            "reason": "does not meet the conditions",
        }
    if kind is EventKind.GRANT_AWARDED:
        return {
            "type": "GrantAwarded",
            **grant,
            "amounts_ore": amounts,
            "decision_ref": "beslut",
            "conditions": [],
        }
    if kind is EventKind.GRANT_EXTENDED:
        return {
            "type": "GrantExtended",
            **grant,
            "amounts_ore": amounts,
            "decision_ref": "förlängning",
            "total_cost_ore": None,
        }
    ((year, amount),) = postings
    if kind is EventKind.AWARD_AMENDED:
        return {
            "type": "AwardAmended",
            **grant,
            "year": year,
            "change_ore": amount,
            "decision_ref": "ändringsbeslut",
            "reason": "supplement" if amount > 0 else "reduction",
        }
    if kind is EventKind.FUNDS_DISBURSED:
        return {
            "type": "FundsDisbursed",
            **grant,
            "year": year,
            "amount_ore": amount,
            "payment_ref": f"utbetalning {index}",
        }
    assert kind is EventKind.FUNDS_RECOVERED, kind
    return {
        "type": "FundsRecovered",
        **grant,
        "year": year,
        "amount_ore": amount,
        "decision_ref": "återkrav",
        "reason": "money not used as decided",
    }


def synthetic_envelopes(events: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """Full envelopes of the plan with a real hash chain, in position order."""
    p = plan(events, seed)
    programmes = programme_ids()
    ends = np.cumsum(p.posting_count.astype(np.int64))
    years = p.posting_year.tolist()
    amounts = p.posting_amount_ore.tolist()
    prev_hash = GENESIS_HASH
    versions = [0] * PROGRAMME_COUNT
    for index in range(events):
        start = int(ends[index]) - int(p.posting_count[index])
        postings = list(
            zip(years[start : int(ends[index])], amounts[start : int(ends[index])], strict=True)
        )
        programme_index = int(p.programme[index])
        programme_id = programmes[programme_index]
        data = _data(p, index, postings, programme_id)
        versions[programme_index] += 1
        body: dict[str, Any] = {
            "position": index + 1,
            "event_id": f"{seed:08x}-0000-4000-8000-{index + 1:012x}",
            "type": data["type"],
            "schema_version": 1,
            "aggregate_id": programme_id,
            "aggregate_version": versions[programme_index],
            "recorded_at": instant_of_micros(int(p.recorded_at_us[index])).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            "effective_date": date_of_day(int(p.effective_day[index])).isoformat(),
            "programme_id": programme_id,
            "actor": "synthetic-officer",
            "agency": "synthetic",
            "command_id": f"syn-cmd-{index + 1}",
            "note": None,
            "data": data,
        }
        body["prev_hash"] = prev_hash
        body["hash"] = prev_hash = chain_hash(prev_hash, canonical_bytes(body))
        yield body


def checkpoints_of(
    envelopes: list[dict[str, Any]], every: int = CHECKPOINT_EVERY
) -> list[Checkpoint]:
    """Checkpoints as the relay publishes them: every `every` positions and at the end."""
    marks = [e for e in envelopes if e["position"] % every == 0]
    if envelopes and (not marks or marks[-1] is not envelopes[-1]):
        marks.append(envelopes[-1])
    return [
        Checkpoint(
            position=e["position"],
            hash=e["hash"],
            events=e["position"],
            recorded_at=datetime.now(tz=UTC),
        )
        for e in marks
    ]


def message_key_of(envelope: dict[str, Any]) -> bytes:
    """The Kafka key the relay gives an envelope."""
    recipient = envelope["data"].get("recipient")
    return str(recipient if isinstance(recipient, str) else envelope["programme_id"]).encode()


def produce_envelopes(
    bootstrap_servers: str,
    topic: str,
    envelopes: Iterable[dict[str, Any]],
    *,
    partitions: int = 6,
    checkpoint_topic: str | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> int:
    """Publish envelopes as the relay does (orjson value, key, CloudEvents headers, checkpoints).

    Creates the topics when missing; returns how many envelopes were sent.
    """
    ensure_topics(
        bootstrap_servers,
        {topic: partitions, **({checkpoint_topic: 1} if checkpoint_topic else {})},
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **producer_config())
    sent = 0
    last: dict[str, Any] | None = None
    try:
        for envelope in envelopes:
            producer.send(
                topic,
                key=message_key_of(envelope),
                value=orjson.dumps(envelope),
                headers=cloudevents_headers(envelope),
            )
            sent += 1
            last = envelope
            if checkpoint_topic and envelope["position"] % checkpoint_every == 0:
                _send_checkpoint(producer, checkpoint_topic, envelope)
        if checkpoint_topic and last is not None and last["position"] % checkpoint_every != 0:
            _send_checkpoint(producer, checkpoint_topic, last)
        producer.flush()
    finally:
        producer.close()
    return sent


def _send_checkpoint(producer: KafkaProducer, topic: str, envelope: dict[str, Any]) -> None:
    position = envelope["position"]
    value = ledger_signer().sign(
        {
            "position": position,
            "hash": envelope["hash"],
            "events": position,
            "recorded_at": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    )
    producer.send(topic, key=b"checkpoint", value=orjson.dumps(value))


# --------------------------------------------------------------------------- random commands
# Hypothesis draws *commands*; they go through the real write side (GrantLedger.execute), and
# the ones its rules refuse are dropped. What is recorded is a valid ledger by construction.

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


def resolve(ledger: GrantLedger, intent: dict[str, Any]) -> dict[str, Any] | None:
    """The concrete command for an intent in the ledger's current state (None: nothing to do)."""
    kind = intent["type"]
    programme_id = intent["programme"]
    application_id = f"app-{programme_id}-{intent['application']}"
    common = {"type": kind, "effective_date": intent["effective_date"]}
    try:
        programme = ledger.programme(programme_id)
    except LedgerError:
        return None
    # Decisions and payments pick among the programme's applications in the right state.
    wanted = (
        GrantStatus.SUBMITTED
        if kind in ("AwardGrant", "RejectApplication")
        else GrantStatus.AWARDED
    )
    candidates = sorted(app for app, g in programme.grants.items() if g.status is wanted)
    grant = (
        programme.grants[candidates[intent["application"] % len(candidates)]]
        if candidates
        else None
    )
    unit = intent["amount_units"] * 5_000_000
    if kind == "SetAppropriation":
        return {
            **common,
            "programme_id": programme_id,
            "year": intent["first_year"],
            "amount_ore": unit * 4,
            "decision_ref": "rb",
        }
    if kind == "AmendAppropriation":
        year = intent["first_year"]
        current = programme.appropriated_ore.get(year, 0)
        change = _share(current, intent["share_percent"]) * intent["sign"] if current else unit
        return {
            **common,
            "programme_id": programme_id,
            "year": year,
            "change_ore": change,
            "decision_ref": "äb",
            "reason": "budget",
        }
    if kind == "HandOverProgramme":
        return {
            **common,
            "programme_id": programme_id,
            "to_agency": intent["agency"],
            "decision_ref": "sfs",
        }
    if kind == "SubmitApplication":
        first = min(intent["first_year"], RANDOM_LAST_YEAR - intent["years"] + 1)
        amounts = {str(first + i): unit for i in range(intent["years"])}
        return {
            **common,
            "application_id": application_id,
            "programme_id": programme_id,
            "recipient": intent["recipient"],
            "recipient_type": "municipality",
            "amounts_ore": amounts,
        }
    if grant is None:
        return None
    app = {**common, "application_id": grant.application_id}
    if kind == "AwardGrant":
        amounts = {
            str(y): _share(a, intent["share_percent"]) for y, a in grant.requested_ore.items()
        }
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
        amount = _share(grant.undisbursed_ore(year), intent["share_percent"])
        return {**app, "year": year, "amount_ore": amount, "payment_ref": "p"}
    if kind == "AmendAward":
        change = _share(grant.awarded_ore[year], intent["share_percent"]) * intent["sign"]
        return {**app, "year": year, "change_ore": change, "decision_ref": "ä", "reason": "r"}
    amount = _share(max(grant.net_disbursed_ore(year), 100), intent["share_percent"])
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
    try:
        if "programme_id" in command and command["type"] != "EstablishProgramme":
            return ledger.programme(command["programme_id"]).agency_on(today)
        if "application_id" in command and command["type"] != "SubmitApplication":
            programme_id = ledger.programme_of_application(command["application_id"])
            return ledger.programme(programme_id).agency_on(today)
    except LedgerError:
        pass
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


# --------------------------------------------------------------------------- balances, each way


def wire_envelopes(events: Iterable[ProgrammeEvent]) -> list[dict[str, Any]]:
    """The chained envelopes as a consumer sees them (through orjson, as on the topic)."""
    return [orjson.loads(orjson.dumps(envelope)) for envelope in chained_envelopes(events)]


def columns_of(envelopes: Iterable[dict[str, Any]]) -> tuple[ReplayColumns, Dictionaries]:
    """Replay columns of envelopes through the fast decode path (as `rebuild --from kafka`)."""
    dictionaries = Dictionaries()
    columnizer = Columnizer(dictionaries)
    for envelope in envelopes:
        columnizer.add(orjson.dumps(envelope))
    return columnizer.build().in_position_order(), dictionaries


def engine_balances(
    envelopes: list[dict[str, Any]], as_of: AsOf, *, today: date, selection: Selection | None = None
) -> Balances:
    """Balances by the numpy engine over the envelopes' columns."""
    columns, dictionaries = columns_of(envelopes)
    programme = None
    if selection is not None and selection.programme_id is not None:
        programme = dictionaries.programmes.find(selection.programme_id)
    names = (
        dictionaries.programmes.values,
        dictionaries.recipients.values,
        dictionaries.agencies.values,
    )
    totals = base_totals(columns, names, as_of=as_of, programme=programme, position_sorted=True)
    return balances_from_totals(
        totals, today=today, as_of=as_of, selection=selection or Selection()
    )


def stored_view_balances(read_store: ReadStore) -> Balances:
    """All three views as the read store shows them."""
    return Balances.of(
        [r for r in read_store.balances(View.RECIPIENT_YEAR) if isinstance(r, RecipientYearRow)],
        [r for r in read_store.balances(View.PROGRAMME_YEAR) if isinstance(r, ProgrammeYearRow)],
        [r for r in read_store.balances(View.AGENCY_YEAR) if isinstance(r, AgencyYearRow)],
    )


def arrivals_in_partitions(
    envelopes: list[dict[str, Any]], partitions: int = 3, topic: str = "topic"
) -> dict[int, list[Arrival[EventFacts]]]:
    """Messages per partition as the relay would key them (in offset order), as a reader reads
    them."""
    by_partition: dict[int, list[Arrival[EventFacts]]] = {p: [] for p in range(partitions)}
    for envelope in envelopes:
        partition = zlib.crc32(message_key_of(envelope)) % partitions
        queue = by_partition[partition]
        value = orjson.dumps(envelope)
        at = MessageAt(topic, partition, len(queue))
        _, link = read_envelope(value, at)
        queue.append(Arrival(link, at, value, facts_of(envelope)))
    return by_partition


def proven_batch(
    facts: list[EventFacts], after: ChainPoint, prev_hash: str, topic: str = "topic"
) -> ProvenBatch:
    """Consecutive positions after `after` as the projector applies them."""
    last = facts[-1]
    assert after.hash == prev_hash
    return ProvenBatch(
        topic=topic,
        facts=facts,
        after=after,
        through=ChainPoint(last.position, last.hash),
        resume_offsets={},
        checkpoint_offset=0,
        topic_id=None,
        partition_count=0,
    )


def apply_envelopes(
    read_store: ReadStore, envelopes: list[dict[str, Any]], batch_events: int = 500
) -> None:
    """Apply a chain (positions from 1) to the read store in proven batches."""
    after = GENESIS_POINT
    for start in range(0, len(envelopes), batch_events):
        chunk = envelopes[start : start + batch_events]
        read_store.apply_proven(
            proven_batch([facts_of(e) for e in chunk], after, chunk[0]["prev_hash"])
        )
        after = ChainPoint(chunk[-1]["position"], chunk[-1]["hash"])


# --------------------------------------------------------------------------- benchmark fixtures
# Session-scoped: the 1M-event topic is produced once (about a minute) and the bare-consumer
# baseline is shared by the benchmarks that compare against it. Sizes can be lowered for a
# quick run with GRANT_LEDGER_BENCH_KAFKA_EVENTS / GRANT_LEDGER_BENCH_REPLAY_EVENTS.

KAFKA_EVENTS_ENV = "GRANT_LEDGER_BENCH_KAFKA_EVENTS"
REPLAY_EVENTS_ENV = "GRANT_LEDGER_BENCH_REPLAY_EVENTS"
BENCH_KAFKA_EVENTS = int(os.environ.get(KAFKA_EVENTS_ENV) or 1_000_000)
BENCH_REPLAY_EVENTS = int(os.environ.get(REPLAY_EVENTS_ENV) or 10_000_000)
BENCH_IDLE_MS = 1_000
# The targets hold at the specified sizes; smaller quick runs only report (fixed costs such as
# the idle window and process start dominate there).
FULL_KAFKA_EVENTS = 1_000_000
FULL_REPLAY_EVENTS = 10_000_000
# Results shared between benchmark modules of one session (e.g. the baseline's events/s).
BENCH_RESULTS: dict[str, float] = {}


@dataclass(frozen=True)
class BenchTopic:
    """The benchmark topic and its checkpoints."""

    bootstrap: str
    topic: str
    checkpoint_topic: str
    events: int


@pytest.fixture(scope="session")
def bench_topic(kafka_bootstrap: str) -> BenchTopic:
    """BENCH_KAFKA_EVENTS synthetic envelopes (real chain) on 6 partitions, with checkpoints."""
    topic = f"gl-bench-{uuid.uuid4().hex[:8]}"
    checkpoint_topic = f"{topic}.checkpoints"
    sent = produce_envelopes(
        kafka_bootstrap,
        topic,
        synthetic_envelopes(BENCH_KAFKA_EVENTS),
        checkpoint_topic=checkpoint_topic,
    )
    assert sent == BENCH_KAFKA_EVENTS
    return BenchTopic(kafka_bootstrap, topic, checkpoint_topic, sent)


def bare_consumer_count(bench: BenchTopic, idle_ms: int = BENCH_IDLE_MS) -> int:
    """The baseline: a bare kafka-python loop (assign, poll until quiet, count)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bench.bootstrap, **consumer_config(client_id="bench-baseline")
    )
    try:
        partitions = [
            TopicPartition(bench.topic, p)
            for p in sorted(consumer.partitions_for_topic(bench.topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count = 0
        while True:
            batches = consumer.poll(timeout_ms=idle_ms, max_records=20_000)
            if not batches:
                return count
            for records in batches.values():
                count += len(records)
    finally:
        consumer.close()


def median_seconds(benchmark: Any) -> float:
    """The median of a finished pytest-benchmark run."""
    stats = benchmark.stats
    assert stats is not None, "run the benchmark first"
    return float(stats.stats.median)


@pytest.fixture(scope="session")
def baseline_events_per_s(bench_topic: BenchTopic) -> float:
    """The baseline's events/s: from the baseline benchmark when it ran, else measured once."""
    if "baseline_events_per_s" not in BENCH_RESULTS:
        started = time.perf_counter()
        assert bare_consumer_count(bench_topic) == bench_topic.events
        BENCH_RESULTS["baseline_events_per_s"] = bench_topic.events / (
            time.perf_counter() - started
        )
    return BENCH_RESULTS["baseline_events_per_s"]

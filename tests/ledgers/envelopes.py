"""The vectorised plan as published envelopes: schema-valid data, a real hash chain, checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from projections.domain.kinds import EventKind
from projections.domain.time_units import date_of_day, instant_of_micros
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from schemas.envelope import Checkpoint
from tests.ledgers.vectorised import (
    AGENCIES,
    CHECKPOINT_EVERY,
    FIRST_YEAR,
    LAST_YEAR,
    PROGRAMME_COUNT,
    SEED,
    SyntheticPlan,
    plan,
    programme_ids,
)


def _data(
    p: SyntheticPlan, index: int, postings: list[tuple[int, int]], programme_id: str
) -> dict[str, Any]:
    """The `data` of the plan's event `index`: schema-valid, its money from the postings."""
    kind = EventKind(int(p.kind[index]))
    if p.recipient[index]:
        recipient = p.recipient_codes[int(p.recipient[index]) - 1]
        grant = {
            "programme_id": programme_id,
            "application_id": f"syn-{programme_id}-{recipient}-{index}",
            "recipient": recipient,
        }
        return _grant_data(kind, grant, postings, index)
    return _programme_data(kind, p, index, postings, programme_id)


def _programme_data(
    kind: EventKind,
    p: SyntheticPlan,
    index: int,
    postings: list[tuple[int, int]],
    programme_id: str,
) -> dict[str, Any]:
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
    raise AssertionError(f"{kind.name} is not a programme event")


def _grant_data(
    kind: EventKind, grant: dict[str, Any], postings: list[tuple[int, int]], index: int
) -> dict[str, Any]:
    amounts = {str(year): amount for year, amount in postings}
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

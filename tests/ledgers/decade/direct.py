"""The decade's commands, decided by the domain's Programme aggregates in memory.

What GrantLedger.execute does minus the event store: the same command models, digest, context
and decisions (`GrantLedger._dispatch`), so the same events; event ids are numbered instead of
random. tests/unit/test_decade_ledger.py proves it records what the command path records.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import orjson

from ledger.application.digest import command_digest
from ledger.application.envelopes import event_state
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.context import CommandContext
from ledger.domain.programme import Programme
from ledger.domain.recorded import ProgrammeEvent
from schemas import commands as c
from schemas.calendar import today_in_stockholm
from schemas.commands import COMMAND_ADAPTER
from tests.ledgers.decade.programmes import ProgrammeSpec, programmes
from tests.ledgers.decade.recipients import recipients
from tests.ledgers.decade.script import Planned, ProgrammeScript

SEED = 20180315
# Events one application brings on average (submission, decision, payments, corrections):
# sizes the calls so that the decade holds about the events asked for.
EVENTS_PER_APPLICATION = 13
EVENT_NUMBER_BITS = 64


def scripts(events: int, seed: int = SEED) -> list[ProgrammeScript]:
    """Every programme's script, sized so that the decade has at least `events` events."""
    specs = programmes()
    total_weight = sum(spec.weight * spec.years for spec in specs)
    applications = events / EVENTS_PER_APPLICATION
    return [
        ProgrammeScript(
            spec, index, recipients(), _per_year(applications, spec, total_weight), seed
        )
        for index, spec in enumerate(specs)
    ]


def _per_year(applications: float, spec: ProgrammeSpec, total_weight: float) -> int:
    return max(1, round(applications * spec.weight / total_weight))


def command_of(planned: Planned) -> c.CommandBase:
    """The planned command as the validated model a client would send."""
    command: c.CommandBase = COMMAND_ADAPTER.validate_python(planned.command)
    return command


def in_recorded_order(
    scripts_: list[ProgrammeScript],
    state_of: Callable[[int], Programme | None],
    execute: Callable[[Planned], Any],
) -> Iterator[Planned]:
    """Every script's commands merged by (recorded_at, programme, sequence), each executed
    (by `execute`) before its programme's next command is decided."""
    streams = [script.commands(lambda s=script: state_of(s.index)) for script in scripts_]
    heap: list[tuple[datetime, int, int, int, Planned]] = []

    def advance(local: int) -> None:
        planned = next(streams[local], None)
        if planned is not None:
            key = (planned.recorded_at, planned.programme_index, planned.sequence)
            heapq.heappush(heap, (*key, local, planned))

    for local in range(len(streams)):
        advance(local)
    while heap:
        *_, local, planned = heapq.heappop(heap)
        execute(planned)
        yield planned
        advance(local)


class InMemoryLedger:
    """Programme aggregates in memory, deciding commands as GrantLedger would."""

    def __init__(self, programme_count: int) -> None:
        self.programmes: list[Programme | None] = [None] * programme_count

    def execute(self, planned: Planned) -> list[ProgrammeEvent]:
        """Decide one command; its events (the rules refusing it is a bug of the script)."""
        command = command_of(planned)
        # Numbered per programme, so any split of programmes over processes gives the same ids.
        number = (planned.programme_index << EVENT_NUMBER_BITS) | planned.sequence
        ctx = CommandContext(
            event_id=uuid.UUID(int=number, version=4),
            recorded_at=planned.recorded_at,
            effective_date=command.effective_date or today_in_stockholm(planned.recorded_at),
            actor=command.actor,
            agency=command.agency,
            command_id=command.command_id,
            command_digest=command_digest(command),
            note=command.note,
        )
        programme = self.programmes[planned.programme_index]
        if isinstance(command, c.EstablishProgramme):
            assert programme is None, f"{command.programme_id} established twice"
            programme = Programme.establish(command, ctx)
        else:
            assert programme is not None, f"{planned.command} before its programme"
            if programme.last_recorded_at > ctx.recorded_at:
                ctx = dataclasses.replace(ctx, recorded_at=programme.last_recorded_at)
            # The application's own dispatch table: one place maps commands to decisions.
            GrantLedger._dispatch(programme, command, ctx)
        self.programmes[planned.programme_index] = programme
        return programme.collect_events()


# A decided event on its way to the chain: its order key (recorded_at, programme, sequence),
# its programme and version, and its stored state as JSON.
StateRecord = tuple[datetime, int, int, str, int, bytes]
BATCH_RECORDS = 2_000


def decided_states(scripts_: list[ProgrammeScript], limit: int) -> Iterator[StateRecord]:
    """The scripts' events decided in memory, in recorded order, at most `limit` of them."""
    ledger = InMemoryLedger(max(script.index for script in scripts_) + 1)
    produced: list[ProgrammeEvent] = []

    def execute(planned: Planned) -> None:
        produced.extend(ledger.execute(planned))

    count = 0
    order = in_recorded_order(scripts_, lambda index: ledger.programmes[index], execute)
    for planned in order:
        for event in produced:
            yield (
                planned.recorded_at,
                planned.programme_index,
                planned.sequence,
                event.originator_id,
                event.originator_version,
                orjson.dumps(event_state(event)),
            )
            count += 1
            if count == limit:
                return
        produced.clear()


def _worker(scripts_: list[ProgrammeScript], limit: int, connection: Connection) -> None:
    batch: list[StateRecord] = []
    for record in decided_states(scripts_, limit):
        batch.append(record)
        if len(batch) == BATCH_RECORDS:
            connection.send(batch)
            batch = []
    connection.send(batch)
    connection.send(None)
    connection.close()


def _size(script: ProgrammeScript) -> int:
    return script.applications_per_year * script.spec.years


def _received(connection: Connection) -> Iterator[StateRecord]:
    while (batch := connection.recv()) is not None:
        yield from batch


def decade_states(events: int, seed: int = SEED, workers: int = 1) -> Iterator[StateRecord]:
    """The first `events` events of the decade ledger, in recorded (position) order.

    With several workers, each decides a share of the programmes (independent aggregates) in its
    own process; their streams are merged by the same order key.
    """
    scripts_ = scripts(events, seed)
    if workers <= 1:
        yield from decided_states(scripts_, events)
        return
    shares: list[list[ProgrammeScript]] = [[] for _ in range(workers)]
    for script in sorted(scripts_, key=lambda s: -s.applications_per_year * s.spec.years):
        min(
            shares, key=lambda share: sum(s.applications_per_year * s.spec.years for s in share)
        ).append(script)
    context = multiprocessing.get_context("fork")
    processes, streams = [], []
    for share in shares:
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(share, events, sending), daemon=True)
        process.start()
        sending.close()
        processes.append(process)
        streams.append(_received(receiving))
    try:
        yield from itertools.islice(heapq.merge(*streams, key=lambda r: r[:3]), events)
    finally:
        for process in processes:
            process.terminate()
            process.join()

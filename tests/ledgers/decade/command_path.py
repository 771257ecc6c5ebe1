"""The decade's commands through the real command path: GrantLedger.execute on an event store.

About 1 800 commands a second on SQLite: for the small ledgers that prove the direct path
(`tests.ledgers.decade.direct`) records the same events.
"""

from __future__ import annotations

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import NotFound
from ledger.domain.programme import Programme
from ledger.domain.recorded import ProgrammeEvent
from tests.ledgers.decade.direct import SEED, command_of, in_recorded_order, scripts
from tests.ledgers.decade.script import Planned


def recorded_through_commands(ledger: GrantLedger, commands: int, seed: int = SEED) -> int:
    """Execute the first `commands` commands of a decade sized for that many events; returns
    how many were recorded (every one: the script only plans what the rules accept)."""
    scripts_ = scripts(commands, seed)
    programme_ids = [script.spec.programme_id for script in scripts_]

    def state_of(index: int) -> Programme | None:
        try:
            return ledger.programme(programme_ids[index])
        except NotFound:
            return None

    def execute(planned: Planned) -> None:
        ledger.execute(command_of(planned), now=planned.recorded_at)

    recorded = 0
    for _ in in_recorded_order(scripts_, state_of, execute):
        recorded += 1
        if recorded == commands:
            break
    return recorded


def recorded_events(ledger: GrantLedger) -> list[ProgrammeEvent]:
    """Every programme event in position order."""
    return [event for _, event in ledger.programme_events()]

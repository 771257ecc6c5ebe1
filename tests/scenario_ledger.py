"""The reference scenario (SFS 2018:151) recorded into a store, for the auditors' tests."""

from datetime import datetime, time
from importlib import resources
from pathlib import Path

from commands.batch.parsing import parse_command
from commands.batch.runner import run_lines
from ledger.application.grant_ledger import GrantLedger
from schemas.calendar import STOCKHOLM

SCENARIO = Path(str(resources.files("commands").joinpath("scenarios", "sfs_2018_151.jsonl")))
SCENARIO_EVENTS = 365
PROGRAMME_ID = "sfs-2018-151"
MALMO = "1280"
MALMO_2018_APPLICATION = "sfs2018151-1280-2018"


def record_scenario(store_url: str, lines: int | None = None) -> int:
    """Record the scenario's commands (the first `lines`, or all); returns the last position."""
    ledger = GrantLedger(store_url)
    try:
        commands = SCENARIO.read_bytes().splitlines()[:lines]
        results = list(run_lines(ledger, commands))
    finally:
        ledger.close()
    refused = [result for result in results if result.error is not None]
    assert not refused, refused[:3]
    last = results[-1].outcome
    assert last is not None
    return last.position


RECORDED_AT_LOCAL = time(10, 0)


def record_scenario_as_it_happened(store_url: str) -> int:
    """Record each command on its effective date (10:00 in Stockholm), as the agencies would
    have; returns the last position."""
    ledger = GrantLedger(store_url)
    position = 0
    try:
        for line in SCENARIO.read_bytes().splitlines():
            command = parse_command(line)
            assert command.effective_date is not None, line[:80]
            now = datetime.combine(command.effective_date, RECORDED_AT_LOCAL, STOCKHOLM)
            position = ledger.execute(command, now=now).position
    finally:
        ledger.close()
    return position

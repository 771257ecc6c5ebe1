"""Several API workers writing to one PostgreSQL store at once lose, double and break nothing.

`grant-ledger serve --workers 3` in its own process; this process sends ~600 commands, 16 in
flight, chains of one programme racing for the last of each year's money, some sent twice at
once. At the end the store is audited on its own (tests/load/audit.py): every acknowledged
command recorded once at the position it was told, nothing refused recorded, awarded never above
appropriated, paid out never above awarded. The full size (20 000 commands, 32 in flight,
N = 1, 2, 4) is tests/benchmarks/test_write_load.py.
"""

from pathlib import Path

import pytest

from commands.cli.main import EXIT_USAGE, main
from tests.load.run import run_load
from tests.load.workload import AWARD_ORE, FUNDED_SHARE, YEARS

WORKERS = 3
COMMANDS = 600
IN_FLIGHT = 16


@pytest.mark.postgres
def test_concurrent_workers_record_every_command_once_within_the_money_rules(
    postgres_store_url: str, tmp_path: Path
) -> None:
    """Many writers on one programme stream: exact, and the money rules hold at every event."""
    run = run_load(
        postgres_store_url,
        workers=WORKERS,
        commands=COMMANDS,
        in_flight=IN_FLIGHT,
        workdir=tmp_path,
    )
    recorded = {a.command_id for a in run.result.recorded()}
    assert run.report.events == len(recorded)
    # The money ran out: some awards were refused, and every year is (almost) fully awarded.
    refused = [a for a in run.result.answers if a.status == 409]
    assert refused, "the load must race for the last of the money"
    for (programme, year), awarded in run.report.awarded_ore.items():
        appropriated = run.report.appropriated_ore[programme, year]
        assert appropriated - AWARD_ORE < awarded <= appropriated, (programme, year)
    assert set(year for _, year in run.report.awarded_ore) == set(YEARS)
    assert 0 < FUNDED_SHARE < 1
    # The workers really raced: some command lost a write race and was decided again.
    assert run.result.write_conflicts() > 0
    duplicates = [a for a in run.result.answers if a.status == 200 and a.body.get("duplicate")]
    assert duplicates, "commands sent twice at once are answered as already recorded"


def test_serve_refuses_a_worker_count_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    """`--workers 0` is refused naming the flag and the value; nothing is started."""
    assert main(["serve", "--workers", "0"]) == EXIT_USAGE
    assert "--workers=0: must be between 1 and 64" in capsys.readouterr().err

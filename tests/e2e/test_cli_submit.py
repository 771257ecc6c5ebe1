"""The `grant-ledger` CLI end to end: submit JSON Lines, read a grant's history, page the log.

Each test runs `main([...])` in-process against a fresh SQLite store and reads what it prints.
"""

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from commands.cli.main import main
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from schemas.envelope import EventEnvelope
from tests.builders import (
    DECIDED_ON,
    HANDED_OVER_ON,
    SUCCESSOR,
    amend_award,
    application,
    as_line,
    award,
    disburse,
    establish,
    hand_over,
    set_appropriation,
)


def write_lines(path: Path, lines: Sequence[bytes | str]) -> Path:
    """A JSON Lines file of the given lines."""
    path.write_bytes(
        b"\n".join(line.encode() if isinstance(line, str) else line for line in lines) + b"\n"
    )
    return path


def submit_json(
    capsys: pytest.CaptureFixture[str], store: str, path: Path
) -> tuple[int, list[dict[str, Any]]]:
    """Run `submit FILE --format json`; the exit code and one parsed result per printed line."""
    code = main(["submit", str(path), "--format", "json", "--store", store])
    out = capsys.readouterr().out
    return code, [orjson.loads(line) for line in out.splitlines()]


def events(capsys: pytest.CaptureFixture[str], store: str, *extra: str) -> list[dict[str, Any]]:
    """Run `events` and parse its JSON Lines."""
    assert main(["events", "--store", store, *extra]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def store(sqlite_store_url: str) -> str:
    """A fresh SQLite event store URL."""
    return sqlite_store_url


def setup_lines() -> list[bytes]:
    """Establish SFS 2018:151 with 1 000 000 öre for 2018 and Malmö's application."""
    return [as_line(establish()), as_line(set_appropriation(2018)), as_line(application())]


# --------------------------------------------------------------- submit


MALFORMED = b'{"type": "SetAppropriation", "year": '
# (what is wrong, the line, the field its refusal names, the value it names)
BAD_LINES: list[tuple[str, bytes, str, Any]] = [
    ("malformed JSON", MALFORMED, "(line)", MALFORMED.decode().strip()),
    ("unknown type", as_line({**orjson.loads(as_line(disburse())), "type": "Pay"}), "type", "Pay"),
    (
        "missing field",
        as_line({k: v for k, v in orjson.loads(as_line(disburse())).items() if k != "year"}),
        "year",
        None,
    ),
    (
        "wrongly typed field",
        as_line({**orjson.loads(as_line(set_appropriation(2019))), "year": "2019"}),
        "year",
        "2019",
    ),
    (
        "float money",
        as_line({**orjson.loads(as_line(set_appropriation(2019))), "amount_ore": 1.5}),
        "amount_ore",
        1.5,
    ),
    (
        "negative money",
        as_line({**orjson.loads(as_line(disburse())), "amount_ore": -100}),
        "amount_ore",
        -100,
    ),
    (
        "unknown programme",
        as_line(set_appropriation(2019, programme_id="no-such-programme")),
        "programme_id",
        "no-such-programme",
    ),
    (
        "unknown application",
        as_line(award("no-such-application", {2018: 1})),
        "application_id",
        "no-such-application",
    ),
]
UNKNOWN_KOMMUNKOD = as_line(
    {**orjson.loads(as_line(application("app-nowhere"))), "recipient": "9999"}
)


def test_each_bad_line_is_reported_and_the_rest_still_run(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """Every line gets a result; a bad one names field and value, writes nothing, and exit is 1."""
    good_award = as_line(award(amounts_ore={2018: 400_000}))
    lines = [
        *setup_lines(),
        *(line for _, line, _, _ in BAD_LINES),
        UNKNOWN_KOMMUNKOD,
        good_award,
        b"",  # blank lines are skipped but still counted
        as_line(disburse(amount_ore=100_000)),
    ]
    code, results = submit_json(capsys, store, write_lines(tmp_path / "mixed.jsonl", lines))

    assert code == 1
    assert [r["line"] for r in results] == [n for n in range(1, len(lines) + 1) if lines[n - 1]]
    by_line = {r["line"]: r for r in results}
    for number, (what, _, field, value) in enumerate(BAD_LINES, start=4):
        result = by_line[number]
        assert result["ok"] is False, what
        assert result["error"]["field"] == field, (what, result)
        assert result["error"]["value"] == value, (what, result)
        assert result["error"]["message"], what
    kommunkod = by_line[4 + len(BAD_LINES)]
    assert kommunkod["ok"] is False
    assert "9999" in kommunkod["error"]["message"]
    good = [r for r in results if r["ok"]]
    assert [r["type"] for r in good] == [
        "ProgrammeEstablished",
        "AppropriationSet",
        "ApplicationSubmitted",
        "GrantAwarded",
        "FundsDisbursed",
    ]
    # Nothing was written for the bad lines: the good ones have consecutive positions.
    assert [r["position"] for r in good] == [1, 2, 3, 4, 5]
    assert [e["position"] for e in events(capsys, store)] == [1, 2, 3, 4, 5]


def test_a_refused_line_names_the_rule(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """A line refused by a business rule reports the RuleViolation's field, value and message."""
    lines = [*setup_lines(), as_line(award(amounts_ore={2018: 500_001}))]
    code, results = submit_json(capsys, store, write_lines(tmp_path / "rule.jsonl", lines))
    assert code == 1
    assert results[-1] == {
        "line": 4,
        "ok": False,
        "error": {
            "field": "amounts_ore.2018",
            "value": 500_001,
            "message": results[-1]["error"]["message"],
        },
    }
    assert "500000" in results[-1]["error"]["message"]
    assert len(events(capsys, store)) == 3


def test_an_unknown_kommunkod_line_names_the_recipient_field(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """A line with an unknown kommunkod is refused on field `recipient`, value the code."""
    lines = [*setup_lines(), UNKNOWN_KOMMUNKOD]
    _, results = submit_json(capsys, store, write_lines(tmp_path / "kommun.jsonl", lines))
    assert results[-1]["error"]["field"] == "recipient"
    assert results[-1]["error"]["value"] == "9999"


def test_exit_code_is_zero_when_every_line_succeeds(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """All lines recorded: exit 0, one ok result per line with its position."""
    lines = [*setup_lines(), as_line(award(amounts_ore={2018: 400_000}))]
    code, results = submit_json(capsys, store, write_lines(tmp_path / "good.jsonl", lines))
    assert code == 0
    assert [(r["line"], r["ok"], r["position"]) for r in results] == [
        (1, True, 1),
        (2, True, 2),
        (3, True, 3),
        (4, True, 4),
    ]
    assert all(r["duplicate"] is False for r in results)


def test_submitting_the_same_file_again_records_nothing_new(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """Re-submitting a file is safe: every line reports its earlier position as a duplicate."""
    path = write_lines(tmp_path / "again.jsonl", setup_lines())
    _, first = submit_json(capsys, store, path)
    code, again = submit_json(capsys, store, path)
    assert code == 0
    assert [r["position"] for r in again] == [r["position"] for r in first]
    assert all(r["duplicate"] is True for r in again)
    assert len(events(capsys, store)) == 3


def test_text_format_prints_one_readable_line_per_input_line(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """Text output: one line per command, recorded (type, position) or refused (field=value)."""
    lines = [*setup_lines(), as_line(award("no-such-application", {2018: 1}))]
    code = main(["submit", str(write_lines(tmp_path / "t.jsonl", lines)), "--store", store])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(out) == 4
    assert out[0].startswith("line 1: ok, recorded ProgrammeEstablished at position 1")
    assert out[2].startswith("line 3: ok, recorded ApplicationSubmitted at position 3")
    assert out[3].startswith("line 4: refused, application_id='no-such-application'")


def test_submit_reads_standard_input(
    capsys: pytest.CaptureFixture[str], store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`submit -` reads the JSON Lines from stdin."""
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(setup_lines()) + b"\n"))
    monkeypatch.setattr("sys.stdin", stdin)
    code, results = submit_json(capsys, store, Path("-"))
    assert code == 0
    assert [r["position"] for r in results] == [1, 2, 3]


def test_a_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], store: str) -> None:
    """Submitting a file that does not exist exits non-zero and names the file."""
    code = main(["submit", "/no/such/file.jsonl", "--store", store])
    assert code != 0
    assert "/no/such/file.jsonl" in capsys.readouterr().err


# --------------------------------------------------------------- history


def test_history_prints_the_grants_trail_in_order_with_dates_actor_and_agency(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """`history --application` prints the grant's events in order: both dates, actor, agency."""
    lines = [
        *setup_lines(),
        as_line(application("app-stockholm", recipient="0180")),
        as_line(award(amounts_ore={2018: 400_000}, actor="officer-2")),
        as_line(disburse(amount_ore=100_000, effective_date="2018-09-01")),
        as_line(hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON)),
        as_line(
            amend_award(
                change_ore=-50_000, agency=SUCCESSOR, actor="delmos-1", effective_date="2021-03-01"
            )
        ),
    ]
    code, _ = submit_json(capsys, store, write_lines(tmp_path / "trail.jsonl", lines))
    assert code == 0

    assert main(["history", "--application", "app-malmo", "--store", store]) == 0
    trail = capsys.readouterr().out.splitlines()
    assert len(trail) == 4
    expected = [
        ("ApplicationSubmitted", DECIDED_ON.isoformat(), "officer-1", "tillvaxtverket"),
        ("GrantAwarded", DECIDED_ON.isoformat(), "officer-2", "tillvaxtverket"),
        ("FundsDisbursed", "2018-09-01", "officer-1", "tillvaxtverket"),
        ("AwardAmended", "2021-03-01", "delmos-1", "delmos"),
    ]
    positions = []
    for line, (event_type, effective, actor, agency) in zip(trail, expected, strict=True):
        assert event_type in line
        assert f"effective {effective}" in line
        assert "recorded 20" in line
        assert f"by {actor} ({agency})" in line
        assert "app-malmo" in line
        positions.append(int(line.split()[0].lstrip("#")))
    assert positions == sorted(positions)
    assert "Malmö" in trail[0]


def test_history_of_an_unknown_application_fails_naming_it(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """`history` of an application the ledger does not know exits non-zero, naming it."""
    submit_json(capsys, store, write_lines(tmp_path / "s.jsonl", setup_lines()))
    code = main(["history", "--application", "app-nobody", "--store", store])
    captured = capsys.readouterr()
    assert code != 0
    assert "app-nobody" in captured.err
    assert captured.out == ""


# --------------------------------------------------------------- events


def verify_chain(envelopes: list[dict[str, Any]], prev_hash: str) -> None:
    """Each envelope's hash is SHA-256(prev_hash || canonical bytes) and links to the one before."""
    for envelope in envelopes:
        assert envelope["prev_hash"] == prev_hash
        assert envelope["hash"] == chain_hash(prev_hash, canonical_bytes(envelope))
        prev_hash = envelope["hash"]


def test_events_prints_a_page_of_chained_envelopes(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """`events --from N --limit K` prints K envelopes from position N, chained to the one before."""
    lines = [
        *setup_lines(),
        as_line(award(amounts_ore={2018: 400_000})),
        as_line(disburse(amount_ore=100_000)),
        as_line(disburse(amount_ore=50_000)),
    ]
    submit_json(capsys, store, write_lines(tmp_path / "log.jsonl", lines))

    everything = events(capsys, store)
    assert [e["position"] for e in everything] == [1, 2, 3, 4, 5, 6]
    verify_chain(everything, GENESIS_HASH)
    for envelope in everything:
        EventEnvelope.model_validate(envelope)

    page = events(capsys, store, "--from", "3", "--limit", "2")
    assert [e["position"] for e in page] == [3, 4]
    verify_chain(page, everything[1]["hash"])
    assert page == everything[2:4]


def test_events_past_the_end_prints_nothing(
    capsys: pytest.CaptureFixture[str], store: str, tmp_path: Path
) -> None:
    """A page starting after the last position, or of size 0, is empty."""
    submit_json(capsys, store, write_lines(tmp_path / "s.jsonl", setup_lines()))
    assert events(capsys, store, "--from", "4") == []
    assert events(capsys, store, "--limit", "0") == []
    assert [e["position"] for e in events(capsys, store, "--from", "2", "--limit", "10")] == [2, 3]


def test_events_refuses_a_position_below_one(
    capsys: pytest.CaptureFixture[str], store: str
) -> None:
    """`events --from 0` exits non-zero naming --from."""
    assert main(["events", "--from", "0", "--store", store]) != 0
    assert "--from" in capsys.readouterr().err

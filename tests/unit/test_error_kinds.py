"""Errors by kind: every error the product raises is of one kind, and each door maps every kind.

The CLI's exit codes and the HTTP statuses come from one table each; the README documents both,
and this file holds the three together.
"""

import ast
import importlib
import pickle
import pkgutil
import re
from pathlib import Path

import pytest

from commands.cli.main import EXIT_CODES, FLAG_OF, report
from commands.http.errors import HTTP_STATUS, status_of
from ledger.application.errors import StoreUnavailable
from ledger.audit.export_sources import PositionRange
from ledger.domain.errors import CommandIdConflict, NotFound, RuleViolation
from ledger.proof.coordinates import MessageAt
from ledger.proof.skips import SkipRequest
from projections.domain.findings import check_backdating_days
from schemas.errors import (
    KINDS,
    ConfigurationError,
    IntegrityFailure,
    InternalError,
    InvalidCommand,
    InvalidQuery,
    LedgerError,
    OperatorParameter,
    QueryParameter,
    Refused,
    Unavailable,
    UnknownSubject,
    kind_of,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ledger", "projections", "commands")
ROW = re.compile(r"^\| `(?P<kind>\w+)` \| .* \| (?P<exit>\d) \| (?P<statuses>[\d, ]+) \|$")


def every_error_class() -> set[type[LedgerError]]:
    """Every subclass of LedgerError defined anywhere in the product's packages."""
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if module.name != "commands.demo":
                importlib.import_module(module.name)
    found: set[type[LedgerError]] = set()
    todo: list[type[LedgerError]] = [LedgerError]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.add(subclass)
            todo.append(subclass)
    return found


def documented_kinds() -> dict[str, tuple[int, set[int]]]:
    """The README's table: kind -> (exit code, HTTP statuses)."""
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            statuses = {int(status) for status in match["statuses"].split(",")}
            rows[match["kind"]] = (int(match["exit"]), statuses)
    return rows


def test_every_error_the_product_defines_is_of_exactly_one_kind() -> None:
    for error_class in every_error_class() - {*KINDS, InternalError}:
        kinds = [kind for kind in KINDS if issubclass(error_class, kind)]
        assert len(kinds) == 1, f"{error_class.__module__}.{error_class.__name__}: {kinds}"


def test_a_bare_ledger_error_cannot_be_raised() -> None:
    with pytest.raises(AssertionError):
        LedgerError("field", "value", "which kind?")


def test_every_error_crosses_a_process_boundary_whole() -> None:
    """A rebuild worker's error reaches the CLI as the same class, field, value and message
    (every error made from those three; the few that compose their message take their own)."""
    for error_class in every_error_class() - {LedgerError}:
        if error_class.__init__ is not LedgerError.__init__:
            continue
        error = error_class("field", 42, "why")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is error_class
        assert (copy.field, copy.value, copy.message) == ("field", 42, "why")


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_the_readme_documents_each_kind_as_the_doors_map_it(kind: type[LedgerError]) -> None:
    exit_code, statuses = documented_kinds()[kind.__name__]
    assert EXIT_CODES[kind] == exit_code
    assert HTTP_STATUS[kind] in statuses
    specific = {status for cls, status in HTTP_STATUS.items() if issubclass(cls, kind)}
    assert specific == statuses


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidCommand("amount_ore", 1.5, "not an integer"), 422),
        (NotFound("application_id", "x", "no such application"), 404),
        (RuleViolation("amounts_ore.2018", 5, "exceeds what is available"), 409),
        (CommandIdConflict("command_id", "c", "already used"), 409),
        (UnknownSubject(QueryParameter.RECIPIENT, "9999", "no such recipient"), 404),
        (InvalidQuery(QueryParameter.YEAR, "20x1", "not a year"), 422),
        (StoreUnavailable("store", "sqlite:///x", "locked"), 503),
        (IntegrityFailure("message", "partition 0 offset 7", "not an envelope"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, LedgerError) else str(value),
)
def test_the_most_specific_class_decides_the_status(error: LedgerError, status: int) -> None:
    assert status_of(error) == status


def test_a_kind_is_found_from_any_subclass() -> None:
    assert kind_of(RuleViolation("year", 2018, "outside")) is Refused
    assert kind_of(StoreUnavailable("store", "x", "down")) is Unavailable
    assert kind_of(UnknownSubject(QueryParameter.PROGRAMME, "p", "unknown")) is InvalidQuery
    assert kind_of(ConfigurationError("GRANT_LEDGER_STORE", "x", "bad")) is ConfigurationError


def test_every_parameter_has_a_cli_flag() -> None:
    assert set(FLAG_OF) == {*QueryParameter, *OperatorParameter}


def error_classes_by_name() -> set[str]:
    """The names of every LedgerError class, to spot where one is raised."""
    return {error.__name__ for error in every_error_class()} | {LedgerError.__name__}


def test_code_below_the_cli_names_parameters_not_flags() -> None:
    """An error raised outside the CLI names the API's parameter: an HTTP client or a library
    caller never reads `--from-position`; the CLI maps the name to its flag (FLAG_OF)."""
    names = error_classes_by_name()
    flags = []
    for package_name in PACKAGES:
        for path in sorted((ROOT / package_name).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("commands/cli/") or relative == "commands/demo.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in names
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and node.args[0].value.startswith("-")
                ):
                    flags.append(f"{relative}:{node.lineno}: {node.args[0].value}")
    assert not flags, flags


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            InvalidQuery(QueryParameter.EXPORT_FROM_POSITION, 0, "positions start at 1"),
            "--from-position=0: positions start at 1",
        ),
        (
            InvalidQuery(QueryParameter.BACKDATING_DAYS, -1, "must be 0 or more"),
            "--backdating-days=-1: must be 0 or more",
        ),
        (
            ConfigurationError(OperatorParameter.SKIP_REASON, " ", "a skip needs a reason"),
            "--reason=' ': a skip needs a reason",
        ),
        (
            ConfigurationError("GRANT_LEDGER_STORE", "x", "bad"),
            "GRANT_LEDGER_STORE='x': bad",
        ),
    ],
    ids=lambda value: value.field if isinstance(value, LedgerError) else "",
)
def test_the_cli_maps_a_parameter_to_its_flag(
    error: LedgerError, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report(error)
    assert capsys.readouterr().err == f"grant-ledger: {line}\n"


def test_an_export_range_names_the_export_parameters() -> None:
    with pytest.raises(InvalidQuery) as first:
        PositionRange(0)
    assert first.value.field == "from_position"
    with pytest.raises(InvalidQuery) as last:
        PositionRange(9, 3)
    assert (last.value.field, last.value.value) == ("to_position", 3)


def test_a_skip_without_a_reason_names_the_parameter() -> None:
    with pytest.raises(ConfigurationError) as refused:
        SkipRequest(MessageAt("t", 0, 1), " ")
    assert refused.value.field == "reason"


def test_the_cli_names_a_question_by_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    report(UnknownSubject(QueryParameter.PROGRAMME, "p-9", "no such programme"))
    assert capsys.readouterr().err == "grant-ledger: --programme='p-9': no such programme\n"
    report(RuleViolation("amount_ore", 5, "too much"))
    assert capsys.readouterr().err == "grant-ledger: amount_ore=5: too much\n"


def test_a_negative_backdating_window_names_the_parameter() -> None:
    with pytest.raises(InvalidQuery) as refused:
        check_backdating_days(-1)
    assert (refused.value.field, refused.value.value) == ("backdating_days", -1)
    check_backdating_days(0)

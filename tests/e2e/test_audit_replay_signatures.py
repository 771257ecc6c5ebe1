"""`audit replay` trusts an export only as far as checkpoints signed by a trusted key prove it:
a whole export forged with another key, an unsigned checkpoint, a signature that does not verify
or events after the last signed checkpoint exit 4 naming the position, in every format; a key
rotation (checkpoints by two trusted keys) replays; no trusted keys configured exits 2."""

from pathlib import Path
from typing import Any

import pytest

from commands.cli.main import main
from ledger.audit.event_table import CHECKPOINT_SCHEMA
from ledger.audit.export_checkpoints import signed_body
from ledger.audit.export_reader import read_batches
from ledger.infrastructure.signing_keys import create_signing_key, public_key_path
from ledger.proof.signatures import CheckpointSigner
from ledger.settings import TRUSTED_KEYS_ENV_VAR
from tests.audited_ledger import AuditedLedger, audited  # noqa: F401 (fixture)
from tests.export_files import (
    FORMATS,
    checkpoints_of,
    copy_of,
    envelopes_of,
    exports,  # noqa: F401 (fixture)
    rechained,
    replay,
    replayed_with_checkpoints,
    rewrite,
    signed,
)
from tests.signing import ledger_signer, ledger_trust, session_keys

EXIT_USAGE = 2
EXIT_INTEGRITY = 4
QUESTION = ("--by", "programme-year", "--format", "json")


def new_key(directory: Path, name: str) -> CheckpointSigner:
    """A key of someone's own, its public half beside it."""
    return create_signing_key(directory / f"{name}.pem")


def trust(monkeypatch: pytest.MonkeyPatch, *public_paths: Path) -> None:
    """GRANT_LEDGER_TRUSTED_KEYS: these public key files."""
    monkeypatch.setenv(TRUSTED_KEYS_ENV_VAR, ",".join(str(path) for path in public_paths))


def forged(export: Path, file_format: str, into: Path, forger: CheckpointSigner) -> Path:
    """The export rewritten whole: one disbursement raised by a krona, the chain recomputed from
    genesis, every checkpoint moved to the new chain and signed by `forger`, the manifest's
    hashes fixed. Only the key tells it from the ledger's."""
    directory = copy_of(export, into)
    envelopes = envelopes_of(directory, file_format)
    raised = next(e for e in envelopes if e["type"] == "FundsDisbursed" and e["position"] > 50)
    raised["data"]["amount_ore"] += 100
    envelopes = rechained(envelopes)
    hash_at = {envelope["position"]: envelope["hash"] for envelope in envelopes}
    rewrite(directory, file_format, "events", envelopes)
    checkpoints = signed(
        checkpoints_of(directory, file_format), lambda _: forger, hash_at.__getitem__
    )
    rewrite(directory, file_format, "checkpoints", checkpoints)
    return directory


@pytest.mark.parametrize("file_format", FORMATS)
def test_exported_checkpoints_carry_every_signed_field_typed(
    exports: dict[str, Path],  # noqa: F811
    file_format: str,
) -> None:
    """Each format reads back as CHECKPOINT_SCHEMA, and the relay's signed body is rebuilt from
    every row exactly: it verifies under the ledger's key."""
    path = exports[file_format] / f"checkpoints.{file_format}"
    rows: list[dict[str, Any]] = []
    for batch in read_batches(path, file_format, CHECKPOINT_SCHEMA):
        assert batch.schema.equals(CHECKPOINT_SCHEMA)
        rows += batch.to_pylist()
    assert rows
    for row in rows:
        checkpoint = ledger_trust().verified_body(signed_body(row), f"position {row['position']}")
        assert checkpoint.key_id == ledger_signer().key_id
        assert (checkpoint.position, checkpoint.hash) == (row["position"], row["hash"])


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_whole_export_forged_with_another_key_is_refused(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    file_format: str,
) -> None:
    """Chain and checkpoints recomputed, signed by the forger: exit 4 at the first checkpoint,
    no balances. Trusting the forger's key instead, the same files replay: only the key stops
    the forgery."""
    forger = new_key(tmp_path, "forger")
    directory = forged(exports[file_format], file_format, tmp_path / "forged", forger)
    first_checkpoint = checkpoints_of(directory, file_format)[0]["position"]
    code, out, err = replay(directory, capsys, *QUESTION)
    assert code == EXIT_INTEGRITY and out == "", err
    assert f"checkpoint position {first_checkpoint}: is signed by key {forger.key_id}" in err
    assert "not among the trusted keys" in err
    trust(monkeypatch, public_key_path(tmp_path / "forger.pem"))
    code, out, err = replay(directory, capsys, *QUESTION)
    assert code == 0 and out, err


@pytest.mark.parametrize("file_format", FORMATS)
def test_an_unsigned_checkpoint_is_refused(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """A checkpoint stripped of its key id and signature: exit 4 naming its position."""

    def unsigned(rows: list[dict[str, Any]]) -> None:
        rows[1]["signature"] = rows[1]["key_id"] = None

    code, out, err, rows = replayed_with_checkpoints(
        exports[file_format], file_format, tmp_path / "unsigned", unsigned, capsys
    )
    assert code == EXIT_INTEGRITY and out == "", err
    assert f"checkpoint position {rows[1]['position']}: is not signed" in err


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_signature_that_does_not_verify_is_refused(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """One byte of a signed checkpoint's body changed (its event count, which no chain check
    covers): exit 4 naming its position and the key."""

    def one_byte_changed(rows: list[dict[str, Any]]) -> None:
        rows[1]["events"] += 1

    code, out, err, rows = replayed_with_checkpoints(
        exports[file_format], file_format, tmp_path / "changed", one_byte_changed, capsys
    )
    assert code == EXIT_INTEGRITY and out == "", err
    assert (
        f"checkpoint position {rows[1]['position']}: has a signature that does not verify "
        f"under key {ledger_signer().key_id}"
    ) in err


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_key_rotation_with_both_keys_trusted_replays(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    file_format: str,
) -> None:
    """The later checkpoints signed by a new key: with both keys trusted, the same balances as
    the export signed by one; with the old key alone, refused at the first new checkpoint."""
    code, expected, _ = replay(exports[file_format], capsys, *QUESTION)
    assert code == 0 and expected
    successor = new_key(tmp_path, "successor")
    directory = copy_of(exports[file_format], tmp_path / "rotated")
    rows = checkpoints_of(directory, file_format)
    handover = rows[len(rows) // 2]["position"]
    rewrite(
        directory,
        file_format,
        "checkpoints",
        signed(rows, lambda position: ledger_signer() if position < handover else successor),
    )
    code, _, err = replay(directory, capsys, *QUESTION)
    assert code == EXIT_INTEGRITY, err
    assert f"checkpoint position {handover}: is signed by key {successor.key_id}" in err
    trust(monkeypatch, session_keys().public_path, public_key_path(tmp_path / "successor.pem"))
    code, out, err = replay(directory, capsys, *QUESTION)
    assert code == 0, err
    assert out == expected
    assert ledger_signer().key_id in err and successor.key_id in err


@pytest.mark.parametrize("file_format", FORMATS)
def test_events_after_the_last_signed_checkpoint_are_refused(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """The checkpoint at the export's end removed: the events after the one before are not
    proven, so nothing is replayed (exit 4 naming the first unproven position)."""
    removed: list[int] = []

    def last_removed(rows: list[dict[str, Any]]) -> None:
        removed.append(rows.pop()["position"])

    code, out, err, rows = replayed_with_checkpoints(
        exports[file_format], file_format, tmp_path / "uncovered", last_removed, capsys
    )
    assert code == EXIT_INTEGRITY and out == "", err
    covered, last_position = rows[-1]["position"], removed[0]
    assert f"position {covered + 1}: positions {covered + 1}..{last_position} are not" in err


def test_an_export_from_the_store_is_not_proven(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The store's checkpoints are computed by the export, unsigned: refused, not trusted."""
    out_dir = tmp_path / "from-store"
    args = ["export", "events", "--out", str(out_dir), "--format", "parquet"]
    assert main([*args, *audited.store_flags(), *audited.kafka_flags()]) == 0
    capsys.readouterr()
    code, out, err = replay(out_dir, capsys)
    assert code == EXIT_INTEGRITY and out == "", err
    assert "export from the event store, not signed by the ledger" in err
    assert "--source kafka" in err


def test_without_trusted_keys_it_stops_naming_the_setting(
    exports: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As every reader: GRANT_LEDGER_TRUSTED_KEYS unset is a configuration error (exit 2)."""
    monkeypatch.delenv(TRUSTED_KEYS_ENV_VAR)
    code, out, err = replay(exports["parquet"], capsys)
    assert code == EXIT_USAGE and out == ""
    assert TRUSTED_KEYS_ENV_VAR in err

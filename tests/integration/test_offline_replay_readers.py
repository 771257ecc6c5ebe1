"""The offline replay's threads share a Parquet export's row groups as they come free: whatever
order they finish in, the first bad position of the record is the one named, an unreadable row
group included, and one reader or two prove the same books."""

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ledger.audit.export import ROW_GROUP_EVENTS, export_events
from ledger.audit.export_reader import ExportTampered
from ledger.audit.export_sources import RecordSource
from projections.application.offline_replay import export_balances, verify_export
from projections.domain.asof import AsOf
from projections.domain.filters import Filters
from projections.domain.rows import View
from tests.export_files import checkpoints_of, copy_of, envelopes_of, rechained, rewrite, signed
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.vectorised import CHECKPOINT_EVERY
from tests.signing import ledger_signer, ledger_trust

ROW_GROUPS = 3
EVENTS = ROW_GROUPS * ROW_GROUP_EVENTS
READERS = (1, 2, 3)
TODAY = date(2036, 1, 1)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet export of three row groups, its checkpoints signed as the relay signs them."""
    directory = tmp_path_factory.mktemp("readers") / "export"
    export_events(
        RecordSource(synthetic_envelopes(EVENTS), EVENTS),
        directory,
        "parquet",
        first_position=1,
        checkpoint_every=CHECKPOINT_EVERY,
    )
    rewrite(
        directory,
        "parquet",
        "checkpoints",
        signed(checkpoints_of(directory, "parquet"), lambda _: ledger_signer()),
    )
    assert pq.ParquetFile(directory / "events.parquet").num_row_groups == ROW_GROUPS
    return directory


def unreadable_last_group(directory: Path) -> None:
    """Bytes in the middle of the last row group's `data` pages overwritten (the manifest's
    hash left as it was: the chain must name it first)."""
    path = directory / "events.parquet"
    metadata = pq.ParquetFile(path).metadata
    last = metadata.row_group(ROW_GROUPS - 1)
    data = next(
        last.column(i) for i in range(last.num_columns) if last.column(i).path_in_schema == "data"
    )
    content = bytearray(path.read_bytes())
    middle = data.data_page_offset + data.total_compressed_size // 2
    content[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("readers", READERS)
def test_one_reader_or_several_prove_the_same_record(export: Path, readers: int) -> None:
    """The same events in position order and the same balances (the dictionaries' codes may
    be numbered in another order: the names they stand for are the same)."""
    replayed = verify_export(export, ledger_trust(), workers=readers)
    alone = verify_export(export, ledger_trust(), workers=1)
    assert (replayed.first_position, replayed.last_position) == (1, EVENTS)
    assert replayed.last_hash == alone.last_hash
    assert replayed.columns.events.position.tolist() == list(range(1, EVENTS + 1))
    for view in View:
        assert export_balances(replayed, view, Filters(), AsOf(), today=TODAY) == (
            export_balances(alone, view, Filters(), AsOf(), today=TODAY)
        )


@pytest.mark.parametrize("readers", READERS)
def test_a_last_row_group_that_cannot_be_read_is_named_within_it(
    export: Path, tmp_path: Path, readers: int
) -> None:
    directory = copy_of(export, tmp_path / "damaged")
    unreadable_last_group(directory)
    with pytest.raises(ExportTampered) as raised:
        verify_export(directory, ledger_trust(), workers=readers)
    assert raised.value.field == "position"
    assert int(raised.value.value) > (ROW_GROUPS - 1) * ROW_GROUP_EVENTS


@pytest.mark.parametrize("readers", READERS)
def test_an_event_altered_early_is_named_before_a_later_unreadable_row_group(
    export: Path, tmp_path: Path, readers: int
) -> None:
    """Whichever thread finishes first, the lowest bad position wins."""
    directory = copy_of(export, tmp_path / "tampered")
    rows = envelopes_of(directory, "parquet")
    altered = next(row for row in rows[ROW_GROUP_EVENTS // 2 :] if "amount_ore" in row["data"])
    altered["data"]["amount_ore"] += 1
    rewrite(directory, "parquet", "events", rows)
    unreadable_last_group(directory)
    with pytest.raises(ExportTampered) as raised:
        verify_export(directory, ledger_trust(), workers=readers)
    assert (raised.value.field, int(raised.value.value)) == ("position", altered["position"])


@pytest.mark.parametrize("readers", READERS)
def test_a_chain_rewritten_from_the_middle_fails_where_it_was_rewritten(
    export: Path, tmp_path: Path, readers: int
) -> None:
    """Every event after one altered is sealed again (hashes and links recomputed): the
    checkpoint signatures still name the first checkpoint past the change."""
    directory = copy_of(export, tmp_path / "rechained")
    rows = envelopes_of(directory, "parquet")
    start = ROW_GROUP_EVENTS + 10
    rows[start]["note"] = "rewritten"
    rechained(rows[start:])
    rewrite(directory, "parquet", "events", rows)
    with pytest.raises(ExportTampered) as raised:
        verify_export(directory, ledger_trust(), workers=readers)
    first_checkpoint_after = -(-rows[start]["position"] // CHECKPOINT_EVERY) * CHECKPOINT_EVERY
    assert int(raised.value.value) == first_checkpoint_after
    assert "checkpoint" in raised.value.message

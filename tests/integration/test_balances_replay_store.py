"""The replay store: exactly-once appends, crash-torn tails, digests, compaction, verification."""

import os
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest

from ledger.proof.coordinates import MessageAt
from projections.application.query import replay_balances
from projections.application.rebuild import rebuild
from projections.domain.asof import AsOf
from projections.domain.rows import STORED_VIEWS, View
from projections.domain.selection import Selection
from projections.replay import (
    Dictionaries,
    PartitionMark,
    ReplayColumns,
    ReplayStore,
    ReplayStoreBusy,
    accumulators,
    asof_index,
    balances,
    every_view,
    index_files,
    load_index,
    rebuild_totals,
    verify_store,
)
from projections.replay.asof_index import SNAPSHOT_CHUNKS
from projections.replay.layout import EVENT_BYTES, POSTING_BYTES, column_file
from projections.store.read_store import ReadStore
from schemas.envelope import Checkpoint
from schemas.errors import IntegrityFailure, QueryParameter, Unavailable
from tests.ledgers.balances_each_way import columns_of
from tests.ledgers.envelopes import checkpoints_of, synthetic_envelopes

EVENTS = 600
BYTES_PER_EVENT_LIMIT = 64


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, object]]:
    """A small synthetic ledger with a real hash chain."""
    return list(synthetic_envelopes(EVENTS))


@pytest.fixture(scope="module")
def columns(envelopes: list[dict[str, object]]) -> ReplayColumns:
    """Its replay columns, in position order."""
    return columns_of(envelopes)[0]


def hash_at(position: int) -> str:
    """The real chain hash of a synthetic position."""
    return str(CHAIN[position - 1]["hash"])


CHAIN = list(synthetic_envelopes(EVENTS))


def store_with(directory: Path, columns: ReplayColumns, *parts: slice) -> ReplayStore:
    """A store that received the events of `parts`, in that order."""
    store = ReplayStore(directory, durable=False)
    with store.writing():
        for part in parts:
            keep = np.zeros(columns.event_count, dtype=np.bool_)
            keep[part] = True
            piece = columns.select_events(keep)
            position = int(piece.events.position.max())
            store.append(
                piece,
                newest_hash=(position, hash_at(position)),
                topic="t",
                partitions={0: PartitionMark(position, position)},
            )
    return store


def checkpoints(envelopes: list[dict[str, object]]) -> list[Checkpoint]:
    """Checkpoints every 100 events and at the end."""
    return checkpoints_of(envelopes, every=100)


def test_appending_the_same_events_again_adds_nothing(
    tmp_path: Path, columns: ReplayColumns
) -> None:
    """Positions already stored are skipped, also inside one batch."""
    store = store_with(tmp_path, columns, slice(0, 300))
    with store.writing():
        again = columns.select_events(np.arange(columns.event_count) < 400)
        assert store.append(again, newest_hash=None) == 100
        assert store.append(again, newest_hash=None) == 0
    assert store.event_count == 400
    assert store.manifest.complete


def test_a_torn_append_is_cut_back_to_the_manifest(tmp_path: Path, columns: ReplayColumns) -> None:
    """Bytes written after the last manifest commit (a crash mid-append) are dropped on open."""
    store = store_with(tmp_path, columns, slice(0, 200))
    path = tmp_path / column_file("events", "position", store.manifest.generation)
    with path.open("ab") as handle:
        handle.write(b"\x01" * 13)
    reopened = ReplayStore(tmp_path)
    with reopened.writing():
        assert path.stat().st_size == 200 * 8
    assert reopened.digest_problems() == []


def test_a_changed_byte_breaks_the_digest(
    tmp_path: Path, columns: ReplayColumns, envelopes: list[dict[str, object]]
) -> None:
    """Any byte differing from what the manifest recorded makes the store untrusted."""
    store = store_with(tmp_path, columns, slice(0, EVENTS))
    path = tmp_path / column_file("postings", "amount_ore", store.manifest.generation)
    with path.open("r+b") as handle:
        handle.seek(16)
        handle.write(b"\xff")
    verdict = verify_store(ReplayStore(tmp_path), checkpoints(envelopes))
    assert not verdict.trusted
    assert "CRC-32C" in verdict.problems[0]


def test_out_of_order_appends_are_compacted_into_position_order(
    tmp_path: Path, columns: ReplayColumns, envelopes: list[dict[str, object]]
) -> None:
    """Partitions consumed out of order: the store sorts itself before it is trusted."""
    store = store_with(tmp_path, columns, slice(300, EVENTS), slice(0, 300))
    assert not store.manifest.position_sorted
    assert not verify_store(store, checkpoints(envelopes)).trusted
    with store.writing():
        assert store.compact()
    loaded = store.load()
    assert np.array_equal(loaded.events.position, np.arange(1, EVENTS + 1))
    assert np.array_equal(loaded.postings.amount_ore, columns.postings.amount_ore)
    assert store.manifest.partitions == {0: PartitionMark(EVENTS, EVENTS)}
    verdict = verify_store(store, checkpoints(envelopes))
    assert verdict.trusted, verdict.problems
    assert verdict.checked == EVENTS // 100


def test_verification_against_the_chain(
    tmp_path: Path, columns: ReplayColumns, envelopes: list[dict[str, object]]
) -> None:
    """Matching checkpoints: trusted; a wrong hash: not; checkpoints ahead: behind; none: not."""
    store = store_with(tmp_path, columns, slice(0, 450))
    good = checkpoints(envelopes)
    verdict = verify_store(store, good)
    assert verdict.trusted and verdict.behind_to == EVENTS
    forged = [cp.model_copy(update={"hash": "0" * 64}) if cp.position == 200 else cp for cp in good]
    assert "first at position 200" in verify_store(store, forged).problems[0]
    assert not verify_store(store, []).trusted


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    """A second writer is refused while the first holds the directory."""
    first = ReplayStore(tmp_path)
    with (
        first.writing(),
        pytest.raises(ReplayStoreBusy, match="another process"),
        ReplayStore(tmp_path).writing(),
    ):
        pass


def test_rewrite_replaces_the_generation_atomically(tmp_path: Path, columns: ReplayColumns) -> None:
    """A re-fetch writes a new generation and removes the old files."""
    store = store_with(tmp_path, columns, slice(0, 100))
    old = store.manifest.generation
    with store.writing():
        store.rewrite(
            columns,
            dictionaries=store.dictionaries,
            max_position_hash=None,
            topic="t",
            partitions={},
        )
    assert store.manifest.generation == old + 1
    assert not (tmp_path / column_file("events", "position", old)).exists()
    assert ReplayStore(tmp_path).event_count == EVENTS


def test_bytes_per_event_on_disk(tmp_path: Path, columns: ReplayColumns) -> None:
    """The column layout stays under 64 bytes per event for a realistic mix."""
    store_with(tmp_path, columns, slice(0, EVENTS))
    on_disk = sum(os.path.getsize(p) for p in tmp_path.iterdir() if p.suffix == ".bin")
    timeline_bytes = sum(array.nbytes for array in columns.timeline.arrays().values())
    assert on_disk == EVENTS * EVENT_BYTES + columns.posting_count * POSTING_BYTES + timeline_bytes
    assert on_disk / EVENTS < BYTES_PER_EVENT_LIMIT


def test_as_of_questions_refuse_a_store_with_holes(tmp_path: Path, columns: ReplayColumns) -> None:
    """A store missing positions (one partition's share, a cut catch-up) answers nothing."""
    store = store_with(tmp_path / "holes", columns, slice(0, 100), slice(200, 300))
    with pytest.raises(Unavailable) as refusal:
        replay_balances(store, View.PROGRAMME_YEAR, Selection(), AsOf(at_position=50))
    assert refusal.value.field == "replay store"


def test_as_of_a_position_beyond_the_store_is_refused(
    tmp_path: Path, columns: ReplayColumns
) -> None:
    """A position past what the store holds is refused (it lags), not silently answered short."""
    store = store_with(tmp_path / "short", columns, slice(0, 100))
    with pytest.raises(Unavailable) as refusal:
        replay_balances(store, View.PROGRAMME_YEAR, Selection(), AsOf(at_position=5_000))
    assert refusal.value.field == QueryParameter.AT_POSITION


@pytest.mark.parametrize(
    "as_of",
    [
        AsOf(),
        AsOf(at_position=333),
        AsOf(as_of_date=date(2024, 6, 30)),
        AsOf(as_known_at=datetime(2030, 1, 1, tzinfo=UTC), as_of_date=date(2029, 12, 31)),
    ],
)
def test_the_as_of_index_on_disk_answers_like_a_scan(
    tmp_path: Path, envelopes: list[dict[str, object]], as_of: AsOf
) -> None:
    """After a rebuild wrote its index (tiny chunks here), one view's questions through the
    loaded index give what scanning the columns for all three views gives."""
    store = ReplayStore(tmp_path, durable=False)
    columns, dictionaries = columns_of(envelopes)
    with store.writing():
        store.rewrite(
            columns, dictionaries=dictionaries, max_position_hash=None, topic=None, partitions={}
        )
        rebuild_totals(store, chunk_events=16)
    index = load_index(store)
    assert index is not None and index.zones.count > SNAPSHOT_CHUNKS
    loaded, names = store.load(), store.dictionaries.names()
    today = date(2026, 1, 1)
    scanned = every_view(loaded, names, today=today, as_of=as_of)
    for view in STORED_VIEWS:
        indexed = balances(loaded, names, view, today=today, as_of=as_of, index=index)
        assert indexed == list(scanned.view(view))


def indexed_every(
    spacing: int,
    directory: Path,
    envelopes: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[ReplayStore, ReplayColumns, Dictionaries]:
    """A store of the envelopes whose index (16-event chunks) keeps running totals every
    `spacing` chunks; its columns and dictionaries."""
    store = ReplayStore(directory, durable=False)
    columns, dictionaries = columns_of(envelopes)
    with store.writing():
        store.rewrite(
            columns, dictionaries=dictionaries, max_position_hash=None, topic=None, partitions={}
        )
        with monkeypatch.context() as patched:
            patched.setattr(asof_index, "SNAPSHOT_CHUNKS", spacing)
            rebuild_totals(store, chunk_events=16)
    return store, columns, dictionaries


def test_an_index_built_with_other_snapshot_spacing_is_read_with_its_own(
    tmp_path: Path, envelopes: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running totals kept every other number of chunks (an index of an earlier release) are read
    at their own rows, not at the rows today's spacing would give."""
    store, columns, dictionaries = indexed_every(
        SNAPSHOT_CHUNKS + 1, tmp_path, envelopes, monkeypatch
    )
    index = load_index(store)
    assert index is not None and index.grants.snapshot_chunks == SNAPSHOT_CHUNKS + 1
    names, today = dictionaries.names(), date(2026, 1, 1)
    for position in range(1, len(columns.events) + 1, 37):
        as_of = AsOf(at_position=position)
        scanned = every_view(columns, names, today=today, as_of=as_of)
        for view in STORED_VIEWS:
            indexed = balances(columns, names, view, today=today, as_of=as_of, index=index)
            assert indexed == list(scanned.view(view)), (position, view)


def test_an_index_whose_manifest_names_another_spacing_is_not_read(
    tmp_path: Path, envelopes: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running totals kept every 4 chunks under a manifest that says every 8 (or 3): read at
    the manifest's rows they would be another boundary's totals, so the index is refused (the
    questions scan) rather than answering from the wrong row."""
    store, _, _ = indexed_every(4, tmp_path, envelopes, monkeypatch)
    index = load_index(store)
    assert index is not None and index.zones.count > 4 * 8
    manifest_path = tmp_path / index_files.INDEX_MANIFEST
    manifest = orjson.loads(manifest_path.read_bytes())
    for spacing in (8, 3):
        manifest["snapshot_chunks"] = [spacing, 4]
        manifest_path.write_bytes(orjson.dumps(manifest))
        assert load_index(store) is None, spacing


@pytest.mark.parametrize(
    "damage",
    ["array file cut short", "manifest not JSON", "manifest names a file outside", "no manifest"],
)
def test_a_damaged_index_on_disk_is_not_read_and_questions_still_answer_right(
    tmp_path: Path,
    envelopes: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    """After a question loaded (and kept) the index, its files are damaged under it: the next
    load refuses the index, nothing crashes (a kept mapping of a file cut short would fault when
    read), and questions answer what a scan of the columns gives."""
    store, columns, dictionaries = indexed_every(SNAPSHOT_CHUNKS, tmp_path, envelopes, monkeypatch)
    assert load_index(store) is not None
    manifest_path = tmp_path / index_files.INDEX_MANIFEST
    (array_file,) = tmp_path.glob("asof.*")
    if damage == "array file cut short":
        os.truncate(array_file, array_file.stat().st_size // 2)
    elif damage == "manifest not JSON":
        manifest_path.write_bytes(b"{not json")
    elif damage == "manifest names a file outside":
        manifest = orjson.loads(manifest_path.read_bytes())
        manifest["file"] = "../" + array_file.name
        manifest_path.write_bytes(orjson.dumps(manifest))
    else:
        manifest_path.unlink()
    assert load_index(store) is None
    names, today, as_of = dictionaries.names(), date(2026, 1, 1), AsOf(at_position=333)
    scanned = every_view(columns, names, today=today, as_of=as_of)
    for view in STORED_VIEWS:
        assert replay_balances(store, view, Selection(), as_of) == list(scanned.view(view))


def test_key_spaces_too_large_for_dense_sums_answer_the_same(
    tmp_path: Path, envelopes: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every key space over the dense limit (sorted, sparse sums instead), a rebuild's
    index and the questions through it give what dense sums give."""
    store = ReplayStore(tmp_path, durable=False)
    columns, dictionaries = columns_of(envelopes)
    names, today, as_of = dictionaries.names(), date(2026, 1, 1), AsOf(at_position=444)
    dense = every_view(columns, names, today=today, as_of=as_of)
    monkeypatch.setattr(accumulators, "DENSE_BINS_MAX", 0)
    with store.writing():
        store.rewrite(
            columns, dictionaries=dictionaries, max_position_hash=None, topic=None, partitions={}
        )
        rebuild_totals(store, chunk_events=32)
    assert every_view(columns, names, today=today, as_of=as_of) == dense
    assert every_view(columns, names, today=today, as_of=as_of, index=load_index(store)) == dense


def test_a_rebuild_over_more_events_leaves_a_loaded_index_intact(
    tmp_path: Path, envelopes: list[dict[str, object]]
) -> None:
    """A rebuild writes its index to a new file and commits it by the index manifest: a reader
    that loaded (mapped) the previous index of the same generation keeps answering from it, and
    only the new file is left; loading again while the manifest is unchanged reuses the mapping."""
    store = ReplayStore(tmp_path, durable=False)
    columns, dictionaries = columns_of(envelopes)
    first_half = np.arange(columns.event_count) < EVENTS // 2
    today, as_of = date(2026, 1, 1), AsOf(at_position=EVENTS // 3)
    with store.writing():
        store.rewrite(
            columns.select_events(first_half),
            dictionaries=dictionaries,
            max_position_hash=None,
            topic=None,
            partitions={},
        )
        rebuild_totals(store, chunk_events=16)
        earlier = load_index(store)
        assert earlier is not None and earlier.events == EVENTS // 2
        loaded, names = store.load(), store.dictionaries.names()
        before = every_view(loaded, names, today=today, as_of=as_of, index=earlier)
        (first_file,) = (path.name for path in tmp_path.glob("asof.*"))
        store.append(columns.select_events(~first_half), newest_hash=None)
        rebuild_totals(store, chunk_events=16)
    later = load_index(store)
    assert later is not None and later.events == EVENTS
    assert later.generation == earlier.generation
    assert every_view(loaded, names, today=today, as_of=as_of, index=earlier) == before
    (second_file,) = (path.name for path in tmp_path.glob("asof.*"))
    assert second_file != first_file
    assert load_index(store) is later, "an unchanged manifest: the mapping is kept, not redone"


def test_a_rebuild_keeps_nothing_computed_from_a_file_that_fails_its_digest(
    tmp_path: Path, columns: ReplayColumns, envelopes: list[dict[str, object]]
) -> None:
    """The rebuild digests the files beside its pass: a changed byte in a column the chain check
    never reads is refused by name (also when the pass over it fails first: a year far out of
    range, a recipient code past the pair table), and neither the read store nor an as-of index
    gets anything."""
    signed = [(c, MessageAt("checkpoints", 0, i)) for i, c in enumerate(checkpoints(envelopes))]
    for table, column, damage in (
        ("postings", "amount_ore", b"\xff"),
        ("postings", "year", b"\xff\x7f"),
        ("events", "recipient", b"\xff\xff\xff\x7f"),
    ):
        directory = tmp_path / column
        store = ReplayStore(directory, durable=False)
        whole, dictionaries = columns_of(envelopes)
        with store.writing():
            store.rewrite(
                whole,
                dictionaries=dictionaries,
                max_position_hash=hash_at(EVENTS),
                topic="t",
                partitions={0: PartitionMark(EVENTS, EVENTS)},
            )
        with (directory / column_file(table, column, store.manifest.generation)).open(
            "r+b"
        ) as handle:
            handle.seek(16)
            handle.write(damage)
        with ReadStore.open(f"sqlite:///{directory / 'read.db'}") as read_store:
            with pytest.raises(IntegrityFailure, match="CRC-32C"):
                rebuild(read_store, ReplayStore(directory), source="local", checkpoints=signed)
            assert read_store.applied_position() == 0
            assert read_store.balances(View.RECIPIENT_YEAR) == []
        assert load_index(ReplayStore(directory)) is None

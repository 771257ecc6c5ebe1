"""Programme snapshots: a programme's state at a version, so a cold load replays only the tail.

Snapshots are an optimisation only. A snapshot is used only when every check passes, and any
failed check means a warning and a replay from an earlier point, never a guess:
- format: the snapshot layout version this code writes;
- fingerprint: SHA-256 of the source of every module that defines the Programme's state and how
  events change it (the aggregate, its grants, the event contract, the state codec). Any change
  to that code makes older snapshots unusable: they are keyed by fingerprint, so they are simply
  not found, and the first load after a deploy replays the stream and snapshots it again;
- checksum: SHA-256 of the state bytes;
- identity: the programme, the version and the event id of the stream's event at that version
  (checked against the event store by the loader, so a snapshot from another store or a restored
  backup is refused).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from uuid import UUID

import orjson

from ledger.domain.programme import Programme
from ledger.domain.programme_state import decode_programme_lines, encode_programme
from ledger.infrastructure.snapshot_store import SnapshotStore

log = logging.getLogger("grant_ledger.snapshots")

SNAPSHOT_FORMAT = 1
# A snapshot every this many events of a programme: a cold load replays at most this many.
SNAPSHOT_EVERY_EVENTS = 500
KEY_SEPARATOR = "@"  # identifiers never contain it (schemas.identifiers)
HEADER_SEPARATOR = b"\n"
# The packages whose modules can define the Programme's state or its evolution.
FIRST_PARTY_PACKAGES = ("ledger", "schemas")
STATE_ROOT_MODULE = "ledger.domain.programme_state"


def _first_party(name: str | None) -> bool:
    return name is not None and name.split(".")[0] in FIRST_PARTY_PACKAGES


def _imported_modules(module: ModuleType) -> set[str]:
    names: set[str] = set()
    for value in vars(module).values():
        is_module = isinstance(value, ModuleType)
        name = value.__name__ if is_module else getattr(value, "__module__", None)
        if isinstance(name, str) and _first_party(name) and name in sys.modules:
            names.add(name)
    return names


def state_modules() -> list[str]:
    """The first-party modules the Programme's state code reaches (its import closure)."""
    seen: set[str] = set()
    todo = [STATE_ROOT_MODULE]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imported_modules(sys.modules[name]) - seen)
    return sorted(seen)


@cache
def state_fingerprint() -> str:
    """SHA-256 over the snapshot format and the source of every module in `state_modules`."""
    digest = hashlib.sha256(f"grant-ledger programme snapshot v{SNAPSHOT_FORMAT}\n".encode())
    for name in state_modules():
        source_file = sys.modules[name].__file__
        assert source_file is not None, f"{name} has no source file to fingerprint"
        source = Path(source_file).read_bytes()
        digest.update(f"{name} {len(source)}\n".encode())
        digest.update(source)
    return digest.hexdigest()


def snapshot_key(programme_id: str, fingerprint: str) -> str:
    """The snapshot table's id for a programme under one version of the code."""
    assert KEY_SEPARATOR not in programme_id, programme_id
    return f"{programme_id}{KEY_SEPARATOR}{fingerprint}"


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    """A programme as a verified snapshot holds it, and the event id its version must match."""

    programme: Programme
    last_event_id: UUID


class SnapshotRejected(Exception):
    """A stored snapshot failed a check (the loader replays without it)."""


class ProgrammeSnapshots:
    """Takes, finds and verifies the snapshots of programmes for the running code."""

    def __init__(self, store: SnapshotStore, fingerprint: str | None = None) -> None:
        self.store = store
        self.fingerprint = fingerprint or state_fingerprint()

    def take(self, programme: Programme, last_event_id: UUID) -> None:
        """Store the programme's saved state (its version's event is `last_event_id`)."""
        payload = encode_programme(programme)
        header = {
            "format": SNAPSHOT_FORMAT,
            "fingerprint": self.fingerprint,
            "programme_id": programme.id,
            "version": programme.version,
            "last_event_id": str(last_event_id),
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        blob = orjson.dumps(header) + HEADER_SEPARATOR + payload
        key = snapshot_key(programme.id, self.fingerprint)
        self.store.put(key, programme.version, blob)
        self.store.prune(programme.id + KEY_SEPARATOR, key, programme.version)

    def load(self, programme_id: str) -> LoadedSnapshot | None:
        """The newest snapshot that passes its checks; None (with a warning) when it fails."""
        stored = self.store.latest(snapshot_key(programme_id, self.fingerprint))
        if stored is None:
            return None
        try:
            return self._verified(programme_id, stored.version, stored.blob)
        except SnapshotRejected as reason:
            self.reject(programme_id, stored.version, str(reason))
            return None

    def _verified(self, programme_id: str, version: int, blob: bytes) -> LoadedSnapshot:
        # One pass over the bytes: the header line, then the state's own lines, which the
        # checksum covers as the stored bytes after the header (hashed in place, not copied).
        lines = blob.split(HEADER_SEPARATOR)
        try:
            header = orjson.loads(lines[0])
        except orjson.JSONDecodeError:
            raise SnapshotRejected("unreadable header") from None
        if len(lines) < 2 or not isinstance(header, dict):
            raise SnapshotRejected("no header")
        payload = memoryview(blob)[len(lines[0]) + len(HEADER_SEPARATOR) :]
        expected = {
            "format": SNAPSHOT_FORMAT,
            "fingerprint": self.fingerprint,
            "programme_id": programme_id,
            "version": version,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        for field, value in expected.items():
            if header.get(field) != value:
                raise SnapshotRejected(f"{field} is {header.get(field)!r}, expected {value!r}")
        try:
            programme = decode_programme_lines(lines[1:])
            last_event_id = UUID(header["last_event_id"])
        except (AssertionError, ValueError, KeyError, TypeError) as exc:
            # The checksum matched, so the bytes are as written: a codec mismatch, not damage.
            raise SnapshotRejected(f"state does not decode: {exc!r}") from None
        if programme.id != programme_id or programme.version != version:
            raise SnapshotRejected(f"state is {programme.id} v{programme.version}")
        return LoadedSnapshot(programme, last_event_id)

    def reject(self, programme_id: str, version: int, reason: str) -> None:
        """Warn that a snapshot failed a check, and drop it (the replay stores a good one)."""
        log.warning(
            "snapshot of programme %s at v%d ignored: %s; replaying its events instead",
            programme_id,
            version,
            reason,
        )
        self.store.discard(snapshot_key(programme_id, self.fingerprint), version)

    def delete_all(self) -> int:
        """Drop every snapshot of every programme and code version."""
        return self.store.delete_all()

"""Stored events as Kafka messages: chained envelope value, key, CloudEvents headers."""

from collections.abc import Mapping
from functools import cache
from typing import Any, NamedTuple

from ledger.application.envelopes import envelope_body, key_of, published_value
from ledger.application.grant_ledger import StoredProgrammeEvent
from schemas.chain import canonical_body_bytes, chain_hash
from schemas.envelope import CLOUDEVENTS_SOURCE, CLOUDEVENTS_SPECVERSION, CONTENT_TYPE

# Transport metadata of checkpoint messages (not part of the value contract): where the chain
# point sits in the store, so a restarted relay resumes without re-reading the whole log.
NOTIFICATION_ID_HEADER = "gl_notification_id"
CHECKPOINT_KEY = b"checkpoint"
# Checkpoints go to this partition, in order (readers read it alone).
CHECKPOINT_PARTITION = 0


class OutgoingMessage(NamedTuple):
    """One event ready to produce (a tuple: pages of them cross a process boundary cheaply)."""

    position: int
    notification_id: int
    hash: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def cloudevents_headers(envelope: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binding (binary mode) attributes for an envelope."""
    return [
        _SPECVERSION_HEADER,
        ("ce_id", str(envelope["event_id"]).encode()),
        ("ce_type", _ce_type(envelope["type"], envelope["schema_version"])),
        ("ce_source", _ce_source(envelope["programme_id"])),
        ("ce_time", str(envelope["recorded_at"]).encode()),
        _CONTENT_TYPE_HEADER,
    ]


_SPECVERSION_HEADER = ("ce_specversion", CLOUDEVENTS_SPECVERSION.encode())
_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())


@cache
def _ce_type(event_type: str, schema_version: int) -> bytes:
    return f"grant-ledger.{event_type}.v{schema_version}".encode()


@cache
def _ce_source(programme_id: str) -> bytes:
    return f"{CLOUDEVENTS_SOURCE}:programme:{programme_id}".encode()


def outgoing_message(
    stored: StoredProgrammeEvent, position: int, prev_hash: str
) -> OutgoingMessage:
    """Chain one stored event at `position` after `prev_hash` (the relay's hot path)."""
    body = envelope_body(position, stored.aggregate_id, stored.aggregate_version, stored.state)
    canonical = canonical_body_bytes(body)
    event_hash = chain_hash(prev_hash, canonical)
    value = published_value(canonical, prev_hash, event_hash)
    return OutgoingMessage(
        position=position,
        notification_id=stored.notification_id,
        hash=event_hash,
        key=key_of(stored.state["data"]).encode(),
        value=value,
        headers=cloudevents_headers(body),
    )


def header_value(headers: list[tuple[str, bytes]] | None, name: str) -> bytes | None:
    """The value of a header, if present."""
    for key, value in headers or ():
        if key == name:
            return value
    return None

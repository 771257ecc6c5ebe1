"""Stored events as Kafka messages: chained envelope value, key, CloudEvents headers."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.application.envelopes import envelope_body, key_of, seal
from ledger.application.grant_ledger import StoredProgrammeEvent
from schemas.envelope import CLOUDEVENTS_SOURCE, CLOUDEVENTS_SPECVERSION, CONTENT_TYPE

# Transport metadata for the relay itself (not part of the value contract): where the message
# came from in the store, so a restarted relay resumes without re-reading the whole log.
NOTIFICATION_ID_HEADER = "gl_notification_id"
CHECKPOINT_KEY = b"checkpoint"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One event ready to produce."""

    position: int
    notification_id: int
    hash: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def cloudevents_headers(envelope: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binding (binary mode) attributes for an envelope."""
    return [
        ("ce_specversion", CLOUDEVENTS_SPECVERSION.encode()),
        ("ce_id", str(envelope["event_id"]).encode()),
        ("ce_type", f"grant-ledger.{envelope['type']}.v{envelope['schema_version']}".encode()),
        ("ce_source", f"{CLOUDEVENTS_SOURCE}:programme:{envelope['programme_id']}".encode()),
        ("ce_time", str(envelope["recorded_at"]).encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]


def outgoing_message(
    stored: StoredProgrammeEvent, position: int, prev_hash: str
) -> OutgoingMessage:
    """Chain one stored event at `position` after `prev_hash`."""
    envelope = seal(
        envelope_body(position, stored.aggregate_id, stored.aggregate_version, stored.state),
        prev_hash,
    )
    headers = cloudevents_headers(envelope)
    headers.append((NOTIFICATION_ID_HEADER, str(stored.notification_id).encode()))
    return OutgoingMessage(
        position=position,
        notification_id=stored.notification_id,
        hash=envelope["hash"],
        key=key_of(stored.state["data"]).encode(),
        value=orjson.dumps(envelope),
        headers=headers,
    )


def header_value(headers: list[tuple[str, bytes]] | None, name: str) -> bytes | None:
    """The value of a header, if present."""
    for key, value in headers or ():
        if key == name:
            return value
    return None

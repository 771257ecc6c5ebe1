"""Pydantic mapper and orjson transcoder for eventsourcing (after its aggregate8 example)."""

from typing import Any, cast

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, ProgrammingError, StoredEvent, Transcoder, Transcoding
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel


class OrjsonTranscoder(Transcoder):
    """JSON bytes by orjson; pydantic owns the types, so no transcodings are registered."""

    def encode(self, obj: Any) -> bytes:
        """Serialise a JSON-ready object."""
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        """Parse JSON bytes."""
        return orjson.loads(data)

    def register(self, transcoding: Transcoding) -> None:
        """Refuse: value objects are pydantic models here."""
        msg = f"use pydantic models instead of transcoding {transcoding.name}"
        raise ProgrammingError(msg)


class PydanticMapper(Mapper[str]):
    """Maps pydantic domain events to stored events and back."""

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        """Domain event -> stored event (JSON state)."""
        model = cast(BaseModel, domain_event)
        state = model.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        """Stored event -> domain event, validated by its pydantic model."""
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        event_state: dict[str, Any] = self.transcoder.decode(state)
        event_state["originator_id"] = str(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        cls: type[BaseModel] = resolve_topic(stored_event.topic)
        return cast(DomainEventProtocol[str], cls.model_validate(event_state))

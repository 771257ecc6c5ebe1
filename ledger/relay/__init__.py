"""The outbox relay: the event store's notification log onto Kafka, exactly once, in order."""

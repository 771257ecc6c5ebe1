"""Infrastructure layer: event store configuration, mapping, SQL helpers, Kafka adapters."""

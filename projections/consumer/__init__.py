"""The Kafka side: the live projector, the fast bulk fetch for rebuilds, the checkpoints."""

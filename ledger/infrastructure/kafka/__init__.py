"""Kafka adapters: the embedded dev broker, topic setup, and reading what is on a topic."""

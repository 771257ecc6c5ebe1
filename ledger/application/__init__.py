"""Application layer: executes commands against aggregates and reads the notification log."""

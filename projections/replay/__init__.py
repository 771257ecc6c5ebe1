"""The hot replay path: a compact columnar store of every applied event and its numpy engine."""

"""Domain layer: aggregates and rules, pure Python with no I/O."""

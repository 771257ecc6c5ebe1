"""Read side: balance projections, the read store and the hot replay engine."""

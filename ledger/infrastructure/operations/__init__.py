"""Running the long-lived processes: log lines, metrics, health and readiness."""

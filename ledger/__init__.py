"""grant-ledger's write side: domain (pure), application (eventsourcing) and infrastructure."""

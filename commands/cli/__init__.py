"""The `grant-ledger` console script: one module per subcommand."""

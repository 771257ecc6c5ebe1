"""Entry points: parse commands (JSON Lines, HTTP), run them on the ledger, print results."""

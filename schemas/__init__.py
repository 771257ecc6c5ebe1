"""The public contract of grant-ledger: command and event models, and files generated from them."""

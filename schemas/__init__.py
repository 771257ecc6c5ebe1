"""The public contract of grant-ledger: command and event models, and the files generated from them."""

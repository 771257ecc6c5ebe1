"""The API's endpoints, a module per door: commands, trails, the log, balances, pages."""

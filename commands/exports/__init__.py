"""Balances for people and their tools: named records, CSV (plain and Swedish Excel), XLSX."""

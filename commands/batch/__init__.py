"""Batch command files: JSON Lines, one command a line, each its own transaction."""

"""Auditors' tools: prove the published log equals the store and nothing was altered."""

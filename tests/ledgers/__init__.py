"""Ledgers for tests and benchmarks, one module per way of making or reading one.

vectorised          a numpy plan of a many-programme ledger: replay columns directly (fast)
envelopes           the same plan as published envelopes with a real hash chain
kafka_topic         envelopes published as the relay does (key, headers, checkpoints)
random_commands     hypothesis strategies of commands run through the real write side
balances_each_way   the same balances computed each way (engine, replay store, read store)
"""

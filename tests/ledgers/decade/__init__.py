"""A decade-scale ledger built through the write side's own rules.

30 programmes (SFS 2018:151 as it happened, and 29 more in the image of Delmos's and
Tillväxtverket's grant streams), 290 municipalities, 21 regions and a few thousand organisations,
2016-2025: yearly appropriations raised and cut, application rounds, multi-year awards,
supplements and reductions, monthly or quarterly payments, extensions, recoveries, handovers.

recipients      who may receive grants (official codes)
programmes      the 30 programmes and their rules, agencies and handovers
script          per programme, the commands of its decade in time order, decided on its state
direct          the commands decided by the domain's Programme aggregates in memory (fast)
command_path    the same commands through GrantLedger.execute (the real path; small sizes)
replay_store    the events as published envelopes into a replay store, cached on disk

Building ten million events costs about 1 150 CPU-seconds (about 115 µs an event: the domain's
decisions and pydantic models, the envelope and its hash chain, the consumer's decode), spread
over one worker process per core: 63 minutes on the shared 2-core development machine at a load
of 10-13, about 10 on an idle one. `make bench` builds it once into .grant-ledger/bench and reuses
it (GRANT_LEDGER_BENCH_CACHE moves the cache; GRANT_LEDGER_BENCH_REPLAY_EVENTS sizes a quick run).
"""

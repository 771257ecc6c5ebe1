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
"""

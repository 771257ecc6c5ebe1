"""`grant-ledger audit replay|report|reconcile`: the auditor's tools, one module each.

Exit codes (the team's table): 0 all holds; 1 a check failed (a disagreement, a finding that
must not be); 2 a flag or setting that cannot work; 3 something is unavailable or not settled
yet (try again); 4 the record failed its integrity checks (nothing was computed from it).
"""

import argparse
import importlib

AUDIT_MODULES = (
    "commands.cli.audit_replay",
    "commands.cli.audit_report",
    "commands.cli.audit_reconcile",
)
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_UNAVAILABLE = 3
EXIT_INTEGRITY = 4


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `audit` subcommand and its tools."""
    parser = subparsers.add_parser("audit", help="offline replay, audit report, reconciliation")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="replay|report|reconcile")
    for module_name in AUDIT_MODULES:
        importlib.import_module(module_name).register(tools)

"""`make demo`: the main job on the embedded defaults, start to finish, leaving nothing running.

Records the reference SFS 2018:151 scenario in the SQLite event store, starts the embedded dev
broker, relays every event to Kafka, verifies the chain, projects balances, shows the auditor's
and finance's views, and ends with a finance token and how to open the pages (`serve`).
Re-running it records nothing new (every command is idempotent).
"""

import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from commands.cli.main import main as cli
from ledger.config import BOOTSTRAP_ENV_VAR
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.signing_keys import (
    SIGNING_KEY_ENV_VAR,
    TRUSTED_KEYS_ENV_VAR,
    create_signing_key,
    load_signing_key,
    public_key_path,
)

SCENARIO_RESOURCE = "scenarios/sfs_2018_151.jsonl"
DEMO_APPLICATION = "sfs2018151-1280-2018"  # Malmö's three-year grant
PROGRAMME = "sfs-2018-151"
AS_OF = "2019-12-31"
# The demo's own development key (never a production key: it lives beside the demo's store).
DEMO_KEY = Path(".grant-ledger") / "demo-signing-key.pem"
DEMO_PORT = 8000
PAGE_URL = f"http://127.0.0.1:{DEMO_PORT}/"


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _run(args: Sequence[str], show: str | None = None) -> int:
    print(f"$ grant-ledger {show or ' '.join(args)}", flush=True)
    code = cli(list(args))
    sys.stdout.flush()
    return code


def _quiet(action: Callable[[], int]) -> int:
    """Run a CLI call with its per-line output hidden (the summary is printed instead)."""
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            return action()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _demo_keys() -> None:
    """Sign with a development key of the demo's own and trust it, unless keys are configured."""
    if os.environ.get(SIGNING_KEY_ENV_VAR) and os.environ.get(TRUSTED_KEYS_ENV_VAR):
        print(f"signing with {os.environ[SIGNING_KEY_ENV_VAR]} (from the environment)")
        return
    signer = load_signing_key(DEMO_KEY) if DEMO_KEY.exists() else create_signing_key(DEMO_KEY)
    os.environ[SIGNING_KEY_ENV_VAR] = str(DEMO_KEY)
    os.environ[TRUSTED_KEYS_ENV_VAR] = str(public_key_path(DEMO_KEY))
    print(
        f"demo: the relay signs checkpoints with a development key made for the demo ({DEMO_KEY}, "
        f"key id {signer.key_id}) and the readers trust its public key; a real ledger makes its "
        "own with `grant-ledger keys init` and keeps it secret"
    )


def main() -> int:
    """Run the demo; exit code 0 when every step succeeded."""
    started = time.monotonic()
    scenario = str(resources.files("commands").joinpath(SCENARIO_RESOURCE))
    _step("1. Record the real SFS 2018:151 programme (365 commands, one transaction each)")
    print(f"$ grant-ledger submit {SCENARIO_RESOURCE}   (per-line output hidden)")
    if _quiet(lambda: cli(["submit", scenario])) != 0:
        print("demo: the scenario did not submit cleanly", file=sys.stderr)
        return 1
    print("all 365 lines ok (a second run reports each as already recorded)")

    _step("2. A grant's full trail, both dates, actor and agency (the auditor's view)")
    _run(["history", "--application", DEMO_APPLICATION])

    _step("3. Start the embedded dev broker (Tansu, memory only; stopped at the end)")
    with DevBroker() as broker:
        os.environ[BOOTSTRAP_ENV_VAR] = broker.bootstrap_servers
        print(f"{BOOTSTRAP_ENV_VAR}={broker.bootstrap_servers}")

        _step("4. Relay every event to Kafka exactly once, in order, hash-chained, signed")
        _demo_keys()
        if _run(["relay", "--once"]) != 0:
            return 1

        _step("5. Verify: store, topic and checkpoints agree, the chain is intact")
        if _run(["verify"]) != 0:
            return 1

        _step("6. Project the topic into the read store (and the local replay store)")
        if _run(["project", "--once"]) != 0:
            return 1

    _step("7. Finance: programme x year (appropriated, awarded, paid, available)")
    if _run(["balances", "--by", "programme-year", "--programme", PROGRAMME]) != 0:
        return 1

    _step("8. Finance: the 32 municipalities x year")
    if _run(["balances", "--by", "recipient-year", "--programme", PROGRAMME]) != 0:
        return 1

    _step("9. Finance: the Tillväxtverket -> Delmos handover in the agency split")
    if _run(["balances", "--by", "agency-year", "--programme", PROGRAMME]) != 0:
        return 1

    _step("10. Auditor: the programme as of 2019-12-31 (the hot replay path)")
    if _run(
        ["balances", "--by", "programme-year", "--programme", PROGRAMME, "--as-of-date", AS_OF]
    ):
        return 1

    _step("11. The service: local development key, tokens, and the pages")
    if _run(["auth", "init"]) != 0:
        return 1
    print("an auditor's token (8 h):", flush=True)
    if _run(["auth", "token", "--sub", "revisor-1", "--role", "auditor"]) != 0:
        return 1

    _step("Next")
    print(
        "grant-ledger history --recipient 1280             # everything about Malmö\n"
        "grant-ledger events --limit 3                     # the global log as JSON Lines\n"
        "grant-ledger balances --recipient 1280 --format csv\n"
        "grant-ledger balances --by agency-year --as-known-at 2026-01-01T00:00:00Z\n"
        "grant-ledger broker &                             # a broker that stays up, then:\n"
        "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\n"
        "grant-ledger relay --once && grant-ledger verify && grant-ledger project --once\n"
        "grant-ledger rebuild                              # every projection from the replay store"
    )
    print(f"\ndemo finished in {time.monotonic() - started:.1f} s; nothing left running")
    print(
        f"\nFinance in the browser: start the service with\n"
        f"    .venv/bin/grant-ledger serve --port {DEMO_PORT}\n"
        f"open {PAGE_URL} (the auditor's page: {PAGE_URL}auditor) and sign in with this "
        "finance token (valid 8 h):",
        flush=True,
    )
    return _run(["auth", "token", "--sub", "ekonom-1", "--role", "finance"])


if __name__ == "__main__":
    sys.exit(main())

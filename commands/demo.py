"""`make demo`: the main job on the embedded defaults, start to finish, leaving nothing running.

Records the reference SFS 2018:151 scenario in the SQLite event store, starts the embedded dev
broker, relays every event to Kafka, verifies the chain, projects balances, shows the auditor's
and finance's views, and ends with a finance token and how to open the pages (`serve`).
Re-running it records nothing new (every command is idempotent).

`python -m commands.demo` is an entry point: it reads the environment once, adds the demo's own
signing key to it unless keys are configured, and hands that to each CLI call (the process
environment is left alone).
"""

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from commands.cli.main import main as cli
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.signing_keys import create_signing_key, load_signing_key, public_key_path
from ledger.settings import BOOTSTRAP_ENV_VAR, SIGNING_KEY_ENV_VAR, TRUSTED_KEYS_ENV_VAR

SCENARIO_RESOURCE = "scenarios/sfs_2018_151.jsonl"
DEMO_APPLICATION = "sfs2018151-1280-2018"  # Malmö's three-year grant
PROGRAMME = "sfs-2018-151"
AS_OF = "2019-12-31"
DEMO_PORT = 8000
PAGE_URL = f"http://127.0.0.1:{DEMO_PORT}/"
# The demo's own development key (never a production key: it lives beside the demo's store).
DEMO_KEY = Path(".grant-ledger") / "demo-signing-key.pem"


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _run(args: Sequence[str], environ: Mapping[str, str]) -> int:
    print(f"$ grant-ledger {' '.join(args)}", flush=True)
    code = cli(list(args), environ)
    sys.stdout.flush()
    return code


def _demo_environment() -> dict[str, str]:
    """The environment with a development signing key of the demo's own (trusted by the
    readers), unless keys are configured."""
    environ = dict(os.environ)
    if environ.get(SIGNING_KEY_ENV_VAR) and environ.get(TRUSTED_KEYS_ENV_VAR):
        print(f"signing with {environ[SIGNING_KEY_ENV_VAR]} (from the environment)")
        return environ
    signer = load_signing_key(DEMO_KEY) if DEMO_KEY.exists() else create_signing_key(DEMO_KEY)
    print(
        f"demo: the relay signs checkpoints with a development key made for the demo ({DEMO_KEY}, "
        f"key id {signer.key_id}) and the readers trust its public key; a real ledger makes its "
        "own with `grant-ledger keys init` and keeps it secret"
    )
    return {
        **environ,
        SIGNING_KEY_ENV_VAR: str(DEMO_KEY),
        TRUSTED_KEYS_ENV_VAR: str(public_key_path(DEMO_KEY)),
    }


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


# (title, CLI arguments) of each step; a step fails the demo when its exit code is not 0.
Steps = list[tuple[str, list[str]]]


def _broker_steps(bootstrap_servers: str) -> Steps:
    """The steps that need the broker; it is passed as a flag (the demo leaves the environment
    alone)."""
    kafka = ["--bootstrap-servers", bootstrap_servers]
    return [
        (
            "4. Relay every event to Kafka exactly once, in order, hash-chained, signed",
            ["relay", "--once", *kafka],
        ),
        ("5. Verify: store, topic and checkpoints agree, the chain is intact", ["verify", *kafka]),
        (
            "6. Project the topic into the read store (and the local replay store)",
            ["project", "--once", *kafka],
        ),
    ]


FINANCE_AND_AUDIT_STEPS: Steps = [
    (
        "7. Finance: programme x year (appropriated, awarded, paid, available)",
        ["balances", "--by", "programme-year", "--programme", PROGRAMME],
    ),
    (
        "8. Finance: the 32 municipalities x year",
        ["balances", "--by", "recipient-year", "--programme", PROGRAMME],
    ),
    (
        "9. Finance: the Tillväxtverket -> Delmos handover in the agency split",
        ["balances", "--by", "agency-year", "--programme", PROGRAMME],
    ),
    (
        "10. Auditor: the programme as of 2019-12-31 (the hot replay path)",
        ["balances", "--by", "programme-year", "--programme", PROGRAMME, "--as-of-date", AS_OF],
    ),
]
NEXT_STEPS = (
    "grant-ledger history --recipient 1280             # everything about Malmö\n"
    "grant-ledger events --limit 3                     # the global log as JSON Lines\n"
    "grant-ledger balances --recipient 1280 --format csv\n"
    "grant-ledger balances --by agency-year --as-known-at 2026-01-01T00:00:00Z\n"
    "grant-ledger broker &                             # a broker that stays up, then:\n"
    "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\n"
    "grant-ledger relay --once && grant-ledger verify && grant-ledger project --once\n"
    "grant-ledger rebuild                              # every projection from the replay store"
)


def _run_steps(steps: Steps, environ: Mapping[str, str]) -> bool:
    """Run steps in order; False at the first that fails."""
    for title, args in steps:
        _step(title)
        if _run(args, environ) != 0:
            return False
    return True


def main() -> int:
    """Run the demo; exit code 0 when every step succeeded."""
    started = time.monotonic()
    environ = _demo_environment()
    scenario = str(resources.files("commands").joinpath(SCENARIO_RESOURCE))
    _step("1. Record the real SFS 2018:151 programme (365 commands, one transaction each)")
    print(f"$ grant-ledger submit {SCENARIO_RESOURCE}   (per-line output hidden)")
    if _quiet(lambda: cli(["submit", scenario], environ)) != 0:
        print("demo: the scenario did not submit cleanly", file=sys.stderr)
        return 1
    print("all 365 lines ok (a second run reports each as already recorded)")

    _step("2. A grant's full trail, both dates, actor and agency (the auditor's view)")
    _run(["history", "--application", DEMO_APPLICATION], environ)

    _step("3. Start the embedded dev broker (Tansu, memory only; stopped at the end)")
    with DevBroker() as broker:
        print(f"{BOOTSTRAP_ENV_VAR}={broker.bootstrap_servers}")
        if not _run_steps(_broker_steps(broker.bootstrap_servers), environ):
            return 1
    if not _run_steps(FINANCE_AND_AUDIT_STEPS, environ):
        return 1

    _step("11. The service: local development key, tokens, and the pages")
    if _run(["auth", "init"], environ) != 0:
        return 1
    print("an auditor's token (8 h):", flush=True)
    if _run(["auth", "token", "--sub", "revisor-1", "--role", "auditor"], environ) != 0:
        return 1

    _step("Next")
    print(NEXT_STEPS)
    print(f"\ndemo finished in {time.monotonic() - started:.1f} s; nothing left running")
    print(
        f"\nFinance in the browser: start the service with\n"
        f"    .venv/bin/grant-ledger serve --port {DEMO_PORT}\n"
        f"open {PAGE_URL} (the auditor's page: {PAGE_URL}auditor) and sign in with this "
        "finance token (valid 8 h):",
        flush=True,
    )
    return _run(["auth", "token", "--sub", "ekonom-1", "--role", "finance"], environ)


if __name__ == "__main__":
    sys.exit(main())

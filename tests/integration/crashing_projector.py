"""`grant-ledger project` that kills itself with SIGKILL after its N-th batch reached the replay
store and before the read store committed it: the worst moment for a crash.

    python -m tests.integration.crashing_projector N [flags of `grant-ledger project`]

The crash goes in through the projector's batch hook; production code has no fault switch.
"""

import os
import signal
import sys

from commands.cli import project
from commands.cli.main import build_parser
from ledger.settings import Settings


def main(argv: list[str]) -> int:
    """Project with the crash installed after batch `argv[0]`."""
    kill_at_batch = int(argv[0])
    args = build_parser().parse_args(["project", *argv[1:]])

    def crash(batch: int) -> None:
        if batch >= kill_at_batch:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = Settings.from_environment(os.environ)
    return project.run(args, settings, after_replay_append=crash)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""How a long-running command stops on SIGTERM and SIGINT.

- The handlers belong to one run: they are installed for it and the previous ones restored after.
  A handler left behind outlives its run: a command run in-process (the tests do) would leave
  its process, and every process forked from it, answering SIGTERM by stopping a run that is
  already over. A relay forked that way did not stop on SIGTERM (issue 10).
- A stop that has not finished within its deadline ends the process: it says what it abandons,
  dumps every thread's stack (where it was stuck) to stderr, and exits with the deadline's code.
  Exiting there is no worse than kill -9, which every command must survive anyway.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("grant_ledger.stop")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class StopDeadline:
    """How long a stop may take, what giving up on it abandons, and the exit code then."""

    seconds: float
    abandoning: Callable[[], str]
    exit_code: int

    def __post_init__(self) -> None:
        assert self.seconds > 0, f"a stop deadline of {self.seconds} s"
        assert self.exit_code != 0, "a process that gives up its stop must not exit 0"


def _give_up(signal_name: str, deadline: StopDeadline) -> None:
    """Timer thread: the stop is overdue; say what is abandoned, show where, exit."""
    log.error(
        "not stopped %.0f s after %s: exiting with code %d and abandoning %s",
        deadline.seconds,
        signal_name,
        deadline.exit_code,
        deadline.abandoning(),
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(deadline.exit_code)  # the main thread is stuck: nothing else can end the process


@contextmanager
def stop_on_signals(
    request_stop: Callable[[str], None], deadline: StopDeadline | None = None
) -> Iterator[None]:
    """While inside: SIGTERM and SIGINT call request_stop(signal name) (and start the deadline,
    if any); on leaving, the deadline is called off and the previous handlers are back."""
    overdue: list[threading.Timer] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        request_stop(name)
        if deadline is not None and not overdue:
            timer = threading.Timer(deadline.seconds, _give_up, args=(name, deadline))
            timer.daemon = True
            timer.start()
            overdue.append(timer)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for timer in overdue:
            timer.cancel()
        for signum, handler in previous.items():
            # None: a handler not installed from Python; the default is the honest restore.
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

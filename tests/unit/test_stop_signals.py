"""How a long-running command stops: its SIGTERM/SIGINT handlers are its run's alone, and a stop
that outlives its deadline ends the process non-zero, saying what it abandons, never a hang."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ledger.infrastructure.operations.stop_signals import (
    STOP_SIGNALS,
    StopDeadline,
    stop_on_signals,
)

EXIT_GAVE_UP = 3
DEADLINE_S = 0.5
# The child's interpreter start-up and imports, then the deadline, on a loaded 2-core machine.
CHILD_EXIT_TIMEOUT_S = 60.0


def test_a_signal_during_the_run_asks_to_stop_by_name() -> None:
    asked: list[str] = []
    with stop_on_signals(asked.append):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
    assert asked == ["SIGTERM", "SIGINT"]


def test_the_previous_handlers_are_back_after_the_run_even_when_it_failed() -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    with pytest.raises(RuntimeError), stop_on_signals(lambda _name: None):
        assert all(signal.getsignal(signum) is not before[signum] for signum in STOP_SIGNALS)
        raise RuntimeError("the run failed")
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_a_stop_that_finishes_calls_the_deadline_off() -> None:
    asked: list[str] = []
    deadline = StopDeadline(DEADLINE_S, lambda: "nothing", EXIT_GAVE_UP)
    with stop_on_signals(asked.append, deadline):
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(DEADLINE_S * 2)  # had the timer survived the run, this process would be gone
    assert asked == ["SIGTERM"]


def test_a_stop_stuck_past_its_deadline_exits_non_zero_naming_what_it_abandons() -> None:
    # A run that ignores its stop request (as a wait nobody bounded would) in a process of its own.
    child = textwrap.dedent(
        f"""
        import sys, time
        from ledger.infrastructure.operations.stop_signals import StopDeadline, stop_on_signals

        deadline = StopDeadline({DEADLINE_S}, lambda: "the window at position 7", {EXIT_GAVE_UP})
        with stop_on_signals(lambda _name: None, deadline):
            print("running", flush=True)
            while True:
                time.sleep(1)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "running\n"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=CHILD_EXIT_TIMEOUT_S)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == EXIT_GAVE_UP, stderr
    assert f"not stopped {DEADLINE_S:.0f} s after SIGTERM" in stderr
    assert "abandoning the window at position 7" in stderr
    assert "most recent call first" in stderr  # where it was stuck: every thread's stack

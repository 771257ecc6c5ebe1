"""The progress bar: drawn on a terminal, silent elsewhere; a summary line either way."""

import io

from commands.cli.progress import TerminalProgress


def test_no_bar_when_not_a_terminal() -> None:
    """Piped output gets only the summary."""
    stream = io.StringIO()
    progress = TerminalProgress("rebuild", 100, stream=stream)
    progress.update(50)
    progress.finish("rebuilt 100 events")
    assert stream.getvalue() == "rebuilt 100 events\n"


def test_bar_shows_events_rate_percent_and_eta() -> None:
    """On a terminal: events done/total, events/s, percent and ETA."""
    stream = io.StringIO()
    progress = TerminalProgress("rebuild", 1_000_000, stream=stream, enabled=True)
    progress.update(250_000)
    line = progress.line()
    assert "25.0%" in line and "250 000/1 000 000 events" in line
    assert "ev/s" in line and "ETA" in line
    progress.finish("done")
    assert stream.getvalue().endswith("done\n")


def test_unknown_total_shows_a_count() -> None:
    """Without a total (a topic of unknown length): count, rate and elapsed time."""
    progress = TerminalProgress("project", None, stream=io.StringIO(), enabled=True)
    progress.update(42)
    assert "42 events" in progress.line() and "%" not in progress.line()

"""The store's programme events as pages of chained, ready-to-produce messages.

Two readers with one interface: `InlineChainedLog` builds pages in the relay's own process;
`PrefetchedChainedLog` builds them in a child process a few pages ahead, so reading the store
and hashing (about 16 µs an event) run on the second core while this process produces (about
40 µs an event in kafka-python). The relay picks the prefetching reader for large backlogs.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from typing import Protocol

from ledger.application.grant_ledger import GrantLedger
from ledger.relay.messages import OutgoingMessage, outgoing_message

PAGE_EVENTS = 2_000
PAGES_AHEAD = 8
CHILD_POLL_S = 0.05
CHILD_PUT_TIMEOUT_S = 1.0
CHILD_JOIN_TIMEOUT_S = 5.0
PREFETCH_MIN_BACKLOG = 5_000


@dataclass(frozen=True, slots=True)
class ChainStart:
    """Where to start: after this notification id, at this position, after this hash."""

    after_notification_id: int
    next_position: int
    prev_hash: str


class ChainedLog(Protocol):
    """Pages of chained messages in global order."""

    def next_page(self, wait_s: float) -> list[OutgoingMessage]:
        """The next page; empty when caught up (after waiting at most wait_s for more)."""

    def close(self) -> None:
        """Release what the reader holds."""


def build_page(
    ledger: GrantLedger, after_id: int, position: int, prev_hash: str, limit: int
) -> list[OutgoingMessage]:
    """Chain the next page of stored events after (after_id, position, prev_hash)."""
    messages = []
    for stored in ledger.stored_programme_events(after_id, limit):
        position += 1
        message = outgoing_message(stored, position, prev_hash)
        prev_hash = message.hash
        messages.append(message)
    return messages


class InlineChainedLog:
    """Builds each page when asked, in this process."""

    def __init__(self, ledger: GrantLedger, start: ChainStart) -> None:
        self._ledger = ledger
        self._after_id = start.after_notification_id
        self._position = start.next_position - 1
        self._prev_hash = start.prev_hash

    def next_page(self, wait_s: float) -> list[OutgoingMessage]:
        """Read and chain the next page now (the caller does the waiting when it is empty)."""
        page = build_page(
            self._ledger, self._after_id, self._position, self._prev_hash, PAGE_EVENTS
        )
        if page:
            last = page[-1]
            self._after_id, self._position, self._prev_hash = (
                last.notification_id,
                last.position,
                last.hash,
            )
        return page

    def close(self) -> None:
        """Nothing to release: the ledger belongs to the caller."""


def _prefetch_pages(
    store_url: str,
    starts: multiprocessing.Queue[ChainStart],
    pages: multiprocessing.Queue[list[OutgoingMessage]],
    stop: EventType,
    parent_pid: int,
) -> None:
    """Child process: chain pages ahead of the producer until told to stop or orphaned."""
    gc.freeze()  # what start-up imported lives for good: keep the collector off it
    # Pages still queued when the relay is gone (killed with -9) have no reader: exiting must not
    # wait for the queue's feeder thread to write them, or an orphaned child hangs for ever.
    pages.cancel_join_thread()
    ledger = GrantLedger(store_url)
    start: ChainStart | None = None
    while start is None:
        if stop.is_set() or os.getppid() != parent_pid:
            ledger.close()
            return
        try:
            start = starts.get(timeout=CHILD_PUT_TIMEOUT_S)
        except queue.Empty:
            continue
    after_id, position, prev_hash = (
        start.after_notification_id,
        start.next_position - 1,
        start.prev_hash,
    )
    try:
        while not stop.is_set() and os.getppid() == parent_pid:
            page = build_page(ledger, after_id, position, prev_hash, PAGE_EVENTS)
            while not stop.is_set() and os.getppid() == parent_pid:
                try:
                    pages.put(page, timeout=CHILD_PUT_TIMEOUT_S)
                    break
                except queue.Full:
                    continue
            if page:
                last = page[-1]
                after_id, position, prev_hash = last.notification_id, last.position, last.hash
            else:
                stop.wait(CHILD_POLL_S)
    finally:
        ledger.close()


class PrefetchedChainedLog:
    """Builds pages in a child process, PAGES_AHEAD pages ahead of the caller.

    The child is spawned first and told where to start later (`begin`), so its start-up
    (imports, store connection) overlaps the relay's own connecting to Kafka.
    """

    def __init__(self, store_url: str) -> None:
        # spawn, not fork: the parent runs kafka-python's threads, which must not be forked.
        context = multiprocessing.get_context("spawn")
        self._starts: multiprocessing.Queue[ChainStart] = context.Queue(1)
        self._pages: multiprocessing.Queue[list[OutgoingMessage]] = context.Queue(PAGES_AHEAD)
        self._stop = context.Event()
        self._child = context.Process(
            target=_prefetch_pages,
            args=(store_url, self._starts, self._pages, self._stop, os.getpid()),
            name="grant-ledger-relay-prefetch",
            daemon=True,
        )
        self._child.start()
        self._begun = False

    def begin(self, start: ChainStart) -> None:
        """Tell the child where to start chaining."""
        assert not self._begun, "a prefetch child chains one run"
        self._starts.put(start)
        self._begun = True

    def next_page(self, wait_s: float) -> list[OutgoingMessage]:
        """The next page the child built; empty when it found nothing new within wait_s."""
        try:
            return self._pages.get(timeout=wait_s)
        except queue.Empty:
            if not self._child.is_alive():
                msg = f"the relay's prefetch process died (exit code {self._child.exitcode})"
                raise RuntimeError(msg) from None
            return []

    def close(self) -> None:
        """Stop the child and wait for it."""
        self._stop.set()
        while True:  # drain, so the child's queue feeder can finish
            try:
                self._pages.get_nowait()
            except queue.Empty:
                break
        self._child.join(CHILD_JOIN_TIMEOUT_S)
        if self._child.is_alive():
            self._child.terminate()
            self._child.join(CHILD_JOIN_TIMEOUT_S)
        self._pages.close()
        self._starts.close()

"""The replay store's fixed-width columns: one row per event, per (event, year) posting, per
agency-timeline entry. Little-endian raw files; the manifest says how many rows each holds.

Per event: position 8 + recorded_at_us 8 + hash_prefix 8 + effective_day 4 + recipient 4 +
programme 2 + kind 1 + posting_count 1 = 36 bytes; per posting: year 2 + amount_ore 8 = 10 bytes.
Postings follow their events' order, `posting_count` of them per event, so no per-posting
event reference is stored: an event's postings start at the running sum of the counts before it.
"""

from typing import Final

import numpy as np

EVENTS: Final = "events"
POSTINGS: Final = "postings"
TIMELINE: Final = "timeline"

COLUMNS: Final[dict[str, dict[str, np.dtype[np.generic]]]] = {
    EVENTS: {
        "position": np.dtype("<i8"),
        "recorded_at_us": np.dtype("<i8"),
        # The first 8 bytes of the envelope's chain hash, as a big-endian integer: enough to
        # compare the store with any checkpoint of the chain.
        "hash_prefix": np.dtype("<u8"),
        "effective_day": np.dtype("<i4"),
        "recipient": np.dtype("<i4"),
        "programme": np.dtype("<u2"),
        "kind": np.dtype("u1"),
        "posting_count": np.dtype("u1"),
    },
    POSTINGS: {
        "year": np.dtype("<i2"),
        "amount_ore": np.dtype("<i8"),
    },
    TIMELINE: {
        "position": np.dtype("<i8"),
        "recorded_at_us": np.dtype("<i8"),
        "effective_day": np.dtype("<i4"),
        "programme": np.dtype("<u2"),
        "agency": np.dtype("<u2"),
    },
}

HASH_PREFIX_HEX_CHARS: Final = 16
# Dictionary codes must fit their columns.
MAX_PROGRAMMES: Final = int(np.iinfo(np.uint16).max)
MAX_AGENCIES: Final = int(np.iinfo(np.uint16).max)
MAX_RECIPIENTS: Final = int(np.iinfo(np.int32).max)
MAX_POSTINGS_PER_EVENT: Final = int(np.iinfo(np.uint8).max)
# Recipient code 0 is "no recipient" (programme events).
NO_RECIPIENT: Final = ""

EVENT_BYTES: Final = sum(dtype.itemsize for dtype in COLUMNS[EVENTS].values())
POSTING_BYTES: Final = sum(dtype.itemsize for dtype in COLUMNS[POSTINGS].values())


def hash_prefix(chain_hash: str) -> int:
    """The stored 64-bit prefix of a hex chain hash."""
    return int(chain_hash[:HASH_PREFIX_HEX_CHARS], 16)


def column_file(table: str, column: str, generation: int) -> str:
    """File name of a column in a store generation."""
    return f"{table}.{column}.g{generation}.bin"

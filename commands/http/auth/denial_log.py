"""Every 401 and 403 as one JSON line on stderr: who (when known), what, and why."""

import sys
from datetime import UTC, datetime

import orjson
from fastapi import Request

from commands.http.auth.identity import Identity
from ledger.domain.errors import LedgerError


def log_denial(request: Request, status: int, error: LedgerError) -> None:
    """Write the line (time, sub, roles, method, path, status, reason); never the token."""
    identity = getattr(request.state, "identity", None)
    known = identity if isinstance(identity, Identity) else None
    record = {
        "time": datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": "access_denied",
        "sub": known.subject if known else None,
        "roles": sorted(known.roles) if known else None,
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "reason": f"{error.field}: {error.message}",
    }
    # Looked up at each write: the stream the process (or a test) has now.
    sys.stderr.write(orjson.dumps(record).decode() + "\n")
    sys.stderr.flush()

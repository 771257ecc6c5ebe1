"""Request bodies are checked before they are parsed: the media type (415) and the size (413).

The size is enforced on the bytes as they arrive, not only on Content-Length, so a chunked
upload cannot grow past the limit in memory.
"""

from fastapi import Request

from ledger.domain.errors import LedgerError

MAX_COMMAND_BYTES = 1024 * 1024  # one command
MAX_BATCH_BYTES = 64 * 1024 * 1024  # one batch of JSON Lines
MAX_BATCH_LINES = 100_000
JSON = "application/json"
NDJSON = "application/x-ndjson"


class PayloadTooLarge(LedgerError):
    """The body is over the endpoint's limit; nothing was parsed or recorded (413)."""


class UnsupportedMediaType(LedgerError):
    """The body is not of the media type the endpoint takes (415): a browser form or a
    text/plain post from another site's page is never read as a command."""


def require_media_type(request: Request, expected: str) -> None:
    """Refuse any Content-Type but `expected` (parameters such as charset allowed)."""
    declared = request.headers.get("content-type", "")
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type != expected:
        raise UnsupportedMediaType(
            "Content-Type", declared[:100] or None, f"this endpoint takes {expected}"
        )


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > max_bytes
    ):
        raise PayloadTooLarge("Content-Length", int(declared), f"at most {max_bytes} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > max_bytes:
            raise PayloadTooLarge("body", None, f"at most {max_bytes} bytes")
    return bytes(received)


def batch_lines(body: bytes) -> list[bytes]:
    """The batch's lines, refused past MAX_BATCH_LINES."""
    lines = body.splitlines()
    if len(lines) > MAX_BATCH_LINES:
        raise PayloadTooLarge("lines", len(lines), f"a batch has at most {MAX_BATCH_LINES} lines")
    return lines

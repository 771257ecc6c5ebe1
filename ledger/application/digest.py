"""The fingerprint of a command: same command_id with the same content is the same command."""

import hashlib

import orjson

from schemas.commands import CommandBase


def command_digest(command: CommandBase) -> str:
    """SHA-256 over the command's canonical JSON (sorted keys, defaults filled in)."""
    canonical = orjson.dumps(command.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()

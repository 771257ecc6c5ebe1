"""The tests' ledger key: one Ed25519 key per test session, trusted by every reader.

conftest exports it (GRANT_LEDGER_SIGNING_KEY, GRANT_LEDGER_TRUSTED_KEYS) for the whole
session, so CLI processes started by tests sign and verify as production does.
"""

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ledger.infrastructure.signing_keys import create_signing_key, public_key_path
from ledger.proof.signatures import CheckpointSigner, TrustedKeys


@dataclass(frozen=True)
class TestKeys:
    """The session's signing key, its files and the trust in it."""

    signer: CheckpointSigner
    trusted: TrustedKeys
    private_path: Path
    public_path: Path


@cache
def session_keys() -> TestKeys:
    """Made on first use, in a directory of its own."""
    private = Path(tempfile.mkdtemp(prefix="grant-ledger-test-keys-")) / "ledger-key.pem"
    signer = create_signing_key(private)
    trusted = TrustedKeys.of([signer.public_key], f"tests ({public_key_path(private)})")
    return TestKeys(signer, trusted, private, public_key_path(private))


def ledger_signer() -> CheckpointSigner:
    """The key the tests' relays sign with."""
    return session_keys().signer


def ledger_trust() -> TrustedKeys:
    """What the tests' readers trust."""
    return session_keys().trusted

"""`grant-ledger keys init`: make the ledger's Ed25519 signing key (the relay signs checkpoints).

The private key is written with mode 0600 and never overwritten; the public key goes beside it
(`.pub.pem`) and is printed, with its key id, for GRANT_LEDGER_TRUSTED_KEYS on every reader.
"""

import argparse
from pathlib import Path

from ledger.infrastructure.signing_keys import (
    SIGNING_KEY_ENV_VAR,
    TRUSTED_KEYS_ENV_VAR,
    create_signing_key,
    public_key_path,
)

DEFAULT_KEY_PATH = Path(".grant-ledger") / "signing-key.pem"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `keys` subcommand."""
    parser = subparsers.add_parser("keys", help="the ledger's checkpoint signing key")
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init", help="make a new Ed25519 signing key (mode 0600) and print its public key"
    )
    init.add_argument(
        "--out", type=Path, default=DEFAULT_KEY_PATH, help=f"private key file ({DEFAULT_KEY_PATH})"
    )
    init.set_defaults(run=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Create the key; print the public key and how to use both."""
    signer = create_signing_key(args.out)
    public = public_key_path(args.out)
    print(signer.public_pem(), end="")
    print(f"key id: {signer.key_id}")
    print(f"private key: {args.out} (mode 0600; the relay: {SIGNING_KEY_ENV_VAR}={args.out})")
    print(f"public key:  {public} (every reader: {TRUSTED_KEYS_ENV_VAR}={public})")
    return 0

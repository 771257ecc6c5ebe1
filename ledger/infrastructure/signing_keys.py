"""The ledger's Ed25519 keys on disk: the relay's signing key (PEM) and the readers' trusted keys
(PEM files or a JWKS), and `grant-ledger keys init` making a new one (mode 0600).

Messages name the setting and the file, never a key's bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from ledger.proof.signatures import CheckpointSigner, TrustedKeys
from ledger.settings import SIGNING_KEY_ENV_VAR, TRUSTED_KEYS_ENV_VAR, ProofSettings
from schemas.checkpoint_signature import ED25519_PUBLIC_KEY_BYTES, from_b64url, jwk_thumbprint
from schemas.errors import ConfigurationError, OperatorParameter

# GRANT_LEDGER_TRUSTED_KEYS lists files separated by commas (several keys while rotating).
TRUSTED_KEYS_SEPARATOR = ","
PRIVATE_KEY_MODE = 0o600
PUBLIC_KEY_SUFFIX = ".pub.pem"
PEM_BEGIN = b"-----BEGIN "
MAX_KEY_FILE_BYTES = 1024 * 1024


class KeyFileError(ConfigurationError):
    """A key file that cannot be used; names the setting and the path."""


def _read(path: Path, setting: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise KeyFileError(setting, str(path), "is too large to be a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(setting, str(path), "no such file") from None
    except IsADirectoryError:
        raise KeyFileError(setting, str(path), "is a directory, not a key file") from None
    except PermissionError:
        raise KeyFileError(setting, str(path), "cannot be read (permission denied)") from None


def load_signing_key(path: Path, setting: str = SIGNING_KEY_ENV_VAR) -> CheckpointSigner:
    """The relay's signing key from a PEM file (PKCS#8, unencrypted)."""
    pem = _read(path, setting)
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        reason = "is encrypted" if isinstance(exc, TypeError) else "is not a PEM private key"
        raise KeyFileError(
            setting, str(path), f"{reason}: make one with `grant-ledger keys init`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(setting, str(path), "is not an Ed25519 key (`grant-ledger keys init`)")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            setting, str(path), "can be read by other users: `chmod 600` it (it signs the ledger)"
        )
    return CheckpointSigner(key)


def _pem_public_keys(pem: bytes, path: Path, setting: str) -> list[Ed25519PublicKey]:
    keys = []
    for block in pem.split(PEM_BEGIN)[1:]:
        text = PEM_BEGIN + block
        if b"PRIVATE KEY" in text.split(b"\n", 1)[0]:
            raise KeyFileError(
                setting, str(path), "holds a private key: readers get the public key only"
            )
        try:
            key = load_pem_public_key(text)
        except ValueError:
            raise KeyFileError(setting, str(path), "is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(setting, str(path), "holds a key that is not Ed25519")
        keys.append(key)
    return keys


def _jwks_public_keys(document: Any, path: Path, setting: str) -> list[Ed25519PublicKey]:
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(setting, str(path), "is JSON but not a JWKS (no `keys` list)")
    keys = []
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or entry.get("kty") != "OKP"
            or entry.get("crv") != "Ed25519"
        ):
            continue  # a JWKS may carry other keys (e.g. the API's token keys)
        if "d" in entry:
            raise KeyFileError(setting, str(path), "holds a private key (`d`): publish `x` only")
        try:
            raw = from_b64url(str(entry.get("x", "")))
        except ValueError:
            raw = b""
        if len(raw) != ED25519_PUBLIC_KEY_BYTES:
            raise KeyFileError(setting, str(path), "has an Ed25519 key whose x is not 32 bytes")
        kid = entry.get("kid")
        if kid is not None and kid != jwk_thumbprint(raw):
            raise KeyFileError(
                setting,
                str(path),
                f"names key {kid!r}, but its thumbprint is {jwk_thumbprint(raw)}",
            )
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def load_trusted_keys(spec: str, setting: str = TRUSTED_KEYS_ENV_VAR) -> TrustedKeys:
    """Every Ed25519 public key in the listed files (PEM, or a JWKS in JSON)."""
    paths = [Path(part.strip()) for part in spec.split(TRUSTED_KEYS_SEPARATOR) if part.strip()]
    if not paths:
        raise KeyFileError(setting, spec, "lists no key file")
    keys: list[Ed25519PublicKey] = []
    for path in paths:
        content = _read(path, setting)
        if content.lstrip().startswith(b"{"):
            try:
                document = orjson.loads(content)
            except orjson.JSONDecodeError:
                raise KeyFileError(setting, str(path), "is neither PEM nor JSON") from None
            found = _jwks_public_keys(document, path, setting)
        else:
            found = _pem_public_keys(content, path, setting)
        if not found:
            raise KeyFileError(setting, str(path), "holds no Ed25519 public key")
        keys += found
    return TrustedKeys.of(keys, f"{setting}={spec}")


def public_key_path(private_path: Path) -> Path:
    """Where `keys init` puts the public key: beside the private one, `.pub.pem`."""
    name = private_path.name.removesuffix(".pem")
    return private_path.with_name(name + PUBLIC_KEY_SUFFIX)


def create_signing_key(path: Path) -> CheckpointSigner:
    """A new Ed25519 key: private PEM at `path` (mode 0600, never overwritten), public beside."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_KEY_MODE)
    except FileExistsError:
        raise KeyFileError(
            OperatorParameter.SIGNING_KEY_PATH,
            str(path),
            "exists already: a signing key is never overwritten",
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(path, PRIVATE_KEY_MODE)  # whatever the umask
    signer = CheckpointSigner(key)
    public_key_path(path).write_text(signer.public_pem())
    return signer


def signing_key(proof: ProofSettings) -> CheckpointSigner:
    """The relay's signing key (GRANT_LEDGER_SIGNING_KEY, a PEM file); refused when unset."""
    if proof.signing_key is None:
        raise KeyFileError(
            SIGNING_KEY_ENV_VAR,
            None,
            "unset: the relay signs every checkpoint; make a key with `grant-ledger keys init "
            "--out PATH` and set GRANT_LEDGER_SIGNING_KEY=PATH (readers trust its .pub.pem)",
        )
    return load_signing_key(proof.signing_key)


def trusted_keys(proof: ProofSettings) -> TrustedKeys:
    """The keys readers accept checkpoints from (GRANT_LEDGER_TRUSTED_KEYS); refused when unset."""
    if not proof.trusted_keys:
        raise KeyFileError(
            TRUSTED_KEYS_ENV_VAR,
            None,
            "unset: readers apply only what a checkpoint signed by a trusted key covers; set it "
            "to the ledger's public key (PEM files or a JWKS, comma-separated)",
        )
    return load_trusted_keys(proof.trusted_keys)

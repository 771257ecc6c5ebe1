"""The local development issuer: an ES256 key under .grant-ledger/auth/ and its JWKS.

`grant-ledger auth init` creates it, `grant-ledger auth token` mints tokens with it, and `serve`
without GRANT_LEDGER_AUTH_JWKS checks tokens against it. For development and the demo only: an
agency connects its own OIDC provider (README). The private key file is 0600 and refused when
anyone else may read it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from commands.http.auth.key_set import ES256
from commands.http.auth.settings import DEV_ISSUER, DEV_JWKS_FILE, DEV_KEY_FILE
from ledger.domain.errors import LedgerError

KEY_FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
THUMBPRINT_MEMBERS = ("crv", "kty", "x", "y")  # RFC 7638 for an EC key


class DevIssuer:
    """The local signing key and what is derived from it (kid, JWKS, tokens)."""

    def __init__(self, directory: Path, private_key: ec.EllipticCurvePrivateKey) -> None:
        assert isinstance(private_key.curve, ec.SECP256R1), private_key.curve.name
        self.directory = directory
        self._private_key = private_key
        self.public_jwk: dict[str, Any] = dict(
            ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        )
        self.kid = _thumbprint(self.public_jwk)

    @classmethod
    def ensure(cls, directory: Path) -> tuple[DevIssuer, bool]:
        """The issuer of `directory`, creating its key and JWKS when missing; (issuer, created)."""
        key_path = directory / DEV_KEY_FILE
        created = not key_path.exists()
        if created:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(DIRECTORY_MODE)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                # Created 0600 in one step: never readable by others, not even briefly.
                descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
            except FileExistsError:
                created = False  # another process (a second worker) made it first
            else:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(pem)
        issuer = cls.load(directory)
        jwks_path = directory / DEV_JWKS_FILE
        document = json.dumps(issuer.jwks(), indent=2) + "\n"
        if not jwks_path.exists() or jwks_path.read_text(encoding="utf-8") != document:
            jwks_path.write_text(document, encoding="utf-8")
        return issuer, created

    @classmethod
    def load(cls, directory: Path) -> DevIssuer:
        """The existing issuer; refused when there is none or its key file is not private."""
        key_path = directory / DEV_KEY_FILE
        try:
            mode = stat.S_IMODE(key_path.stat().st_mode)
        except FileNotFoundError:
            raise LedgerError(
                "auth", str(key_path), "no local signing key: run `grant-ledger auth init`"
            ) from None
        if mode & 0o077:
            raise LedgerError(
                "auth",
                str(key_path),
                f"the signing key is readable by others (mode {mode:04o}): chmod 600 it",
            )
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LedgerError("auth", str(key_path), "is not an EC (ES256) private key")
        return cls(directory, key)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (what `serve` checks tokens against)."""
        return {"keys": [{**self.public_jwk, "kid": self.kid, "alg": ES256, "use": "sig"}]}

    def mint(
        self,
        *,
        subject: str,
        roles: Iterable[str],
        agency: str | None,
        ttl_s: int,
        audience: str,
        roles_claim: str,
        now: float | None = None,
    ) -> str:
        """A signed ES256 token for the local issuer."""
        assert ttl_s > 0, ttl_s
        issued_at = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl_s,
            "jti": str(uuid.uuid4()),
        }
        if agency is not None:
            claims["agency"] = agency
        # The roles go where the server looks for them (a dotted path nests, as Keycloak's do).
        *parents, leaf = roles_claim.split(".")
        holder = claims
        for name in parents:
            holder = holder.setdefault(name, {})
        holder[leaf] = sorted(set(roles))
        return jwt.encode(claims, self._private_key, algorithm=ES256, headers={"kid": self.kid})


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 of the required members, sorted, no whitespace."""
    members = {name: public_jwk[name] for name in THUMBPRINT_MEMBERS}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

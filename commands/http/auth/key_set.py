"""The JWKS tokens are checked against: a file or an https URL, cached, and read again when a
token names a key id it does not hold (key rotation), at most once a minute."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from commands.http.auth.refusals import KeysUnavailable
from commands.http.auth.settings import HTTPS_PREFIX, JWKS_ENV_VAR

RS256 = "RS256"
ES256 = "ES256"
ALLOWED_ALGORITHMS = (RS256, ES256)
MIN_RSA_BITS = 2048
EC_CURVE = "P-256"
REFRESH_MIN_INTERVAL_S = 60.0
FETCH_TIMEOUT_S = 5.0
MAX_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key of the set, usable for exactly one algorithm."""

    kid: str | None
    algorithm: str
    key: Any  # a cryptography public key object


def parse_jwks(raw: bytes, where: str) -> list[VerificationKey]:
    """The RS256/ES256 signing keys of a JWKS document; other keys (oct, enc, weak) are left out."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeysUnavailable(JWKS_ENV_VAR, where, "is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable(JWKS_ENV_VAR, where, 'is not a JWKS: expected {"keys": [...]}')
    keys = [key for entry in entries if (key := _signing_key(entry)) is not None]
    if not keys:
        raise KeysUnavailable(JWKS_ENV_VAR, where, "holds no RS256 or ES256 signing key")
    return keys


def _signing_key(entry: Any) -> VerificationKey | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    kid = entry.get("kid")
    kid = kid if isinstance(kid, str) else None
    try:
        if entry.get("kty") == "RSA" and entry.get("alg", RS256) == RS256:
            rsa_key: Any = RSAAlgorithm.from_jwk(entry)
            public = rsa_key.public_key() if hasattr(rsa_key, "private_numbers") else rsa_key
            # A short RSA key can be factored: never trust it, whatever the provider says.
            return VerificationKey(kid, RS256, public) if public.key_size >= MIN_RSA_BITS else None
        if entry.get("kty") == "EC" and entry.get("crv") == EC_CURVE:
            if entry.get("alg", ES256) != ES256:
                return None
            ec_key: Any = ECAlgorithm.from_jwk(entry)
            public = ec_key.public_key() if hasattr(ec_key, "private_numbers") else ec_key
            return VerificationKey(kid, ES256, public)
    except (ValueError, TypeError, KeyError):
        # jwt.InvalidKeyError is a ValueError: a broken entry is left out, the rest still count.
        return None
    return None


def read_source(location: str) -> Callable[[], bytes]:
    """A reader of the JWKS at a file path or https URL."""
    if location.startswith(HTTPS_PREFIX):
        return lambda: _fetch(location)
    path = Path(location)
    return lambda: _read_file(path)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_JWKS_BYTES + 1)
    except OSError as error:
        raise KeysUnavailable(
            JWKS_ENV_VAR, str(path), f"cannot be read: {error.strerror}"
        ) from None


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            return bytes(response.read(MAX_JWKS_BYTES + 1))
    except (OSError, ValueError) as error:
        raise KeysUnavailable(JWKS_ENV_VAR, url, f"cannot be fetched: {error}") from None


class KeySet:
    """The cached keys; thread-safe (the API checks tokens on many threads)."""

    def __init__(
        self,
        source: Callable[[], bytes],
        where: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_min_interval_s: float = REFRESH_MIN_INTERVAL_S,
    ) -> None:
        self._source = source
        self.where = where
        self._clock = clock
        self._refresh_min_interval_s = refresh_min_interval_s
        self._lock = threading.Lock()
        self._keys: list[VerificationKey] | None = None
        self._loaded_at = 0.0
        self.loads = 0

    def key_for(self, kid: str | None, algorithm: str) -> VerificationKey | None:
        """The key for a token's `kid` and `alg`, reading the set again for an unknown kid."""
        assert algorithm in ALLOWED_ALGORITHMS, algorithm
        with self._lock:
            if self._keys is None:
                self._load()
            found = self._find(kid, algorithm)
            if found is None and self._clock() - self._loaded_at >= self._refresh_min_interval_s:
                try:
                    self._load()
                except KeysUnavailable:
                    # The provider is down: keep checking against the keys already held.
                    return None
                found = self._find(kid, algorithm)
            return found

    def load(self) -> None:
        """Read the set now (at start-up: a set that cannot work stops the service loudly)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        self._loaded_at = self._clock()
        self.loads += 1
        raw = self._source()
        if len(raw) > MAX_JWKS_BYTES:
            raise KeysUnavailable(JWKS_ENV_VAR, self.where, f"exceeds {MAX_JWKS_BYTES} bytes")
        self._keys = parse_jwks(raw, self.where)

    def _find(self, kid: str | None, algorithm: str) -> VerificationKey | None:
        assert self._keys is not None
        usable = [key for key in self._keys if key.algorithm == algorithm]
        if kid is None:
            # Without a kid only an unambiguous set will do.
            return usable[0] if len(usable) == 1 else None
        return next((key for key in usable if key.kid == kid), None)

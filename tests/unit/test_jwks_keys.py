"""The JWKS: only RS256/ES256 signing keys count; an unknown kid re-reads the set, at most once
a minute; a provider that is down leaves the keys already held in place."""

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from commands.http.auth.key_set import (
    ES256,
    REFRESH_MIN_INTERVAL_S,
    RS256,
    KeySet,
    parse_jwks,
)
from commands.http.auth.refusals import KeysUnavailable


def ec_jwk(kid: str) -> dict[str, Any]:
    """A fresh P-256 public key as a JWK."""
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**json.loads(ECAlgorithm.to_jwk(public)), "kid": kid, "use": "sig"}


def rsa_jwk(kid: str, bits: int = 2048) -> dict[str, Any]:
    """A fresh RSA public key as a JWK."""
    public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(public)), "kid": kid}


def document(*keys: dict[str, Any]) -> bytes:
    """A JWKS document."""
    return json.dumps({"keys": list(keys)}).encode()


def test_only_strong_signing_keys_for_rs256_and_es256_are_kept() -> None:
    """oct (HMAC) keys, encryption keys, short RSA keys and other curves are left out."""
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    keys = parse_jwks(
        document(
            ec_jwk("ec"),
            rsa_jwk("rsa"),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**rsa_jwk("enc"), "use": "enc"},
            rsa_jwk("short", bits=1024),
            {**json.loads(ECAlgorithm.to_jwk(p384)), "kid": "p384"},
            {**ec_jwk("mislabelled"), "alg": "HS256"},
        ),
        "test",
    )
    assert sorted((key.kid, key.algorithm) for key in keys) == [("ec", ES256), ("rsa", RS256)]


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"keys": "x"}', document()])
def test_a_document_that_is_no_usable_jwks_is_refused_by_name(raw: bytes) -> None:
    """KeysUnavailable names GRANT_LEDGER_AUTH_JWKS and where it came from."""
    with pytest.raises(KeysUnavailable) as refusal:
        parse_jwks(raw, "/etc/jwks.json")
    assert refusal.value.field == "GRANT_LEDGER_AUTH_JWKS"
    assert refusal.value.value == "/etc/jwks.json"


class Provider:
    """A JWKS source whose document can change and which can go down (the port's fake)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.down = False
        self.reads = 0

    def __call__(self) -> bytes:
        self.reads += 1
        if self.down:
            raise KeysUnavailable("GRANT_LEDGER_AUTH_JWKS", "https://idp", "cannot be fetched")
        return self.raw


def test_an_unknown_kid_rereads_the_set_at_most_once_a_minute() -> None:
    """Key rotation: the new kid is found on a re-read; a flood of unknown kids costs one read
    a minute, not one per request."""
    now = [1_000.0]
    provider = Provider(document(ec_jwk("old")))
    keys = KeySet(provider, "https://idp", clock=lambda: now[0])
    assert keys.key_for("old", ES256) is not None
    assert provider.reads == 1
    provider.raw = document(ec_jwk("old"), ec_jwk("new"))
    now[0] += REFRESH_MIN_INTERVAL_S / 2
    assert keys.key_for("new", ES256) is None  # too soon to ask the provider again
    assert keys.key_for("forged", ES256) is None
    assert provider.reads == 1
    now[0] += REFRESH_MIN_INTERVAL_S
    assert keys.key_for("new", ES256) is not None
    assert provider.reads == 2
    assert keys.key_for("new", RS256) is None  # a kid is bound to its key's algorithm


def test_a_provider_that_is_down_leaves_the_held_keys_in_place() -> None:
    """Tokens with known kids still verify while the provider is unreachable."""
    now = [0.0]
    provider = Provider(document(ec_jwk("k1")))
    keys = KeySet(provider, "https://idp", clock=lambda: now[0])
    keys.load()
    provider.down = True
    now[0] += 2 * REFRESH_MIN_INTERVAL_S
    assert keys.key_for("unknown", ES256) is None
    assert keys.key_for("k1", ES256) is not None


def test_without_a_kid_only_a_single_key_of_the_algorithm_will_do() -> None:
    """No kid and two candidate keys: no key (never a guess)."""
    single = KeySet(Provider(document(ec_jwk("a"), rsa_jwk("r"))), "x")
    assert single.key_for(None, ES256) is not None
    double = KeySet(Provider(document(ec_jwk("a"), ec_jwk("b"))), "x")
    assert double.key_for(None, ES256) is None

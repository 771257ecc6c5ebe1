"""Who speaks to the HTTP API: OIDC-style bearer JWTs verified against a JWKS, and the roles.

Layers, from the inside out: `roles` and `identity` (pure: who may do what, who a command is
recorded for), `settings` (GRANT_LEDGER_AUTH_*, read once at the entry point), `key_set` and
`verifier` (the JWKS and the token checks, on PyJWT), `dev_issuer` (the local signing key that
`grant-ledger auth` and the demo use), `guard` (the FastAPI dependency and the denial log).
"""

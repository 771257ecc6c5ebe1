"""The C extension, the one thing pyproject.toml cannot declare stably (its `ext-modules` table
is experimental): everything else about the package is in pyproject.toml.

ledger/audit/row_digests.c is the offline replay's hot loop: each event's canonical bytes joined
and hashed in one pass over the Arrow buffers, no Python object an event, by OpenSSL's libcrypto
(the library hashlib uses; SHA-NI where the CPU has it). It is required, not optional: without a
C compiler and OpenSSL's headers the install fails loudly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger.audit.row_digests",
            sources=["ledger/audit/row_digests.c"],
            libraries=["crypto"],
            extra_compile_args=["-Wextra"],
            optional=False,
        )
    ]
)

"""The C extensions, the one thing pyproject.toml cannot declare stably (its `ext-modules` table
is experimental): everything else about the package is in pyproject.toml.

projections/replay/posting_sums.c is the replay engine's hot loop (postings scatter-added into
dense bins, without the GIL). The other two are the offline replay's, over an export's Arrow
buffers with no Python object an event: ledger/audit/row_digests.c joins each event's canonical
bytes and hashes them by OpenSSL's libcrypto (the library hashlib uses; SHA-NI where the CPU has
it); projections/replay/data_members.c reads the amounts, years and recipient from `data`. All
are required, not optional: without a C compiler and OpenSSL's headers the install fails loudly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger.audit.row_digests",
            sources=["ledger/audit/row_digests.c"],
            depends=["ledger/audit/binary_column.h", "ledger/audit/sha256_ni.h"],
            libraries=["crypto"],
            extra_compile_args=["-Wextra"],
            optional=False,
        ),
        Extension(
            "projections.replay.data_members",
            sources=["projections/replay/data_members.c"],
            depends=["ledger/audit/binary_column.h"],
            include_dirs=["."],
            extra_compile_args=["-Wextra"],
            optional=False,
        ),
        Extension(
            "projections.replay.posting_sums",
            sources=["projections/replay/posting_sums.c"],
            extra_compile_args=["-O3", "-Wextra"],
            optional=False,
        ),
    ]
)

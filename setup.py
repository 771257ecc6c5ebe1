"""The C extensions, the one thing pyproject.toml cannot declare stably (its `ext-modules`
table is experimental): everything else about the package is in pyproject.toml.

projections/replay/posting_sums.c is the replay engine's hot loop (postings scatter-added into
dense bins, without the GIL). Required, not optional: without a C compiler the install fails
loudly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "projections.replay.posting_sums",
            sources=["projections/replay/posting_sums.c"],
            extra_compile_args=["-O3", "-Wextra"],
            optional=False,
        )
    ]
)

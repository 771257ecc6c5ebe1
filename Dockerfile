# grant-ledger: one image for every long-running process (relay, projector, ...);
# the subcommand is the container's command, e.g. `docker run grant-ledger:0.1.0 relay`.

# Build the wheel in its own stage, so the runtime image holds the installed package only
# (no source tree, no build tools).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The C extensions (setup.py: the replay engine's and the offline replay's hot loops, one
# linked to OpenSSL's libcrypto): a compiler and OpenSSL's headers here; the runtime image has
# libssl3 already (the image's own Python links it for ssl and hashlib).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY ledger ./ledger
COPY commands ./commands
COPY projections ./projections
COPY schemas ./schemas
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# psycopg (the PostgreSQL event store) is the pure-Python build: it loads libpq at run time.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*
# Reproducible: every dependency at the version and hash `make lock` pinned, nothing resolved
# at build time; then the project itself without dependencies.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
# A fixed, unprivileged uid: nothing in the container needs root, and volumes can be chowned to it.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/grant-ledger --create-home grant-ledger
USER 10001:10001
WORKDIR /var/lib/grant-ledger
ENTRYPOINT ["grant-ledger"]
CMD ["--help"]

# grant-ledger: `make demo` runs the main job on the embedded defaults, `make test` passes the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint bench soak schemas lock clean

# Re-installed when the C extensions change too (pip builds them in place).
$(INSTALLED): pyproject.toml setup.py $(shell find ledger projections -name "*.c")
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) -m commands.demo

test: $(INSTALLED)
	$(PY) -m pytest -q

lint: $(INSTALLED)
	$(PY) -m ruff check ledger commands projections schemas tests
	$(PY) -m ruff format --check ledger commands projections schemas tests
	$(PY) -m mypy

bench: $(INSTALLED)
	$(PY) -m pytest tests/benchmarks -o addopts="" --benchmark-only --benchmark-columns=min,median,mean,ops,rounds -q

# The VOPR-lite at length: 5 000 random runs of the whole pipeline on Tansu, 250 on Apache Kafka.
soak: $(INSTALLED)
	GRANT_LEDGER_VOPR_EXAMPLES=5000 $(PY) -m pytest tests/integration/test_vopr.py -q -p no:randomly

schemas: $(INSTALLED)
	$(PY) -m schemas.publish

# The runtime dependencies pinned with hashes for the image (Dockerfile installs from it).
lock: $(INSTALLED)
	$(PY) -m uv pip compile pyproject.toml --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes --quiet \
		--custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) .grant-ledger .pytest_cache .mypy_cache .ruff_cache

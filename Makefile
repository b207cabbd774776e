# The two commands in README.md: `make demo` and `make test`. Both build their own
# virtual environment first, so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint typecheck bench checks wheel-check suite

# Test processes (pytest-xdist): one per core by default.
TEST_WORKERS ?= auto

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/faregate demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The static checks, the wheel check and the suite run side by side (their output kept
# apart): much of each is waiting (subprocesses, servers, a browser), not computing.
test: $(STAMP)
	scripts/check-services
	$(MAKE) --no-print-directory --jobs=3 --output-sync=target checks wheel-check suite

checks: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo

wheel-check: $(STAMP)
	scripts/check-wheel

suite: $(STAMP)
	FAREGATE_TEST_POSTGRES_URL=$${FAREGATE_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
	FAREGATE_REQUIRE_POSTGRES=1 \
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --hypothesis-profile=ci

# The inner loop: SQLite only, no slow tests, no lint or wheel check; Hypothesis explores new
# examples every run. `make test` is the whole suite.
test-fast: $(STAMP)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not slow and not postgres"

# Every figure in docs/PERFORMANCE.md: each benchmark with its defaults, and the charges one
# again through the payments service.
bench: $(STAMP)
	for b in bench/*.py; do $(VENV)/bin/python $$b || exit 1; done
	$(VENV)/bin/python bench/charges.py --through-service

# Patron: `make run` serves it, `make test` tests it. Needs only python3 with pip.
#
# uv comes from PATH, or is installed once into .tools/ with pip (--target needs no venv and
# is allowed on Debian's externally managed Python). Interpreters are never downloaded.

export UV_PYTHON_DOWNLOADS := never

UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_BOOTSTRAP := $(filter .tools/bin/uv,$(UV))
comma := ,
PY := .venv/bin/python
PYTEST := $(PY) -m pytest
# Two processes: the suite runs well over a minute, where pytest-xdist pays on two cores.
PYTEST_ARGS ?= -q -n 2
# Browser tests spend most of their time waiting on the browser and the live server, so two
# workers (each with its own live server and database) pay on two cores too.
E2E_ARGS ?= -q -n 2
HOST ?= 127.0.0.1
PORT ?= 8000

# `make test-postgres`: the suite on PostgreSQL. DATABASE_URL switches settings to production
# mode, which needs SECRET_KEY and ALLOWED_HOSTS too; these defaults are for tests only.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/patron)
TEST_SECRET_KEY ?= $(or $(SECRET_KEY),test-only-secret-key-not-for-production-0123456789abcdef)
TEST_ALLOWED_HOSTS ?= $(or $(ALLOWED_HOSTS),localhost$(comma)127.0.0.1$(comma)testserver)

.PHONY: help run test test-postgres test-system e2e e2e-postgres lint openapi bench sync sync-dev clean-tools

help:
	@echo "make run            install and serve Patron at http://$(HOST):$(PORT) (Ctrl-C stops)"
	@echo "make test           run the test suite on SQLite (no browser tests)"
	@echo "make test-postgres  the same suite on PostgreSQL (TEST_DATABASE_URL=$(TEST_DATABASE_URL))"
	@echo "make test-system    scaled-out deployment and fault tests (nginx, own PostgreSQL and Redis)"
	@echo "make e2e            browser tests in Debian's Chromium"
	@echo "make e2e-postgres   the browser tests on PostgreSQL"
	@echo "make lint           ruff, mypy --strict, import-linter"
	@echo "make openapi        regenerate docs/openapi.json"
	@echo "make bench          run the benchmarks in bench/ (throwaway databases; see docs/performance.md)"

.tools/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --target .tools uv

sync: $(UV_BOOTSTRAP)
	$(UV) sync --frozen --no-dev --inexact

sync-dev: $(UV_BOOTSTRAP)
	$(UV) sync --frozen --group dev

run: sync
	.venv/bin/patron run --host $(HOST) --port $(PORT)

# SQLite even when the shell has a DATABASE_URL (test-postgres is the PostgreSQL run).
test: sync-dev
	env -u DATABASE_URL $(PYTEST) -m "not e2e and not system" $(PYTEST_ARGS)

# The whole-surface sweeps (permission matrix, CSRF, API fuzzing, hostile filters) run in
# `make test`; their logic does not depend on the database, and running them twice would cost
# CI minutes. POSTGRES_MARKERS="not e2e and not system" includes them here too.
POSTGRES_MARKERS ?= not e2e and not system and not sweep
test-postgres: sync-dev
	DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY="$(TEST_SECRET_KEY)" \
		ALLOWED_HOSTS="$(TEST_ALLOWED_HOSTS)" $(PYTEST) -m "$(POSTGRES_MARKERS)" $(PYTEST_ARGS)

# Two app servers behind nginx, two workers, the scheduler, and a PostgreSQL cluster and
# Redis servers of its own on free loopback ports (docs/deployment.md). One cluster serves
# every test, in order, so no xdist.
test-system: sync-dev
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
		echo "The system tests need nginx: apt-get install -y nginx"; exit 1; }
	$(PYTEST) -m system tests/system -q -p no:xdist

e2e: sync-dev
	@test -x /usr/bin/chromium || { \
		echo "Browser tests need Debian's Chromium: apt-get install -y chromium"; exit 1; }
	$(PYTEST) -m e2e tests/e2e $(E2E_ARGS)

# The browser tests against PostgreSQL. Production mode would make cookies HTTPS-only, and the
# test server speaks plain http, hence HTTPS=false.
e2e-postgres: sync-dev
	@test -x /usr/bin/chromium || { \
		echo "Browser tests need Debian's Chromium: apt-get install -y chromium"; exit 1; }
	HTTPS=false DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY="$(TEST_SECRET_KEY)" \
		ALLOWED_HOSTS="$(TEST_ALLOWED_HOSTS)" $(PYTEST) -m e2e tests/e2e $(E2E_ARGS)

lint: sync-dev
	.venv/bin/ruff check .
	.venv/bin/mypy patron config
	.venv/bin/lint-imports

openapi: sync-dev
	$(PY) manage.py openapi_schema --output docs/openapi.json

# Each script builds and drops its own database: SQLite in a temporary directory, or a test
# database beside DATABASE_URL when that is set. bench/summary.py runs them all (not the
# bench/_*.py helpers) and ends with one table of the RESULT lines they print.
bench: sync-dev
	@$(PY) bench/summary.py

clean-tools:
	rm -rf .tools

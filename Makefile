# visitdesk: `make dev` runs everything locally, `make test` runs every test on real Kafka and PostgreSQL.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST_ARGS ?=

.PHONY: dev test lint env services-up faults bench clean

env: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen
	@touch $@

services-up: env
	deploy/kafka.sh start
	deploy/postgres.sh start
	deploy/keycloak.sh start
	deploy/browser.sh

# `make dev KEYCLOAK=1`: staff sign in at the local Keycloak (deploy/keycloak.sh) instead of the development page.
dev: env
	$(UV) run --frozen visitdesk dev $(if $(KEYCLOAK),--keycloak)

# Lint and format checks first: they take seconds and fail before the slow part.
lint: env
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

test: lint services-up
	$(UV) run --frozen pytest $(PYTEST_ARGS)

# Benchmarks against the stack's own limits (bench/README.md); BENCH_ARGS="--quick" for a smoke run.
bench: services-up
	$(UV) run --frozen python -m bench $(BENCH_ARGS)

# Every fault (40 requests each) on a private PostgreSQL and broker, then the 60 s load run; fails on loss or
# duplicates. FAULTS_ARGS="--faults 'visits SIGKILL + restart' --requests 10 --no-load" narrows it.
FAULTS_ARGS ?=
faults: env
	$(UV) run --frozen python -m tests.faults $(FAULTS_ARGS)

clean:
	-deploy/kafka.sh stop
	-deploy/postgres.sh stop
	-deploy/keycloak.sh stop
	rm -rf var .venv .pytest_cache

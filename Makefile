# The project's vocabulary: install, demo, test, check, bench.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test check lint typecheck audit bench chaos schemas k8s asyncapi-check lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(VENV)/.installed  ## create .venv and install the project with its pinned dependencies

# Re-install only when the dependencies change (the project itself is installed editable).
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: install  ## onboard the shipped sample tables end to end, with no services needed
	$(BIN)/dataflow-worker demo

test: install  ## the whole test suite (integration tests use the local RabbitMQ, PostgreSQL, MariaDB)
	$(BIN)/pytest

check: install lint typecheck test  ## lint, strict types and tests

lint: install  ## ruff, ruff format, and the layering contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

audit: install  ## known vulnerabilities of the pinned dependencies (pip-audit; .ci/audit-exceptions)
	$(BIN)/python .ci/audit.py

bench: install  ## benchmarks (numbers, not pass/fail): bench/results/*.json, plots, docs/benchmarks.md
	$(BIN)/python -m bench
	$(BIN)/python -m bench.report

chaos: install  ## the chaos run at full size: 300 requests, 2 workers on PostgreSQL, faults, kills, cuts (docs/chaos.md)
	$(BIN)/python -m tests.chaos --requests 300 --workers 2 --kills 5 --window-kills 2 --cuts 2 \
	  --log-dir $(or $(CHAOS_LOGS),chaos-logs)

schemas: install  ## regenerate the committed JSON Schemas and AsyncAPI document from the models
	$(BIN)/python -m messages.export

k8s: install  ## regenerate the PrometheusRule, dashboard ConfigMap and compose scrape config in deploy/
	$(BIN)/python -m deploy.generate

asyncapi-check:  ## validate messages/asyncapi.yaml with AsyncAPI's official parser (needs node, npm)
	.ci/validate-asyncapi

lock:  ## re-pin every dependency into constraints.txt from a fresh environment
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install --quiet -e '.[dev]' \
	  && .lockvenv/bin/pip freeze --exclude-editable | grep -v '^dataflow-worker' > constraints.txt; rm -rf .lockvenv

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache dataflow-state.db* chaos-logs

# The project's interface: `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SCAN_VENV := .venv-scan
# The Lambda runtime is python3.13: use pyenv's 3.13 when the machine has it, else python3.
PYTHON_313 := $(shell PYENV_VERSION=3.13.0 python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)
BASE_PYTHON := $(if $(PYTHON_313),$(PYTHON_313),python3)
PYTHON_313_DIR := $(if $(PYTHON_313),$(dir $(PYTHON_313)),)
PORT ?= 3000

.PHONY: venv sam-venv scan-venv run test lint unit integration fuzz bench openapi format build clean

$(VENV)/.installed: requirements-dev.txt shared/requirements.txt
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

$(SAM_VENV)/.installed: requirements-sam.txt
	$(BASE_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

sam-venv: $(SAM_VENV)/.installed

$(SCAN_VENV)/.installed: requirements-scan.txt
	$(BASE_PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/pip install --quiet -r requirements-scan.txt
	touch $@

scan-venv: $(SCAN_VENV)/.installed

# mutmut on the security modules against their unit tests (docs/testing.md): most of an
# hour, so neither in CI nor in `make test`. MUTATE=shared/portal_accounts/links.py runs
# one module (or several, space-separated). The score per module and the survivors:
# .mutation/report.md; fails below 90% on any module.
MUTATION_VENV := .venv-mutation
.PHONY: mutation-venv mutation

$(MUTATION_VENV)/.installed: requirements-mutation.txt requirements-dev.txt shared/requirements.txt
	$(BASE_PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/pip install --quiet -r requirements-mutation.txt
	touch $@

mutation-venv: $(MUTATION_VENV)/.installed

mutation: mutation-venv
	$(MUTATION_VENV)/bin/python -m mutation $(MUTATE)

run: venv
	PORT=$(PORT) $(PY) -m local

lint: venv sam-venv scan-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region eu-south-1
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	$(SCAN_VENV)/bin/bandit --quiet --recursive --severity-level medium shared functions local bench $(wildcard fuzz)

# A real `sam build` (no Docker: the layer's shared/Makefile takes aarch64 wheels and needs
# only python3.13 on PATH), then a check of what the layer holds.
build: sam-venv
	PATH="$(PYTHON_313_DIR):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml
	@test -n "$$(find .aws-sam/build/DomainLayer -name '*aarch64*.so' | head -1)" || { echo "layer has no aarch64 wheels"; exit 1; }
	@test -z "$$(find .aws-sam/build/DomainLayer -name '*x86_64*.so' | head -1)" || { echo "layer has x86_64 wheels"; exit 1; }
	@test -n "$$(find .aws-sam/build/DomainLayer/python/portal_accounts -name '*.cpython-313.pyc' | head -1)" || { echo "layer has no bytecode"; exit 1; }
	@echo "sam build: layer has aarch64 wheels only, and its bytecode"

unit: venv
	$(VENV)/bin/pytest -q tests/unit

integration: venv
	$(VENV)/bin/pytest -q tests/integration

# schemathesis against the local stack, from docs/openapi.json (docs/fuzzing.md): bounded
# and deterministic by default, FUZZ_LONG=1 for a longer randomised run.
fuzz: venv
	$(PY) -m fuzz

test: lint build
	$(VENV)/bin/pytest -q tests
	$(PY) -m fuzz

bench: venv
	$(PY) -m bench

openapi: venv
	PYTHONPATH=shared $(PY) -m local.openapi --write docs/openapi.json

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SCAN_VENV) .aws-sam .pytest_cache .ruff_cache

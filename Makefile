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
PORT ?= 3000

.PHONY: venv sam-venv scan-venv run test lint unit integration fuzz bench openapi format build deploy clean reindex dlq redrive lock

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
# hour, so neither in CI nor in `make test`. MUTATE=shared/portal_accounts/credentials/links.py runs
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

# The customer pages' browser tests: Debian's Chromium (installed when missing; apt waits
# for a dpkg lock another install holds) and axe-core from npm, pinned by its lock file.
CHROMIUM ?= /usr/bin/chromium
AXE := tests/browser/node_modules/axe-core/axe.min.js
.PHONY: browser-deps screenshots

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $@

browser-deps: $(AXE)
	@test -x $(CHROMIUM) || { \
		echo "browser tests: installing Debian's chromium"; \
		APT="apt-get -o DPkg::Lock::Timeout=600 -y -qq"; \
		$$APT install chromium >/dev/null 2>&1 || { $$APT update && $$APT install chromium; }; \
	} || { echo "browser tests: $(CHROMIUM) is missing and could not be installed (apt-get install chromium, as root)" >&2; exit 1; }

# The pictures of docs/pages.md: every screen, in both languages.
screenshots: venv browser-deps
	PAGES_SCREENSHOTS=docs/pages $(VENV)/bin/pytest -q tests/integration/test_pages_browser.py

# checkov cannot read template.yaml's Fn::ForEach loops (with one among the resources it
# scans the functions without SAM's Globals, and still passes): it scans the template as
# CloudFormation hands it to SAM, the loops written out by local/foreach.py, the reader
# the local stack and the tests use. cfn-lint and sam validate read the loops themselves.
EXPANDED_TEMPLATE := .aws-sam/lint/template.yaml

lint: venv sam-venv scan-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml edge/template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region eu-south-1
	$(PY) -m local.foreach template.yaml $(EXPANDED_TEMPLATE)
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --config-file .checkov.yaml --quiet --compact --skip-download --framework cloudformation -f $(EXPANDED_TEMPLATE) -f edge/template.yaml
	$(SCAN_VENV)/bin/bandit --quiet --recursive --severity-level medium shared functions local bench ops $(wildcard fuzz)

# shared/requirements.lock, what the layer's build installs (shared/Makefile): the packages
# of shared/requirements.txt and all their dependencies, pinned, with the hashes of their
# files. Resolved for Lambda, not this machine: aarch64 Linux (manylinux2014, as the build
# asks pip for), Python 3.13, wheels only. Run it after editing shared/requirements.txt and
# commit both; pins still allowed are kept (`ARGS=--upgrade` moves every dependency on).
lock: venv
	cd shared && ../$(VENV)/bin/uv pip compile requirements.txt --quiet --generate-hashes \
		--python-platform aarch64-manylinux2014 --python-version 3.13 --only-binary :all: \
		--custom-compile-command "make lock" --output-file requirements.lock $(ARGS)

# A real `sam build`, without Docker: the layer (shared/Makefile) and the functions
# (functions/Makefile) are makefile builds that need no python3.13, only a pip for the
# layer's aarch64 wheels. With python3.13 (the runtime) they also ship bytecode; without
# it the build says so once, and `make deploy` refuses it unless ALLOW_NO_BYTECODE=1.
# Each kind of build keeps its own cache, so one never reuses the other's layer.
BUILD_KIND := $(if $(PYTHON_313),bytecode,no-bytecode)
NO_BYTECODE_NOTE := no python3.13 on this machine: the layer and the functions are built without bytecode, so on Lambda every cold start compiles them (about 1.6x the import time: docs/performance.md, "Bytecode"). Install Python 3.13 for a deployable build.

build: sam-venv
	$(if $(PYTHON_313),,@echo "make build: $(NO_BYTECODE_NOTE)" >&2)
	LAMBDA_PYTHON="$(PYTHON_313)" PIP_PYTHON="$(abspath $(SAM_VENV)/bin/python)" \
		$(SAM_VENV)/bin/sam build --language-extensions --template template.yaml --cache-dir .aws-sam/cache-$(BUILD_KIND)
	@test -n "$$(find .aws-sam/build/DomainLayer -name '*aarch64*.so' | head -1)" || { echo "layer has no aarch64 wheels"; exit 1; }
	@test -z "$$(find .aws-sam/build/DomainLayer -name '*x86_64*.so' | head -1)" || { echo "layer has x86_64 wheels"; exit 1; }
ifneq ($(PYTHON_313),)
	@test -n "$$(find .aws-sam/build/DomainLayer/python/portal_accounts -name '*.cpython-313.pyc' | head -1)" || { echo "layer has no bytecode"; exit 1; }
	@test -n "$$(find .aws-sam/build/AuthLoginFunction -name '*.cpython-313.pyc' | head -1)" || { echo "functions have no bytecode"; exit 1; }
	@echo "sam build: layer has aarch64 wheels only, layer and functions their bytecode"
else
	@test -z "$$(find .aws-sam/build -name '*.pyc' | head -1)" || { echo "bytecode of another Python in the build"; exit 1; }
	@echo "sam build: layer has aarch64 wheels only; no bytecode (see above)"
endif

# `sam deploy` of the last `make build` (DEPLOY_ARGS=--guided the first time). A build
# without bytecode would cost every cold start: refused unless ALLOW_NO_BYTECODE=1.
deploy: sam-venv
	@test -f .aws-sam/build/template.yaml || { echo "make deploy: run make build first" >&2; exit 1; }
	@test -n "$$(find .aws-sam/build/DomainLayer/python/portal_accounts -name '*.cpython-313.pyc' | head -1)" \
		|| [ "$(ALLOW_NO_BYTECODE)" = 1 ] \
		|| { echo "make deploy: the build has no python3.13 bytecode (built without python3.13): every cold start would compile the layer. Build on a machine with Python 3.13, or deploy anyway with ALLOW_NO_BYTECODE=1." >&2; exit 1; }
	$(SAM_VENV)/bin/sam deploy $(DEPLOY_ARGS)

# Check and repair the search index and status shards of a deployed stack from its
# accounts table (README, "Reindex"): AWS credentials, STACK=<stack name> (its outputs
# name the tables; needs the aws CLI) or ACCOUNTS_TABLE and SEARCH_TABLE, and ARGS for
# the module's options (--check, --all, --start-after, --segment/--segments).
reindex: venv
	@set -euo pipefail; \
	if [ -n "$(STACK)" ]; then \
		output() { aws cloudformation describe-stacks --stack-name "$(STACK)" \
			--query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text; }; \
		export ACCOUNTS_TABLE="$$(output AccountsTableName)" SEARCH_TABLE="$$(output SearchTableName)"; \
	fi; \
	test -n "$${ACCOUNTS_TABLE:-}" -a -n "$${SEARCH_TABLE:-}" \
		|| { echo "make reindex: give STACK=<stack>, or ACCOUNTS_TABLE and SEARCH_TABLE" >&2; exit 2; }; \
	PYTHONPATH=shared $(PY) -m portal_accounts.search.reindex $(ARGS)

# The dead-letter queues of a deployed stack (README, "Dead letters"; docs/runbook.md): AWS
# credentials, STACK=<stack name> (the queues and EmailEventsFunction are read from its
# resources; needs the aws CLI) or EMAIL_DEAD_LETTER_QUEUE_URL,
# INDEX_REPAIR_DEAD_LETTER_QUEUE_URL, IMPORT_DEAD_LETTER_QUEUE_URL,
# EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL (and EMAIL_EVENTS_FUNCTION), and ARGS for the module's
# options (--queue email|index-repair|import|email-events, --show-addresses, --json; for
# redrive --rate, --no-wait, --local, --force). `make dlq` lists without consuming and
# prints no message body; `make redrive` moves the messages back to their source queues.
DLQ_FROM_STACK = if [ -n "$(STACK)" ]; then \
		physical() { aws cloudformation describe-stack-resource --stack-name "$(STACK)" \
			--logical-resource-id "$$1" --query StackResourceDetail.PhysicalResourceId --output text; }; \
		export EMAIL_DEAD_LETTER_QUEUE_URL="$$(physical EmailDeadLetterQueue)" \
			INDEX_REPAIR_DEAD_LETTER_QUEUE_URL="$$(physical IndexRepairDeadLetterQueue)" \
			IMPORT_DEAD_LETTER_QUEUE_URL="$$(physical ImportDeadLetterQueue)" \
			EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL="$$(physical EmailEventsDeadLetterQueue)" \
			EMAIL_EVENTS_FUNCTION="$$(physical EmailEventsFunction)"; \
	fi

dlq: venv
	@set -euo pipefail; $(DLQ_FROM_STACK); \
	PYTHONPATH=shared $(PY) -m ops.dead_letters peek $(ARGS)

redrive: venv
	@set -euo pipefail; $(DLQ_FROM_STACK); \
	PYTHONPATH=shared $(PY) -m ops.dead_letters redrive $(ARGS)

unit: venv
	$(VENV)/bin/pytest -q tests/unit

integration: venv browser-deps
	$(VENV)/bin/pytest -q tests/integration

# schemathesis against the local stack, from docs/openapi.json (docs/fuzzing.md): bounded
# and deterministic by default, FUZZ_LONG=1 for a longer randomised run.
fuzz: venv
	$(PY) -m fuzz

test: lint build browser-deps
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
	rm -rf $(VENV) $(SAM_VENV) $(SCAN_VENV) $(MUTATION_VENV) .aws-sam .mutation .pytest_cache .ruff_cache

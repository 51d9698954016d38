# Space bridge: `make run` starts the local stack and the bridge; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run stop test test-unit php-lint bench lint clean

$(STAMP): pyproject.toml
	bash deploy/dev/bootstrap.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

## run: set up and start WordPress, MediaWiki, IRC and the bridge; Ctrl-C stops them all
run: $(STAMP)
	bash deploy/dev/run.sh

## stop: stop everything `make run` started
stop:
	bash deploy/dev/run.sh stop

## test: every test, unit and integration, against the real local stack and databases
test: $(STAMP)
	bash deploy/dev/php-lint.sh
	bash deploy/dev/postgres.sh
	$(BIN)/lint-imports
	$(BIN)/pytest

## test-unit: the tests that need no local stack (still SQLite and PostgreSQL)
test-unit: $(STAMP)
	bash deploy/dev/php-lint.sh
	bash deploy/dev/postgres.sh
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not stack and not converge"

## php-lint: `php -l` on every PHP file git knows of (installs php-cli when missing)
php-lint:
	bash deploy/dev/php-lint.sh

## bench: print the benchmark figures
bench: $(STAMP)
	bash deploy/dev/postgres.sh
	$(BIN)/python bench/outbox.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The two commands of the README, `make run` and `make test`; and `make stack`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed

.PHONY: run stack test lint install screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The test suite's Node packages (package-lock.json): axe-core, which the browser tests inject.
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The console on http://127.0.0.1:8000 with the embedded IAM backend and a worker.
run: $(STAMP)
	$(BIN)/python -m iamconsole.run

# The production stack of docker-compose.yml without Docker (iamconsole/stack.py): Redis, PostgreSQL,
# a moto server as AWS, 2 Celery workers and gunicorn. Options: make stack STACK_ARGS="--workers 3".
stack: $(STAMP)
	$(BIN)/python -m iamconsole.stack $(STACK_ARGS)

# Lint, format check and types (configured in pyproject.toml), on the whole tree.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The whole suite, lint and types first. scripts/test-env installs Chromium if missing, finds or
# starts Redis (and PostgreSQL when one answers) and prints the variables the tests read.
test: lint $(NODE_STAMP)
	@env_lines="$$(scripts/test-env)" || exit 1; eval "$$env_lines"; \
	  echo "Tests use REDIS_URL=$$REDIS_URL DATABASE_URL=$${DATABASE_URL:-sqlite (in memory)}"; \
	  $(BIN)/pytest $(PYTEST_ARGS)

# The README's pictures, docs/img/*.png, from the browser tests' pages (scripts/screenshots).
screenshots: $(STAMP) $(NODE_STAMP)
	scripts/screenshots

# Colloquy: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests run with DEBUG off, as in production; they need some key.
TEST_ENV := DEBUG=0 SECRET_KEY=colloquy-test-only-key

.PHONY: run test lint format bench install clean

$(BIN)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Colloquy needs Python 3.11 or newer: set PYTHON=python3.11")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py load_demo
	@echo ""
	@echo "Colloquy is starting at http://$(HOST):$(PORT)/  (stop it with Ctrl-C)"
	@echo "Log in as alice (owner of the demo study) with the password shown above (colloquy-demo unless you changed it)."
	@echo ""
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The suite runs on every core (pytest-xdist; each worker has its own test database).
test: install
	$(TEST_ENV) $(BIN)/pytest -n auto

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(TEST_ENV) $(BIN)/python bench/import_bench.py
	$(TEST_ENV) $(BIN)/python bench/coding_bench.py
	$(TEST_ENV) $(BIN)/python bench/reliability_bench.py
	$(TEST_ENV) $(BIN)/python bench/export_bench.py
	$(TEST_ENV) $(BIN)/python bench/qdpx_bench.py
	$(TEST_ENV) $(BIN)/python bench/machine_bench.py
	$(TEST_ENV) $(BIN)/python bench/startup_bench.py
	$(TEST_ENV) $(BIN)/python bench/web_import_bench.py
	@case "$$DATABASE_URL" in postgres*) $(TEST_ENV) $(BIN)/python bench/load.py ;; \
	  *) echo "bench/load.py needs DATABASE_URL=postgres://... (a disposable database): skipped" ;; esac

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test crash-test test-sqlite test-postgres clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: serve the demo district on the embedded SQLite store at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/careledger serve --demo --host 127.0.0.1 --port 8000

## test: the whole suite, on SQLite and (when reachable) PostgreSQL
test: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow" $(PYTEST_ARGS)

## crash-test: the slow tests, alone: stops the local PostgreSQL for a moment (needs root)
crash-test: $(STAMP)
	$(BIN)/pytest -p no:xdist -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite

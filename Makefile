PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint screenshots crash-test test-sqlite test-postgres clean browser bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: serve the demo district on the embedded SQLite store at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/careledger serve --demo --host 127.0.0.1 --port 8000

## browser: Debian's chromium (and CJK fonts for readable screenshots) for the browser tests,
## installed with apt-get when missing and run as root; otherwise those tests skip (fail in CI)
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y chromium fonts-noto-cjk || { apt-get update && apt-get install -y chromium fonts-noto-cjk; }; \
	fi

## lint: the layers' import contracts (import-linter), ruff, mypy on domain/ and application/,
## and vulture for dead code (config in pyproject.toml; vulture_whitelist.py names what frameworks call)
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture

## test: lint, then the whole suite, on SQLite and (when reachable) PostgreSQL, and the dashboard in chromium
test: $(STAMP) lint browser
	$(BIN)/pytest -n 2 -m "not slow" $(PYTEST_ARGS)

## screenshots: the browser tests alone, writing docs/screenshots/*.png (the only target that does)
screenshots: $(STAMP) browser
	CARELEDGER_SCREENSHOTS=$(CURDIR)/docs/screenshots CARELEDGER_REQUIRE_BROWSER=1 \
		$(BIN)/pytest -p no:xdist -m "not slow" tests/browser $(PYTEST_ARGS)

## crash-test: bench/crash_test.py (2 workers + runner on a scratch database; SIGKILLs and a
## PostgreSQL restart in immediate mode; < 10 min), then the slow tests, alone (needs root):
## among them the whole PostgreSQL server stopped for 8 s (CARELEDGER_SERVER_PAUSE_SECONDS, ≤ 30)
## and 1,000 reads of personal fields (CARELEDGER_PERSONAL_READS)
crash-test: $(STAMP)
	$(BIN)/python bench/crash_test.py $(CRASH_ARGS)
	$(BIN)/pytest -p no:xdist -m slow $(PYTEST_ARGS)

## bench: every benchmark against its baseline into docs/BENCHMARKS.md (10 min here; BENCH_ARGS=--large for 10^6, hours)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite

# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install bench clean

demo: install            ## set up, seed the demo bank on SQLite (once), open the console chat as RM001
	$(BIN)/rmbot seed --if-empty
	$(BIN)/rmbot chat --as RM001

test: install            ## set up and run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

bench: install           ## benchmarks on a 1,000,000-customer bank (SQLite and PostgreSQL); see BENCHMARKS.md
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) rmbot.db rmbot.db-wal rmbot.db-shm

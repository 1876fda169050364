# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install bench soak clean

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
	$(BIN)/pip install -q -e ".[dev,bench]"
	$(BIN)/python -m bench.run

soak: install            ## long reliability runs: 10,000 fuzzed commands, a 30 s database outage, 20 SIGKILL rounds
	RMBOT_FUZZ_EXAMPLES=10000 RMBOT_OUTAGE_SECONDS=30 RMBOT_KILL_ROUNDS=20 $(BIN)/pytest tests/reliability

clean:
	rm -rf $(VENV) rmbot.db rmbot.db-wal rmbot.db-shm

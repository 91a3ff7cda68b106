# Two commands on a fresh Debian machine with Python 3.11+:
#   make serve   set up a virtualenv and start flowcache on its defaults (127.0.0.1:3000)
#   make test    set up (virtualenv, redis-server for differential tests) and run the tests
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test bench system-deps clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# redis-server and redis-cli/redis-benchmark are the oracle and the client tools in the tests.
system-deps:
	@if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server redis-tools >/dev/null; \
	fi

serve: $(BIN)/.installed
	$(BIN)/flowcache serve

test: $(BIN)/.installed system-deps
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed system-deps
	$(BIN)/python bench/flow_bench.py
	$(BIN)/python bench/net_bench.py
	$(BIN)/python bench/server_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis

# LiveFlow: the two commands of the README, and the steps behind them.
#   make demo   - install what is missing, start Kafka + Redis + the worker + demo traffic, show where to look
#   make test   - install what is missing, then ruff, mypy, lint-imports and the whole pytest suite (real Kafka
#                 and Redis)
# and for development:
#   make unit   - the same checks, then only tests/unit (no Kafka broker; a few tests start their own
#                 redis-server or run promtool/amtool)
#   make format - ruff format, then ruff check --fix, over liveflow agents tests bench deploy
#   make generate - rewrite what follows from the declarations (schemas, docs tables, dashboards)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_TOOLS := gcc:gcc openssl:openssl redis-server:redis-server kcat:kcat promtool:prometheus prometheus:prometheus \
	prometheus-alertmanager:prometheus-alertmanager tmux:tmux java:openjdk-17-jre-headless mvn:maven \
	chromium:chromium
DEMO_ARGS ?=

.PHONY: demo test unit format generate install system lint stop clean

demo: install
	$(BIN)/liveflow demo $(DEMO_ARGS)

test: install lint
	$(BIN)/pytest

unit: install lint
	$(BIN)/pytest tests/unit

format: install
	$(BIN)/ruff format liveflow agents tests bench deploy
	$(BIN)/ruff check --fix liveflow agents tests bench deploy

generate: install
	$(BIN)/python -m liveflow.tools.generate

lint: install
	$(BIN)/ruff check liveflow agents tests bench deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

install: system $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py liveflow/_idset.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages for the real parts the tests and the demo start (no Docker engine is needed), and what
# building liveflow/_idset.c needs (gcc, Python's headers).
system:
	@missing=""; for pair in $(SYSTEM_TOOLS); do tool=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$tool >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	$(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
		|| missing="$$missing python3-dev"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "missing system packages:$$missing (run as root: apt-get install -y$$missing)"; exit 1; fi; \
		echo "installing:$$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

stop:
	-$(BIN)/liveflow dev down

clean: stop
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

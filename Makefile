# Developer entry points. CI runs `make test` through .ci/run, so both check the same things.
#
#   make demo   create .venv if needed, install, show a result computed once then loaded
#   make test   create .venv if needed, install, run ruff, mypy and the whole pytest suite
#
# VENV and PYTHON can be overridden: `make test VENV=/tmp/fresh-venv PYTHON=python3.12`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched after a successful install; pyproject.toml being newer triggers a re-install.
STAMP := $(VENV)/.installed

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint typecheck pytest quick fmt docs clean distclean

help:
	@echo "make demo       compute a slow function once, then load it from the cache in a new process"
	@echo "make test       ruff, ruff format --check, mypy and the whole pytest suite (what CI runs)"
	@echo "make quick      pytest without the slow end-to-end tests"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make typecheck  mypy (strict on checkpointing and ipython_ext)"
	@echo "make fmt        format and auto-fix with ruff"
	@echo "make docs       build the mkdocs site into site/"
	@echo "make clean      remove caches and build artefacts (distclean also removes $(VENV))"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "checkpointing needs Python >= 3.11; '$(PYTHON)' is older (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

$(VENV): $(STAMP)
venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Prerequisites run in order; `make -k test` (as CI does) reports every failing step.
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects no test; make treats that as a failure like any other.
pytest: $(STAMP)
	$(BIN)/python -m pytest -q

quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	$(BIN)/mkdocs build --strict

clean:
	rm -rf build dist site .mypy_cache .ruff_cache .pytest_cache .checkpointing
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

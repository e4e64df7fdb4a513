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
.PHONY: help venv demo test lint typecheck pytest quick test-pythons test-oldest bench bench-smoke fmt docs clean distclean

help:
	@echo "make demo       compute a slow function once, then load it from the cache in a new process"
	@echo "make test       ruff, ruff format --check, mypy and the whole pytest suite (what CI runs)"
	@echo "make quick      pytest without the slow end-to-end tests"
	@echo "make test-pythons  the core suites on Python 3.12 and 3.13 (in .venv-3.x)"
	@echo "make test-oldest   value hashing and end-to-end suites with pandas 2 and numpy 1 (.venv-oldest)"
	@echo "make bench      the benchmark suite beside joblib.Memory (BENCH_ARGS=--big for 1 GB cases)"
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

# The core library supports Python 3.11 to 3.13; CI checks the other two versions here.
# Interpreters: python3.12/python3.13 on PATH, else pyenv's. Missing ones fail the target.
PROPERTY_TEST_DEPS := "hypothesis>=6.100" "cloudpickle>=3" "matplotlib>=3.7"
# The cache and store contracts run on the shared stores too (Redis, moto's S3 server).
SHARE_TEST_DEPS := "fsspec>=2024.3" "s3fs>=2024.3" "redis>=5" "moto[server]>=5"
CORE_TESTS := tests/unit tests/test_e2e_rules.py tests/test_cache_contract.py \
	tests/test_pickle_file_cache.py tests/test_bad_input.py tests/test_seed_examples.py \
	tests/test_e2e_scope.py tests/test_e2e_modules.py tests/test_e2e_values.py \
	tests/test_e2e_shipping.py tests/test_e2e_wrapped.py tests/test_store_contract.py \
	tests/test_trust.py
test-pythons:
	@set -e; for v in 3.12 3.13; do \
		py=$$(command -v python$$v 2>/dev/null && python$$v -V >/dev/null 2>&1 && echo python$$v \
			|| ls -d $$(pyenv root 2>/dev/null || echo /nonexistent)/versions/$$v*/bin/python 2>/dev/null | tail -n 1); \
		py=$$(echo "$$py" | tail -n 1); \
		if [ -z "$$py" ]; then echo "no Python $$v interpreter found"; exit 1; fi; \
		echo "== Python $$v ($$py)"; \
		test -x .venv-$$v/bin/python || $$py -m venv .venv-$$v; \
		.venv-$$v/bin/python -m pip install --quiet -e . numpy pandas pytest $(PROPERTY_TEST_DEPS) \
			$(SHARE_TEST_DEPS); \
		.venv-$$v/bin/python -m pytest -q -o addopts="" -o filterwarnings=error $(CORE_TESTS); \
	done

# Value hashing against the oldest supported library majors: pandas 2 and numpy 1 (numpy 1
# has no wheels for Python 3.13 and later: there numpy stays current). `make test` covers
# the current majors (pandas 3, numpy 2).
OLDEST_TESTS := tests/unit/test_hashing.py tests/unit/test_value_tokens.py \
	tests/unit/test_hash_properties.py tests/test_e2e_values.py tests/test_e2e_shipping.py \
	tests/test_e2e_rules.py
test-oldest:
	@set -e; \
	test -x .venv-oldest/bin/python || $(PYTHON) -m venv .venv-oldest; \
	numpy=$$(.venv-oldest/bin/python -c 'import sys; print("numpy<2" if sys.version_info < (3, 13) else "numpy")'); \
	.venv-oldest/bin/python -m pip install --quiet -e . "$$numpy" "pandas<3" pytest $(PROPERTY_TEST_DEPS); \
	.venv-oldest/bin/python -c 'import numpy, pandas; print("== numpy", numpy.__version__, "pandas", pandas.__version__)'; \
	.venv-oldest/bin/python -m pytest -q -o addopts="" -o filterwarnings=error $(OLDEST_TESTS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.remote

# Tiny sizes, no thresholds: keeps the benchmarks runnable (CI runs it).
bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks --smoke

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
	rm -rf $(VENV) .venv-3.12 .venv-3.13 .venv-oldest

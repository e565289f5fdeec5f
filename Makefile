# mdkoop: two-command quick start.
#   make demo   set up .venv (if needed) and run the whole job on the bundled CLN025 sample
#   make test   set up .venv (if needed) and run the test suite
# Set-up installs torch==2.13.0 FIRST and pinned (a CPU wheel on machines without CUDA), then the package.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
TORCH_VERSION ?= 2.13.0
STAMP   = $(VENV)/.mdkoop-installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench lint docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[dev,openmm]" "torch==$(TORCH_VERSION)"
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/mdkoop demo --out demo_run --overwrite

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/run_all.py

docs: setup
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "API reference and guides: docs/_build/html/index.html"

lint: setup
	$(VENV)/bin/ruff check mdkoop tests benchmarks

clean:
	rm -rf $(VENV) demo_run .pytest_cache docs/_build docs/generated

# Each target bootstraps .venv from nothing: every package pinned, with its hash, by
# requirements.lock (written by .ci/lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint typecheck clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# bytecode now, as pip writes it for an installed package (an editable install gets none,
	# and where PYTHONDONTWRITEBYTECODE is set every relay command would compile its modules)
	$(BIN)/python -m compileall -q runtime components
	$(BIN)/python -m pip check
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/relay demo

bench: $(STAMP)
	$(BIN)/python -m bench

lint: typecheck
	$(BIN)/ruff format --check runtime components tests bench
	$(BIN)/ruff check runtime components tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=tests/support $(BIN)/mypy --explicit-package-bases tests bench

clean:
	rm -rf $(VENV) build *.egg-info

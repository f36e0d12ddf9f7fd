# The two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e lint bench demo messages clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/involvim run

test: $(INSTALLED)
	$(BIN)/python -m pytest

# One kind of test at a time (the folder under tests/ decides the marker).
test-unit: $(INSTALLED)
	$(BIN)/python -m pytest -m unit

test-integration: $(INSTALLED)
	$(BIN)/python -m pytest -m integration

test-e2e: $(INSTALLED)
	$(BIN)/python -m pytest -m e2e

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services involvim bench

bench: $(INSTALLED)
	$(BIN)/python -m bench

demo: $(INSTALLED)
	$(BIN)/involvim demo

# Refresh the page catalogues after changing texts in services/registry/entrypoints/web or its templates.
CATALOGUES := services/registry/locale
messages: $(INSTALLED)
	$(BIN)/pybabel extract --no-location --sort-output --project="INVOLVIM Match" --copyright-holder="the INVOLVIM Match authors" -F babel.cfg -k N_ -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --width 100 -i $(CATALOGUES)/messages.pot -d $(CATALOGUES)

clean:
	rm -rf $(VENV) .data

# Two commands from a fresh clone; each sets up what it needs first.
#   make run      the assistant on embedded defaults: live voice with a microphone, else a
#                 simulated bench drive; always a simulated car on a virtual CAN bus
#   make test     the test suite
#   make console  the text console (type requests, watch the car)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run console test setup setup-dev clean

run: $(VENV)/.runtime
	$(BIN)/car-assistant start

console: $(VENV)/.runtime
	$(BIN)/car-assistant console

test: $(VENV)/.dev
	$(BIN)/python -m pytest

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

# torch==2.13.0 first: it is the CPU build on local disk; anything else that
# asks for torch is then satisfied instead of pulling a CUDA build.
$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train,bench]'
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

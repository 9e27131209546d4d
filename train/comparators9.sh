#!/bin/bash
# #19's stage-9-matched fixed-rate comparators, one after another (`make train-fixed-comparator9-all`): for each
# budget, a finished run (its model.json says final) is skipped, an unfinished one resumed from its train_state.pt,
# a missing one started; each finished run is then evaluated on Kodak once. Safe to stop at any time and rerun.
# On a CPU without bf16 the runs train in fp32 (a resume records the switch as precision_segments; TRAINING.md).
set -euo pipefail
DATA=${DATA:-../shared/data}
BIN=${BIN:-.venv/bin}
RATIOS=${RATIOS:-"1/16 1/32 1/64 1/12 1/8 1/6 1/4"}
if "$BIN/python" -c "from jscc_rt.train.precision import cpu_bf16_supported as f; raise SystemExit(0 if f() else 1)"; then
  PREC=""
else
  PREC="--precision fp32"
fi
for R in $RATIOS; do
  out="train/checkpoints/fixed-comparator9-${R/\//_}"
  res="docs/results/fixed_comparator9_${R/\//_}"
  final=$("$BIN/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['meta'].get('final', False))" \
          "$out/model.json" 2>/dev/null || echo False)
  if [ "$final" != "True" ]; then
    if [ -f "$out/train_state.pt" ]; then flags="--resume --allow-precision-change $PREC"; else flags="$PREC"; fi
    echo "== comparator $R: make train-fixed-comparator9 RATIO=$R RESUME=\"$flags\""
    make --no-print-directory train-fixed-comparator9 RATIO="$R" DATA="$DATA" RESUME="$flags"
  fi
  if [ ! -f "$res/results.json" ]; then
    echo "== comparator $R: evaluation"
    "$BIN/jscc-rt" eval jscc "$out/model.pt" --data "$DATA/kodak" --snr 0 10 20 --channel awgn --out "$res" --no-progress
  fi
done

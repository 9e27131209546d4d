#!/bin/bash
# #19's stage-9-matched fixed-rate comparators, one after another (`make train-fixed-comparator9-all`): for each
# budget, a finished run (its model.json says final) is skipped, an unfinished one resumed from its train_state.pt,
# a missing one started; each finished run is then evaluated on Kodak once, and `jscc-rt eval compare` writes the
# table against the shipped rate-adaptive model so far (docs/results/fixed_comparator9_compare.md). Safe to stop at
# any time and rerun; `pkill -TERM -f "jscc-rt train"` checkpoints the run in flight after its current step and
# ends the queue (the trainer exits 143, so this script stops before evaluating anything).
# On a CPU without bf16 the runs train in fp32 (a resume records the switch as precision_segments; TRAINING.md).
set -euo pipefail
DATA=${DATA:-../shared/data}
BIN=${BIN:-.venv/bin}
# the two ends of the range first, where a shared model is likeliest to fall behind (1/16, begun first, between)
RATIOS=${RATIOS:-"1/4 1/16 1/64 1/32 1/12 1/8 1/6"}
bf16=$("$BIN/python" -c "from jscc_rt.train.precision import cpu_bf16_supported as f; print('yes' if f() else 'no')")
if [ "$bf16" = yes ]; then PREC=""; prec=bf16; else PREC="--precision fp32"; prec=fp32; fi
echo "== this CPU has bf16: $bf16, so the runs train in $prec (a resume under the other precision records the switch)"
# The rate-adaptive model against every comparator whose evaluation is of its current weights (the others listed as
# pending); a failure is reported and does not stop the queue.
compare_so_far() {
  local fixed=() r d o
  for r in 1/64 1/32 1/16 1/12 1/8 1/6 1/4; do
    d="docs/results/fixed_comparator9_${r/\//_}"; o="train/checkpoints/fixed-comparator9-${r/\//_}"
    if [ -f "$d/results.json" ] && [ -f "$o/model.pt" ] && \
       [ "$(cat "$d/model.sha256" 2>/dev/null)" = "$(sha256sum < "$o/model.pt" | cut -d' ' -f1)" ]; then
      fixed+=("$d/results.json")
    fi
  done
  [ ${#fixed[@]} -gt 0 ] || return 0
  "$BIN/jscc-rt" eval compare --adaptive docs/results/kodak_ra_ratios --fixed "${fixed[@]}" \
    --out docs/results/fixed_comparator9_compare.md || echo "== eval compare failed: table not updated" >&2
}
for R in $RATIOS; do
  out="train/checkpoints/fixed-comparator9-${R/\//_}"
  res="docs/results/fixed_comparator9_${R/\//_}"
  final=$("$BIN/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['meta'].get('final', False))" \
          "$out/model.json" 2>/dev/null || echo False)
  if [ "$final" != "True" ]; then
    if [ -f "$out/train_state.pt" ]; then flags="--resume --allow-precision-change${PREC:+ $PREC}"; else flags="$PREC"; fi
    echo "== comparator $R: make train-fixed-comparator9 RATIO=$R RESUME=\"$flags\""
    make --no-print-directory train-fixed-comparator9 RATIO="$R" DATA="$DATA" RESUME="$flags"
  fi
  sha=$(sha256sum < "$out/model.pt" | cut -d' ' -f1)
  if [ ! -f "$res/results.json" ] || [ "$(cat "$res/model.sha256" 2>/dev/null)" != "$sha" ]; then
    echo "== comparator $R: evaluation (weights sha256 $sha)"  # missing, or of other weights (a retrained run)
    "$BIN/jscc-rt" eval jscc "$out/model.pt" --data "$DATA/kodak" --snr 0 10 20 --channel awgn --out "$res" --no-progress
    echo "$sha" > "$res/model.sha256"
    compare_so_far
  fi
done
compare_so_far

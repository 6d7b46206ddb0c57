#!/usr/bin/env bash
# Run every experiment of conf/experiment/ at its default size and copy one figure of each to
# docs/figures/<name>.png (the figures of the README section "Questions ecosim answers").
#
#   experiments/run_all.sh                            # all experiments, under results/experiments/
#   experiments/run_all.sh cac_squeeze data_pooling   # only these
#   OUT=/tmp/runs experiments/run_all.sh              # run directories elsewhere
#   ECOSIM_ARGS="customers.n=100000" experiments/run_all.sh   # extra overrides for every run
#   ECOSIM_ARGS="robustness=true" experiments/run_all.sh  # and the tornado and map of each
#                                                        # headline (docs/figures/<name>_tornado.png, _map.png)
#
# Each run writes RUN_DIR/report.md and RUN_DIR/figures/*.png (ecosim.report); the figure copied
# is the experiment's choice in FIGURE below if the run has it, else the first that exists of
# uplift_waterfall, kpi_bars, customers_and_revenue. Runs take minutes each on a 2-core laptop
# (experiments/<name>.md gives the measured times); the first also compiles the Numba kernels.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ECOSIM="${ECOSIM:-$ROOT/.venv/bin/ecosim}"
OUT="${OUT:-$ROOT/results/experiments}"
FIGURES="$ROOT/docs/figures"
mkdir -p "$OUT" "$FIGURES"

# The figure that answers each question best (a file stem in RUN_DIR/figures/): the headline
# figure (uplift_waterfall: its title is the verdict on the claim) unless named here.
declare -A FIGURE=(
  [cx_price_resistance]=passable_rise
  [marketplace_tipping]=tipping
  [segment_capacity]=segment_potential
)

# Experiments whose figure is drawn after the run from its tables (a command on RUN_DIR).
declare -A AFTER=(
  [cx_price_resistance]="$ROOT/.venv/bin/python $ROOT/experiments/cx_price_resistance_figure.py"
  [marketplace_tipping]="$ROOT/.venv/bin/python $ROOT/experiments/marketplace_tipping_figure.py"
  [segment_capacity]="$ROOT/.venv/bin/python -m ecosim.report.segments --arm ecosystem"
)

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for path in "$ROOT"/conf/experiment/*.yaml; do names+=("$(basename "$path" .yaml)"); done
fi

for name in "${names[@]}"; do
  run_dir="$OUT/$name"
  echo "== $name -> $run_dir"
  start=$(date +%s)
  # shellcheck disable=SC2086  # ECOSIM_ARGS is a list of overrides
  "$ECOSIM" "experiment=$name" "hydra.run.dir=$run_dir" ${ECOSIM_ARGS:-}
  echo "   $(( $(date +%s) - start )) s"
  if [ -n "${AFTER[$name]:-}" ]; then
    # shellcheck disable=SC2086  # the command is a word list
    ${AFTER[$name]} "$run_dir" > "$run_dir/after.txt"
  fi
  figure=""
  for stem in "${FIGURE[$name]:-}" uplift_waterfall kpi_bars customers_and_revenue; do
    if [ -n "$stem" ] && [ -f "$run_dir/figures/$stem.png" ]; then
      figure="$run_dir/figures/$stem.png"
      break
    fi
  done
  for stem in robustness_tornado robustness_map; do  # with ECOSIM_ARGS="robustness=true"
    if [ -f "$run_dir/figures/$stem.png" ]; then
      cp "$run_dir/figures/$stem.png" "$FIGURES/${name}_${stem#robustness_}.png"
      echo "   figure: docs/figures/${name}_${stem#robustness_}.png"
    fi
  done
  if [ -n "$figure" ]; then
    cp "$figure" "$FIGURES/$name.png"
    echo "   figure: docs/figures/$name.png (from figures/$(basename "$figure"))"
  else
    echo "   no figure in $run_dir/figures" >&2
  fi
done

#!/usr/bin/env bash
# Runs the shared harness for the floor and pigw in turn, N times each (order alternating), then
# prints its summary table: median (min-max) per figure over the runs.
# Usage: bench/shared_runs.sh [N]   (default 10; about 25 s per pair on 2 cores)
# Env: SHARED_BENCH (default /tmp/shared-bench, a set-up copy of /work/shared/bench, see bench/README.md),
#      PIGW_PYZ (default <repo>/dist/pigw.pyz).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "${SHARED_BENCH:-/tmp/shared-bench}"
export PIGW_PYZ="${PIGW_PYZ:-$here/../dist/pigw.pyz}"
files=()
for i in $(seq "${1:-10}"); do
  order=(floor pigw)
  (( i % 2 )) || order=(pigw floor)
  for target in "${order[@]}"; do
    if [[ $target == floor ]]; then
      files+=("$(./run.sh floor 2>/dev/null | tail -1)")
    else
      files+=("$(PIGW_CMD="$here/pigw_cmd.sh" PIGW_MODEL=mock/mock-c20-d0 PIGW_PACED_MODEL=mock/mock-c20-d5 \
        ./run.sh pigw 2>/dev/null | tail -1)")
    fi
  done
done
.venv/bin/python summarize.py --targets floor,pigw "${files[@]}"

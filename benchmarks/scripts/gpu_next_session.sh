#!/usr/bin/env bash
# Prepared for the next session lent a GPU (15 minutes in all): what issues #3 and #5 still need from one.
#  1. nasi at b = 64 with 1, 4 and 8 processes sharing the GPU (#3's target: 5 ms per cell; one process was
#     launch-bound at 17.4 ms on an H200), written as results/gpu/speed_nasi_b64_w{1,4,8}.csv, and one process
#     with networks constructed from scratch (speed_nasi_b64_w1_fresh.csv: what recycling saves on a GPU host);
#  1b. nasi stacked, K = 16 and 64 cells per computation (speed_nasi_b64_stack{16,64}.csv), and the scores of 64
#     cells stacked and per cell (nasi_stack64.csv, nasi_per_cell.csv: they must agree to float rounding);
#  2. ntk_trace, ntk_cond and te_nas_log_ratio per cell on the GPU (never measured there), speed_ntk_b64.csv, and ntk_trace
#     and ntk_cond stacked (speed_ntk_{trace,cond}_b64_stack.csv) when a stacked smoke test (smoke_stacked.csv) comes out ok;
#  3. ntk_trace on the 1,000 cells of benchmarks/nb201_ntk_trace.toml until the deadline (stacked by 16 when the
#     smoke test passed), continuing from the
#     committed export (cells already scored on CPU are not redone); back here:
#     nasi-harness merge results/nb201_ntk_trace/results.sqlite <files_at>/nb201_ntk_trace.sqlite
#     then nasi-harness export results/nb201_ntk_trace/results.sqlite --out results/nb201_ntk_trace/scores.csv.gz;
#     once it covers all 1,000 cells, compare --against reference reads it instead of ntk_trace@b16 (#21).
# On the device machine, from the repository root, with cifar-10-batches-py under DATA; files land in OUT. One
# command must end within 600 s: BUDGET (default 540) caps the whole script, step 3 gets whatever is left.
#   DATA=<dir> OUT=<dir> bash benchmarks/scripts/gpu_next_session.sh
# Data: the device gets the working tree, not ../shared; here, `mkdir -p .devdata && cp -r
# ../shared/data/cifar-10-batches-py .devdata/` (git-ignored, 30 MB) and pass carry [".devdata"] to the device run.
# A dry run of the script's logic on a CPU (tiny sizes):
#   DEVICE=cpu SMOKE_CELLS=3 SPEED_CELLS=sample:4:0 NTK_CELLS=3 NTK_PROXIES=ntk_cond BUDGET=200 DATA=../shared/data \
#   STACK_CHECK_CELLS=sample:4:1 STACK_WARMUP=2 SMOKE_BATCH=2 NTK_BATCH=2 STACK=2 \
#   bash benchmarks/scripts/gpu_next_session.sh
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg NASI_HARNESS_DATA=${DATA:-$PWD/.devdata}
O=${OUT:-/tmp/out}; PY=${PY:-python3}; B=${BUDGET:-540}; W=${WORKERS:-4}; DEV=${DEVICE:-cuda}
SMOKE_CELLS=${SMOKE_CELLS:-0,11}; NTK_PROXIES=${NTK_PROXIES:-ntk_trace,ntk_cond,te_nas_log_ratio}; SPEED_CELLS=${SPEED_CELLS:-sample:200:0}; NTK_CELLS=${NTK_CELLS:-sample:10:0}
mkdir -p "$O"
left() { echo $(( B - SECONDS )); }
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$O/gpu.txt" 2>&1
timeout 120 $PY -m harness score nb201 --proxies "nasi,$NTK_PROXIES" --cells "$SMOKE_CELLS" --device "$DEV" \
  --out "$O/smoke.csv" || exit 3
# Stacked scoring has only run on a CPU: use it for ntk_trace below only if nasi and ntk_trace come out ok stacked.
timeout 120 $PY -m harness score nb201 --proxies nasi,ntk_trace --cells "$SMOKE_CELLS" --device "$DEV" --stack 2 \
  --batch-size "${SMOKE_BATCH:-64}" --out "$O/smoke_stacked.csv"
NTK_STACK=1
[ "$(grep -c ',ok,' "$O/smoke_stacked.csv" 2>/dev/null)" = "$(( 2 * $(echo "$SMOKE_CELLS" | tr ',' '\n' | wc -l) ))" ] \
  && NTK_STACK=${STACK:-16}
echo "ntk_trace study stack: $NTK_STACK"
for w in 1 4 8; do
  timeout 90 $PY benchmarks/scripts/speed.py --proxies nasi --cells "$SPEED_CELLS" --device "$DEV" --workers "$w" \
    --out "$O/speed_nasi_b64_w$w.csv"
done
timeout 60 $PY benchmarks/scripts/speed.py --proxies nasi --cells "$SPEED_CELLS" --device "$DEV" --fresh-networks \
  --out "$O/speed_nasi_b64_w1_fresh.csv"
for k in 16 64; do
  timeout 60 $PY benchmarks/scripts/speed.py --proxies nasi --cells "$SPEED_CELLS" --device "$DEV" --stack "$k" --warmup "${STACK_WARMUP:-$k}" \
    --out "$O/speed_nasi_b64_stack$k.csv"
done
timeout 60 $PY -m harness score nb201 --proxies nasi --cells "${STACK_CHECK_CELLS:-sample:64:1}" --data gaussian \
  --labels random --device "$DEV" --stack 64 --out "$O/nasi_stack64.csv"
timeout 60 $PY -m harness score nb201 --proxies nasi --cells "${STACK_CHECK_CELLS:-sample:64:1}" --data gaussian \
  --labels random --device "$DEV" --out "$O/nasi_per_cell.csv"
timeout 120 $PY benchmarks/scripts/speed.py --proxies "$NTK_PROXIES" --cells "$NTK_CELLS" --warmup 1 \
  --device "$DEV" --batch-size "${NTK_BATCH:-64}" --out "$O/speed_ntk_b64.csv"
[ "$NTK_STACK" -gt 1 ] && timeout 120 $PY benchmarks/scripts/speed.py --proxies ntk_trace --cells "$NTK_CELLS" --warmup 2 \
  --device "$DEV" --batch-size "${NTK_BATCH:-64}" --stack "$NTK_STACK" --out "$O/speed_ntk_trace_b64_stack.csv"
[ "$NTK_STACK" -gt 1 ] && timeout 60 $PY benchmarks/scripts/speed.py --proxies ntk_cond --cells "$NTK_CELLS" --warmup 2 \
  --device "$DEV" --batch-size "${NTK_BATCH:-64}" --stack "$NTK_STACK" --out "$O/speed_ntk_cond_b64_stack.csv"
echo "time left for ntk_trace: $(left) s"
if [ -f results/nb201_ntk_trace/scores.csv.gz ]; then
  $PY -m harness merge "$O/nb201_ntk_trace.sqlite" results/nb201_ntk_trace/scores.csv.gz
fi
if [ "$(left)" -gt 40 ]; then
  timeout -s INT -k 15 "$(( $(left) - 25 ))" $PY -m harness run benchmarks/nb201_ntk_trace.toml --device "$DEV" \
    --workers "$W" --stack "$NTK_STACK" --no-report --store "$O/nb201_ntk_trace.sqlite"
fi
[ -f "$O/nb201_ntk_trace.sqlite" ] && $PY - "$O/nb201_ntk_trace.sqlite" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(c.execute("select device, status, count(*), avg(seconds) from results group by device, status").fetchall())
PY
[ -f "$O/nasi_stack64.csv" ] && [ -f "$O/nasi_per_cell.csv" ] && $PY - "$O/nasi_stack64.csv" "$O/nasi_per_cell.csv" <<'PY'
import sys, pandas as pd
a, b = (pd.read_csv(p).set_index("index").score for p in sys.argv[1:3])
rel = ((a - b).abs() / b.abs()).dropna()
print(f"stacked vs per-cell nasi on {len(rel)} cells: max relative difference {rel.max():.2e}, median {rel.median():.2e}")
PY

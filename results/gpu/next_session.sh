#!/usr/bin/env bash
# Prepared for the next session lent a GPU (15 minutes in all): what issues #3 and #5 still need from one.
#  1. nasi at b = 64 with 1, 4 and 8 processes sharing the GPU (#3's target: 5 ms per cell; one process was
#     launch-bound at 17.4 ms on an H200), written as results/gpu/speed_nasi_b64_w{1,4,8}.csv;
#  2. ntk_trace, ntk_cond and te_nas per cell on the GPU (never measured there), speed_ntk_b64.csv;
#  3. ntk_trace on the 1,000 cells of benchmarks/nb201_ntk_trace.toml until the deadline, continuing from the
#     committed export (cells already scored on CPU are not redone); back here:
#     nasi-harness merge results/nb201_ntk_trace/results.sqlite <files_at>/nb201_ntk_trace.sqlite
# On the device machine, from the repository root, with cifar-10-batches-py under DATA; files land in OUT:
#   DATA=<dir> OUT=<dir> DEADLINE=300 bash results/gpu/next_session.sh
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg NASI_HARNESS_DATA=${DATA:-$PWD/.devdata}
O=${OUT:-/tmp/out}; PY=${PY:-python3}; D=${DEADLINE:-300}; W=${WORKERS:-4}
mkdir -p "$O"
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$O/gpu.txt" 2>&1
timeout 180 $PY -m harness score nb201 --proxies nasi,ntk_trace,ntk_cond,te_nas --cells 0,11 --device cuda \
  --out "$O/smoke.csv" || exit 3
for w in 1 4 8; do
  timeout 150 $PY benchmarks/speed.py --proxies nasi --cells sample:400:0 --device cuda --workers "$w" \
    --out "$O/speed_nasi_b64_w$w.csv"
done
timeout 200 $PY benchmarks/speed.py --proxies ntk_trace,ntk_cond,te_nas --cells sample:10:0 --warmup 1 \
  --device cuda --out "$O/speed_ntk_b64.csv"
if [ -f results/nb201_ntk_trace/scores.csv.gz ]; then
  $PY -m harness merge "$O/nb201_ntk_trace.sqlite" results/nb201_ntk_trace/scores.csv.gz
fi
timeout -s INT -k 30 "$D" $PY -m harness run benchmarks/nb201_ntk_trace.toml --device cuda --workers "$W" \
  --no-report --store "$O/nb201_ntk_trace.sqlite"
$PY - "$O/nb201_ntk_trace.sqlite" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(c.execute("select status, count(*), avg(seconds) from results group by status").fetchall())
PY

#!/usr/bin/env bash
# The one GPU session behind results/gpu/ (an NVIDIA H200 lent for 15 minutes): speed figures, then every proxy on
# 1,000 NB201 cells, the agnosticism study (500 cells) and four NASI search traces, all at once on one GPU.
# Studies are resumable and were spread over processes with `run --part K/N` (one SQLite store per study, WAL,
# concurrent writers); agnosticism runs one process per (data mode, label mode) so every mode advances together.
#   DATA=<dir holding cifar-10-batches-py> W=<work dir> DEADLINE=<seconds> bash benchmarks/scripts/evidence/results/gpu_run_h200.sh
# Second call (the stores of the first copied into W, so the studies resume; ntk/te_nas units that failed under
# channels_last are retried): SEARCH_SEEDS= SKIP_SPEED=1 PARTS=8 AGN_PROXIES='["nasi", ...]' DEADLINE=220
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg
export NASI_HARNESS_DATA=${DATA:-$PWD/.devdata} NASI_HARNESS_CACHE=${W:-/tmp/w}/cache
W=${W:-/tmp/w}; DEV=${DEV:-cuda}; D=${DEADLINE:-330}; PARTS=${PARTS:-6}; STEPS=${STEPS:-400}
SPEED_CELLS=${SPEED_CELLS:-200}; ALL_CELLS=${ALL_CELLS:-20}
PY=${PY:-python3}
mkdir -p "$W/logs"
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$W/logs/gpu.txt" 2>&1
$PY -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())" | tee "$W/logs/env.txt"

# 0. smoke: fail fast if the harness does not run here
timeout 120 $PY -m harness score nb201 --proxies "${SMOKE_PROXIES:-nasi,ntk_trace,te_nas_log_ratio}" --cells 0,11 --device "$DEV" \
  --out "$W/smoke.csv" > "$W/logs/smoke.log" 2>&1 || { cat "$W/logs/smoke.log"; exit 3; }
cat "$W/smoke.csv"

# 1. speed, alone on the GPU
if [ -z "${SKIP_SPEED:-}" ]; then
timeout 90 $PY benchmarks/scripts/speed.py --proxies nasi --cells "sample:$SPEED_CELLS:0" --batch-size 64 --device "$DEV" \
  --out "$W/speed_nasi_b64.csv" 2>&1 | tee "$W/logs/speed_nasi.log"
timeout 60 $PY benchmarks/scripts/speed.py --proxies nasi --cells "sample:$SPEED_CELLS:0" --batch-size 64 --device "$DEV" \
  --layout contiguous --out "$W/speed_nasi_b64_contiguous.csv" 2>&1 | tee "$W/logs/speed_nasi_contig.log"
timeout 120 $PY benchmarks/scripts/speed.py --proxies all --cells "sample:$ALL_CELLS:0" --batch-size 64 --device "$DEV" \
  --out "$W/speed_all_b64.csv" 2>&1 | tee "$W/logs/speed_all.log"
fi

# 2. the studies and the search traces, concurrently, each stopped with SIGINT at the deadline (resumable)
stop() { timeout -s INT -k 30 "$D" "$@"; }
for k in $(seq 0 $((PARTS - 1))); do
  stop $PY -m harness run benchmarks/nb201_proxies.toml --store "$W/nb201_proxies.sqlite" --device "$DEV" \
    --part "$k/$PARTS" --no-report > "$W/logs/proxies_$k.log" 2>&1 &
done
for d in real gaussian uniform repeat; do
  for l in true random shuffled; do
    sed -e "s/^proxies = .*/proxies = ${AGN_PROXIES:-\"all\"}/" -e "s/^data_modes = .*/data_modes = [\"$d\"]/" -e "s/^label_modes = .*/label_modes = [\"$l\"]/" \
      benchmarks/agnosticism.toml > "$W/agn_${d}_$l.toml"
    stop $PY -m harness run "$W/agn_${d}_$l.toml" --store "$W/agnosticism.sqlite" --device "$DEV" --no-report \
      > "$W/logs/agn_${d}_$l.log" 2>&1 &
  done
done
for seeds in ${SEARCH_SEEDS-0-1 2-3}; do
  stop $PY benchmarks/scripts/nasi_traces.py --seeds "$seeds" --steps "$STEPS" --device "$DEV" --out "$W/raw_$DEV" \
    > "$W/logs/search_$seeds.log" 2>&1 &
done
wait
for f in "$W"/logs/*.log; do echo "== $f"; tail -n 4 "$f"; done

# 3. pack: checkpoint the WAL into each store, compact, compress
$PY - "$W" <<'PY'
import sqlite3, sys, pathlib
for p in pathlib.Path(sys.argv[1]).glob("*.sqlite"):
    c = sqlite3.connect(p); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.execute("VACUUM")
    print(p.name, c.execute("select status, count(*) from results group by status").fetchall()); c.close()
PY

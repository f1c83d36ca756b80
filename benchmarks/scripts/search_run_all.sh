#!/usr/bin/env bash
# The exact commands behind results/search/README.md, in the order they were run (one heavy job at a time).
# From the repository root:  bash benchmarks/scripts/search_run_all.sh
# OMP_NUM_THREADS=1: on the shared 2-core machine, 2 threads under contention ran NASI steps ~7x slower.
set -euo pipefail
export NASI_HARNESS_DATA="${NASI_HARNESS_DATA:-../shared/data}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH=.
PY=.venv/bin/python
RAW=results/search/raw
mkdir -p "$RAW"

# 1. NASI: one trace of T=100 steps per seed on the benchmark supernet (C=16, N=5), batch 64 of real CIFAR-10,
#    true labels; the fix-variant nu estimate (mean score of 50 random cells) is part of it.
$PY benchmarks/scripts/nasi_traces.py --seeds 0-3 --steps 100

# 2. Sample-and-pick baselines (NASWOT's algorithm) with the harness's proxies, CIFAR-10 batch of 64.
for n in 10 100 1000; do
  $PY -m harness search sample --n "$n" --proxies nwot --seeds 0-3 --device cpu --json > "$RAW/sample_nwot_n$n.json"
done
for n in 10 100; do
  $PY -m harness search sample --n "$n" --proxies nasi --seeds 0-3 --device cpu --json > "$RAW/sample_nasi_n$n.json"
  $PY -m harness search sample --n "$n" --proxies nwot,nasi --seeds 0-3 --device cpu --json \
    > "$RAW/sample_nwot+nasi_n$n.json"
done

# 3. NASI: extend each trace to 4T = 400 steps (the first 100 are kept).
$PY benchmarks/scripts/nasi_traces.py --seeds 0-3 --steps 400

# 3b. NASI with the cells' BatchNorms without gamma/beta (the DARTS / NB201 search-code supernet convention), T = 100.
$PY benchmarks/scripts/nasi_traces.py --seeds 0-3 --steps 100 --no-cell-bn-affine

# 3c. Seeds 4-7 at T = 100, traced after the DARTS-derivation rows ('none' never chosen, nu = 100) had been read off
#     seeds 0-3: a check on seeds those rows were not seen on. ('none' never chosen needs no trace of its own.)
$PY benchmarks/scripts/nasi_traces.py --seeds 4-7 --steps 100

# 3d. Seeds 4-7 extended to 4T = 400 steps: the held-out check of NASI-FIX(4T) / NASI-ADA(4T) with the DARTS-space
#     settings (the first 100 steps, and so every T row, are unchanged). Two processes of one thread each.
$PY benchmarks/scripts/nasi_traces.py --seeds 5,4 --steps 400 &
$PY benchmarks/scripts/nasi_traces.py --seeds 7,6 --steps 400
wait

# 3e. Seeds 8-11 at 4T, traced after NASI-FIX(4T) with mu = 1, nu = 100, 'none' never chosen had been read off seeds
#     0-7 and fixed (results/search/README.md, "Held-out check"): its held-out check.
$PY benchmarks/scripts/nasi_traces.py --seeds 8,10 --steps 400 &
$PY benchmarks/scripts/nasi_traces.py --seeds 9,11 --steps 400
wait

# 4. The table (and every run into results/search/results.sqlite, study nb201-search).
$PY benchmarks/scripts/search_table.py > results/search/table.md

#!/usr/bin/env bash
# The reference runs behind results/nb201_nasi_full, results/nb201_proxies_cpu and results/agnosticism_nasi, as
# run on this project's 2-core CPU machine: three single-threaded processes, parts of one store each (--part).
# From the repository root, with the data beside it:  bash results/run_cpu_reference.sh
set -euo pipefail
export NASI_HARNESS_DATA="${NASI_HARNESS_DATA:-../shared/data}" OMP_NUM_THREADS=1
H=(nasi-harness run --no-report)
( "${H[@]}" benchmarks/nb201_nasi_full.toml && "${H[@]}" benchmarks/agnosticism_nasi.toml --part 0/2 ) &
( "${H[@]}" benchmarks/nb201_proxies_cpu.toml --part 0/2 && "${H[@]}" benchmarks/agnosticism_nasi.toml --part 1/2 ) &
"${H[@]}" benchmarks/nb201_proxies_cpu.toml --part 1/2 &
wait
# Tables, figures and the Markdown report of each, from its store alone:
for s in nb201_nasi_full nb201_proxies_cpu agnosticism_nasi; do
  nasi-harness report "results/$s/results.sqlite" --out "results/$s/report"
done

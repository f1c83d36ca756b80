#!/usr/bin/env bash
# The reference runs behind results/nb201_nasi_full, results/nb201_nasi_gaussian, results/nb201_proxies_cpu,
# results/agnosticism_nasi, results/nb201_ntk_cpu, results/nb201_datafree and results/nb201_ntk_trace_b16, as run
# on this project's 2-core CPU
# machine: each study on two single-threaded worker processes (--workers 2; earlier runs used two --part
# processes, which is equivalent).
# Resumable: rerun after a kill and only missing units are scored. A study whose store is absent (a fresh clone:
# stores are not committed) starts from its committed export (`nasi-harness merge`), so only what the export lacks
# is scored and the reports and tables are rebuilt in minutes; FROM_SCRATCH=1 scores everything again.
# From the repository root, with the data beside it:  bash benchmarks/scripts/run_cpu_reference.sh
set -euo pipefail
export NASI_HARNESS_DATA="${NASI_HARNESS_DATA:-../shared/data}"
WORKERS="${WORKERS:-2}"
STUDIES="nb201_proxies_cpu agnosticism_nasi nb201_nasi_gaussian nb201_nasi_full nb201_ntk_cpu nb201_datafree
nb201_ntk_trace_b16"
for s in $STUDIES; do
  if [ -z "${FROM_SCRATCH:-}" ] && [ ! -f "results/$s/results.sqlite" ] && [ -f "results/$s/scores.csv.gz" ]; then
    nasi-harness merge "results/$s/results.sqlite" "results/$s/scores.csv.gz"
  fi
  nasi-harness run --no-report --workers "$WORKERS" "benchmarks/$s.toml"
done
# Tables, figures and the Markdown report of each, from its store alone; compressed CSV exports of the scores;
# the README's headline table.
for s in $STUDIES; do
  nasi-harness report "results/$s/results.sqlite" --out "results/$s/report"
  nasi-harness export "results/$s/results.sqlite" --format csv --out "results/$s/scores.csv.gz"
done
python benchmarks/scripts/headline.py

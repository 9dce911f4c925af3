#!/bin/sh
# The README's peer comparison, as one command: order queue and log pipeline, every installed
# driver, DURATION (default 20s) measured per driver. Writes bench/results/compare/<workload>/
# {results.json,report.html} and prints the markdown tables (made from the JSON) to stdout.
set -e
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
OUT=${OUT:-bench/results/compare}
for w in order-queue log-pipeline; do
  node --import tsx lib/cli/sluice.ts bench "workloads/$w.yaml" --duration "$DURATION" --out "$OUT/$w" > /dev/null
done
for w in order-queue log-pipeline; do
  node --import tsx lib/cli/sluice.ts bench --results "$OUT/$w/results.json" --out "$OUT/$w" --markdown
  echo
done

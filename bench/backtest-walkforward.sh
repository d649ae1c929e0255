#!/usr/bin/env bash
# Walk-forward backtest on the 50 Bitbrains VMs: September 2013 (4 weeks) replayed hour by hour, the model retrained
# every 7 days on the data before each week only (nothing recorded in the registry), against the same alternatives,
# with the trade-off sweep. Reuses the store bench/backtest-bitbrains.sh ingests. Writes bench/out/backtest-walk/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
# OpenBLAS's kernels pinned (Haswell: AVX2 and FMA) so that the trained models, hence the numbers, are the same on any
# x86-64 machine: left to itself OpenBLAS picks kernels by CPU model, and on a virtual CPU it does not recognise (this
# machine kind's "Intel(R) Xeon(R) Processor") falls back to its oldest (Prescott, SSE3); float sums then differ.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
OUT=bench/out/backtest-walk
FROM=${FROM:-2013-09-02T00:00:00Z}
TO=${TO:-2013-09-30T00:00:00Z}
DB=bench/out/backtest/torpor.db
[ -s "$DB" ] || BIN=$BIN ./bench/backtest-bitbrains.sh > /dev/null
mkdir -p "$OUT"
TORPOR_DB=$PWD/$DB "$BIN/torpor-backtest" --now "$TO" --from "$FROM" --retrain-every 7 --threads 2 --policy bench/backtest-policy.yaml \
  --sweep --json "$OUT/backtest.json" --html "$OUT/backtest.html" --svg docs/backtest-bitbrains-walkforward.svg | tee "$OUT/backtest.txt"

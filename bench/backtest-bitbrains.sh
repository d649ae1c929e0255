#!/usr/bin/env bash
# The backtest on real traces: the 50 VMs of Bitbrains' Rnd trace (July–September 2013, 5-minute samples) ingested
# through torpor-ingest, a model trained only on the data before the replay week, then the last week of September
# replayed hour by hour for torpor and the alternatives, with the trade-off sweep. Writes bench/out/backtest/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
# OpenBLAS's kernels pinned (Haswell: AVX2 and FMA) so that the trained models, hence the numbers, are the same on any
# x86-64 machine: left to itself OpenBLAS picks kernels by CPU model, and on a virtual CPU it does not recognise (this
# machine kind's "Intel(R) Xeon(R) Processor") falls back to its oldest (Prescott, SSE3); float sums then differ.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
DATA=${TORPOR_SHARED_DATA:-../shared/data}/traces/bitbrains_rnd
OUT=bench/out/backtest
FROM=${FROM:-2013-09-23T00:00:00Z}
TO=${TO:-2013-09-30T00:00:00Z}
mkdir -p "$OUT"
export TORPOR_DB=$PWD/$OUT/torpor.db
# From an empty store each time: a store left by an older build would replay its summaries and its model #1.
rm -f "$TORPOR_DB" "$TORPOR_DB-wal" "$TORPOR_DB-shm"
for month in 2013-7 2013-8 2013-9; do
  "$BIN/torpor-ingest" csv --now "$TO" --mapping sample-data/mappings/bitbrains.yaml "$DATA/$month"/*.csv.gz > /dev/null
done
/usr/bin/time -f "training: %e s, peak %M KiB" "$BIN/torpor-train" --now "$FROM" --threads 2 > "$OUT/train.txt"
grep -m3 -E "PROMOTED|not promoted|^run" "$OUT/train.txt"
"$BIN/torpor-backtest" --now "$TO" --from "$FROM" --policy bench/backtest-policy.yaml --sweep --threads 2 --json "$OUT/backtest.json" --html "$OUT/backtest.html" --svg docs/backtest-bitbrains.svg | tee "$OUT/backtest.txt"

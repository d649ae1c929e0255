#!/usr/bin/env bash
# The backtest on NAB's CloudWatch CPU series of February 2014 (four EC2 instances and one RDS database, 5-minute
# samples, 14 days): the last 4 days replayed after 10 days of history. Ten days are too few to train the model
# (it needs 13 days before its validation week), so torpor plans on the hour-of-week profile here. Writes
# bench/out/backtest-nab/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
DATA=${TORPOR_SHARED_DATA:-../shared/data}/traces/nab/realAWSCloudwatch
OUT=bench/out/backtest-nab
mkdir -p "$OUT"
export TORPOR_DB=$PWD/$OUT/torpor.db
rm -f "$TORPOR_DB" "$TORPOR_DB-wal" "$TORPOR_DB-shm"
"$BIN/torpor-ingest" csv --now 2014-03-01T00:00:00Z --mapping sample-data/mappings/nab-cpu.yaml \
  "$DATA"/ec2_cpu_utilization_{24ae8d,53ea38,5f5533,fe7f93}.csv "$DATA"/rds_cpu_utilization_cc0c53.csv > /dev/null
"$BIN/torpor-backtest" --now 2014-02-28T14:00:00Z --from 2014-02-24T14:00:00Z --policy bench/backtest-policy.yaml --sweep --threads 2 \
  --json "$OUT/backtest.json" --html "$OUT/backtest.html" --svg docs/backtest-nab.svg 2>/dev/null | tee "$OUT/backtest.txt"

#!/usr/bin/env bash
# Ingest benchmark: a long-format CSV of ROWS rows (default 10 million), torpor-ingest vs sqlite3's own `.import`
# of the same file into a table of the same shape with the same unique key, alternating, same run.
# Prints a Markdown table (rows/s, peak memory, time ratio) and writes it to bench/out/ingest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
ROWS=${ROWS:-10000000}
ROUNDS=${ROUNDS:-2}
OUT=bench/out
mkdir -p "$OUT"
CSV="$OUT/long-$ROWS.csv"

# 2,000 VMs × 5 metrics × N five-minute steps, sorted by VM, metric, time, as a monitoring export would be.
if [ ! -s "$CSV" ]; then
  echo "generating $CSV"
  awk -v rows="$ROWS" 'BEGIN {
    srand(42); print "vm,metric,time,value"
    split("cpu_util mem_util disk_util net_rx_util net_tx_util", m, " ")
    steps = int(rows / 10000); n = 0
    for (v = 0; v < 2000 && n < rows; v++)
      for (k = 1; k <= 5 && n < rows; k++)
        for (s = 0; s < steps && n < rows; s++) {
          printf "vm-%04d,%s,%d,%.3f\n", v, m[k], 1700000000 + s * 300, rand() * 100; n++
        }
  }' > "$CSV"
fi
rows=$(( $(wc -l < "$CSV") - 1 ))
bytes=$(stat -c %s "$CSV")

run_timed() {   # run_timed NAME command... → prints "seconds peak_kib"
  local log="$OUT/$1.time"; shift
  /usr/bin/time -f "%e %M" -o "$log" "$@" > /dev/null
  cat "$log"
}

sqlite_import() {
  rm -f "$OUT/sqlite.db"*
  sqlite3 "$OUT/sqlite.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE sample (vm TEXT NOT NULL, metric TEXT NOT NULL, time INTEGER NOT NULL, value REAL NOT NULL,
                     PRIMARY KEY (vm, metric, time)) WITHOUT ROWID;
.mode csv
.import --skip 1 $CSV sample
SQL
}

torpor_ingest() {
  rm -f "$OUT/torpor.db"*
  "$BIN/torpor-ingest" csv --db "$OUT/torpor.db" --now 2026-01-01T00:00:00Z "$CSV"
}

export -f sqlite_import torpor_ingest
export OUT CSV BIN
sq=(); tp=(); sqm=(); tpm=()
for round in $(seq 1 "$ROUNDS"); do
  read -r s m < <(run_timed sqlite bash -c sqlite_import); sq+=("$s"); sqm+=("$m")
  read -r s m < <(run_timed torpor bash -c torpor_ingest); tp+=("$s"); tpm+=("$m")
  echo "round $round: sqlite3 .import ${sq[-1]} s, torpor-ingest ${tp[-1]} s"
done
stored=$(sqlite3 "$OUT/torpor.db" "SELECT count(*) FROM sample")
imported=$(sqlite3 "$OUT/sqlite.db" "SELECT count(*) FROM sample")
[ "$stored" = "$rows" ] && [ "$imported" = "$rows" ] || { echo "row counts differ: file $rows, torpor $stored, sqlite3 $imported"; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
S=$(median "${sq[@]}"); T=$(median "${tp[@]}")
{
  echo "| ingest of $rows rows ($((bytes / 1048576)) MiB long CSV) | seconds (median of $ROUNDS) | rows/s | peak memory |"
  echo "|---|---|---|---|"
  printf '| sqlite3 .import (same key, WAL) | %s | %.0f | %d MiB |\n' "$S" "$(echo "$rows / $S" | bc -l)" $(( $(max "${sqm[@]}") / 1024 ))
  printf '| torpor-ingest csv | %s | %.0f | %d MiB |\n' "$T" "$(echo "$rows / $T" | bc -l)" $(( $(max "${tpm[@]}") / 1024 ))
  printf '\ntorpor / sqlite3 time ratio: **%.2f×** (target ≤ 2×)\n' "$(echo "$T / $S" | bc -l)"
} | tee "$OUT/ingest.md"

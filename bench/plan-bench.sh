#!/usr/bin/env bash
# Planning benchmark: `torpor-plan make` for 10,000 VMs (24 h horizon) on a store built from the sample VMs' real
# demand (torpor-bench-plan), three runs; wall time and peak memory (GNU time). Target: under 30 s on 2 cores.
# EVERY=300 stores each hour as the libvirt collector does: twelve samples, each with vcpus and mem_capacity.
set -euo pipefail
cd "$(dirname "$0")/.."
unset $(compgen -v TORPOR_)   # the embedded default policy and this bench's store, whatever a shell has loaded
BIN=${BIN:-.build/release}
OUT=bench/out
VMS=${VMS:-10000}
EVERY=${EVERY:-3600}
NOW=2013-09-30T00:00:00Z
mkdir -p "$OUT"
DB=$OUT/plan-$VMS-$EVERY.db
if [ ! -s "$DB" ]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  "$BIN/torpor-bench-plan" "$DB" "$VMS" "$NOW" "$EVERY"
fi
for round in 1 2 3; do
  rm -f "$OUT/plan-$VMS.json"   # torpor-plan writes over no other plan's file
  /usr/bin/time -f "%e %M" -o "$OUT/plan.time" "$BIN/torpor-plan" make --replay --db "$DB" --now "$NOW" --out "$OUT/plan-$VMS.json" >/dev/null
  read -r seconds kib < "$OUT/plan.time"
  echo "round $round: $VMS VMs planned in ${seconds} s, peak memory $((kib / 1024)) MiB"
  echo "$seconds $kib" >> "$OUT/plan.rounds"
done
median=$(tail -3 "$OUT/plan.rounds" | sort -g | sed -n 2p)
echo "plan: $VMS VMs, median ${median%% *} s (target < 30 s), peak $(( ${median##* } / 1024 )) MiB, $(grep -c '"action" : "hibernate"' "$OUT/plan-$VMS.json") hibernations"

#!/usr/bin/env bash
# An executor pass over a large fleet: the plan benchmark's 10,000-VM store (torpor-bench-plan), twelve hourly plans,
# the first plan's hibernations recorded as done (every VM it puts to sleep asleep), a thirteenth plan made with them
# asleep, then `torpor-execute run --dry-run` (reconciling nothing, it finds every owed restore through the plans and
# reports it; no libvirt call). Prints the pass's wall time and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
unset $(compgen -v TORPOR_)   # the embedded default policy and this bench's store, whatever a shell has loaded
BIN=${BIN:-.build/release}
OUT=bench/out/execute-scale
mkdir -p "$OUT"
DB=$OUT/fleet.db
rm -f "$DB" "$DB-wal" "$DB-shm" "$OUT"/plan-*.json   # torpor-plan writes over no other plan's file
"$BIN/torpor-bench-plan" "$DB" 10000 2013-09-30T00:00:00Z >/dev/null
for h in 00 01 02 03 04 05 06 07 08 09 10 11; do
  "$BIN/torpor-plan" make --replay --db "$DB" --now "2013-09-30T$h:00:00Z" --out "$OUT/plan-$h.json" >/dev/null 2>&1
done
python3 - "$OUT/plan-00.json" "$DB" <<'PY'
import json, sqlite3, sys, calendar, time
plan, db = json.load(open(sys.argv[1])), sqlite3.connect(sys.argv[2])
since = calendar.timegm(time.strptime('2013-09-30T00:00:00', '%Y-%m-%dT%H:%M:%S'))
asleep = [a for a in plan['actions'] if a['action'] == 'hibernate']
db.executemany("INSERT OR REPLACE INTO power (vm, host, state, since, action_id) VALUES (?, ?, 'hibernated', ?, ?)",
               [(a['vm'], a['host'], since, a['id']) for a in asleep])
db.commit()
print(f"{len(asleep)} VMs asleep")
PY
"$BIN/torpor-plan" make --replay --db "$DB" --now 2013-09-30T12:30:00Z --out "$OUT/plan-1230.json" >/dev/null 2>&1
for round in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$OUT/pass.time" "$BIN/torpor-execute" run --db "$DB" --now 2013-09-30T12:31:00Z --dry-run >/dev/null 2>"$OUT/pass.log"
  read -r seconds kib < "$OUT/pass.time"
  echo "round $round: executor pass over 10,000 VMs in ${seconds} s, peak $((kib / 1024)) MiB, $(grep -c would-restore "$OUT/pass.log") restores due"
done

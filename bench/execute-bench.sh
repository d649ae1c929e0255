#!/usr/bin/env bash
# Executor overhead: one hibernation and one restore of the real integration guest (128 MiB, TCG) through
# `torpor-execute run` (journal, lock, reconciliation, plan checks, the pre-flight sample of --load-interval) against
# plain `virsh managedsave` / `virsh start` of the same guest, alternating, same run. No state pool (measured apart
# in statepool-bench.sh). Reported: medians, and the overhead with and without the deliberate pre-flight sample.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
OUT=bench/out/execute
ROUNDS=${ROUNDS:-7}
LOAD_INTERVAL=0.5
NAME=torpor-bench-exec
URI=qemu:///system
rm -rf "$OUT" && mkdir -p "$OUT"
./integration/start-libvirtd.sh >/dev/null
./integration/build-guest.sh >/dev/null
sed "s|@GUEST@|$PWD/integration/guest|g; s|@NAME@|$NAME|g; s|@CONSOLE@|$PWD/$OUT/console|g" integration/guest.xml.in > "$OUT/guest.xml"
virsh -q -c $URI destroy $NAME >/dev/null 2>&1 || true
virsh -q -c $URI undefine $NAME --managed-save >/dev/null 2>&1 || true
virsh -q -c $URI define "$OUT/guest.xml" >/dev/null
trap 'virsh -q -c $URI destroy $NAME >/dev/null 2>&1 || true; virsh -q -c $URI undefine $NAME --managed-save >/dev/null 2>&1 || true' EXIT
virsh -q -c $URI start $NAME >/dev/null
sleep 10
secs() { /usr/bin/time -f %e -o "$OUT/t" "$@" >/dev/null 2>>"$OUT/errors"; cat "$OUT/t"; }
virsh_cycle() {
  # The same guest age at the save as torpor's, whose pre-flight samples the guest for $LOAD_INTERVAL s first
  # (the save takes longer the longer the guest has run since its restore).
  sleep $LOAD_INTERVAL
  vs=$(secs virsh -q -c $URI managedsave $NAME); sleep 1
  vr=$(secs virsh -q -c $URI start $NAME); sleep 3
}
torpor_cycle() {
  now=$(date -u -d "2030-01-01 + $round days" +%Y-%m-%dT%H:%M:%SZ)
  restore_at=$("$BIN/torpor-bench-execute" "$OUT/torpor.db" $URI $NAME "$now")
  ts=$(secs "$BIN/torpor-execute" run --replay --db "$OUT/torpor.db" --now "$now" --host $URI --load-interval $LOAD_INTERVAL); sleep 1
  tr=$(secs "$BIN/torpor-execute" run --replay --db "$OUT/torpor.db" --now "$restore_at" --host $URI); sleep 3
}
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which goes first: the guest's state drifts between cycles.
  if (( round % 2 )); then virsh_cycle; torpor_cycle; else torpor_cycle; virsh_cycle; fi
  echo "round $round: virsh managedsave ${vs}s start ${vr}s; torpor-execute hibernate ${ts}s restore ${tr}s"
  echo "$vs $vr $ts $tr" >> "$OUT/rounds"
done
median() { sort -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"; }
vs=$(awk '{print $1}' "$OUT/rounds" | median); vr=$(awk '{print $2}' "$OUT/rounds" | median)
ts=$(awk '{print $3}' "$OUT/rounds" | median); tr=$(awk '{print $4}' "$OUT/rounds" | median)
hibernated=$(sqlite3 "$OUT/torpor.db" "SELECT count(*) FROM journal WHERE kind='hibernate' AND step='done'")
restored=$(sqlite3 "$OUT/torpor.db" "SELECT count(*) FROM journal WHERE kind='restore' AND step='done'")
echo "executor: $hibernated hibernations and $restored restores done of $ROUNDS each"
echo "medians: virsh managedsave $vs s, torpor-execute hibernate $ts s (pre-flight sample $LOAD_INTERVAL s included): overhead $(printf '%.1f' "$(echo "scale=3; 100 * ($ts - $vs) / $vs" | bc)") %, without the sample $(printf '%.1f' "$(echo "scale=3; 100 * ($ts - $LOAD_INTERVAL - $vs) / $vs" | bc)") %"
echo "medians: virsh start $vr s, torpor-execute restore $tr s: overhead $(printf '%.1f' "$(echo "scale=3; 100 * ($tr - $vr) / $vr" | bc)") %"

#!/usr/bin/env bash
# The watch (every 5 minutes): `torpor-execute check` finds what needs a person, whatever its cause (the executor
# stopped or failing, a host down, the collector stopped): a VM asleep past its restore, a restore failing, a sleep whose
# saved state is gone, a VM its restore booted without its memory, an action left started, a host no longer
# collected. A person is told when that changes, again every $TORPOR_WATCH_REMIND seconds while it lasts (default: an
# hour), and once when it clears; a check that cannot run (the store unreadable) is told too. The text last told is kept in $TORPOR_WATCH_STATE.
# Exits as the check did (4: something needs a person), 1 when a notice could not be sent.
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_WATCH_STATE:=/var/lib/torpor/watch.last}" "${TORPOR_WATCH_REMIND:=3600}"
here=$(dirname "$0")
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay at a past time
output=$("$TORPOR_BIN/torpor-execute" check "${now[@]}" 2>&1)
status=$?
printf '%s\n' "$output"
tell() {   # tell SUBJECT: the check's output to a person; the job fails when it cannot be sent
  "$here/notify.sh" "$1" <<<"$output" && return
  echo "watch.sh: the notice '$1' could not be sent (TORPOR_NOTIFY)" >&2
  exit 1
}
if [ "$status" -eq 0 ]; then
  [ ! -e "$TORPOR_WATCH_STATE" ] || { tell "all clear: nothing needs a person any more"; rm -f "$TORPOR_WATCH_STATE"; }
  exit 0
fi
subject="needs a person: $(grep -vc '^torpor-execute: ' <<<"$output") (torpor-execute check)"   # its own warnings are not problems
[ "$status" -eq 4 ] || subject="torpor-execute check failed (exit $status): whether a VM needs a person is unknown"
if [ -e "$TORPOR_WATCH_STATE" ] && [ "$(cat "$TORPOR_WATCH_STATE")" = "$output" ] &&
   [ $(( $(date +%s) - $(stat -c %Y "$TORPOR_WATCH_STATE") )) -lt "$TORPOR_WATCH_REMIND" ]; then
  exit "$status"   # told already, within the reminder's interval
fi
tell "$subject"
printf '%s\n' "$output" > "$TORPOR_WATCH_STATE"
exit "$status"

#!/usr/bin/env bash
# The watch (every 5 minutes): `torpor-execute check` finds what needs a person, whatever its cause (the executor
# stopped or failing, a host down, the collector stopped): a VM asleep past its restore, a restore failing, a sleep whose
# saved state is gone, a VM its restore booted without its memory, an action left started, a host no longer
# collected, a VM saved without torpor's record, the store's filesystem full, an executor on an older torpor, no plan
# made for $TORPOR_WATCH_PLAN_SILENCE (default 3h; 0: not checked: a site that plans less often). A person is told when that changes, again
# every $TORPOR_WATCH_REMIND seconds while it lasts (default: an hour), and once when it clears; a check that cannot run
# (the store unreadable) or does not answer within $TORPOR_WATCH_CHECK_TIMEOUT seconds (a disk stuck in I/O) is told too.
# The settings file ($TORPOR_ENV_FILE, default /etc/torpor/torpor.env) is checked too (check-env.sh): an edit since the
# install that systemd would read otherwise than bash, or a relative path, is told as the check's findings are.
# The text last told is kept in $TORPOR_WATCH_STATE, by default in /run: not on the store's disk, which may be full.
# With $TORPOR_METRICS_FILE, each check also writes `torpor-execute metrics` there (Prometheus's text format), from
# what it found.
# Exits as the check did (4: something needs a person; 124: it did not answer), 5 when a notice could not be sent (then
# said to syslog as critical, and tried again by the next run). One watch at a time: a run that finds another still
# running leaves it to that one. A watch that did its work (the person told what needed telling) runs
# $TORPOR_WATCH_HEARTBEAT, a dead man's switch: a monitor elsewhere that stops hearing it says the watch stopped (its
# timer disabled, its cron file gone, the host down) or cannot tell anyone (no beat after a notice that failed).
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_WATCH_STATE:=/run/torpor/watch.last}" "${TORPOR_WATCH_REMIND:=3600}"
: "${TORPOR_WATCH_CHECK_TIMEOUT:=120}"
case "$TORPOR_WATCH_REMIND" in ''|*[!0-9]*)
  echo "watch.sh: TORPOR_WATCH_REMIND '$TORPOR_WATCH_REMIND' is not a number of seconds: reminding hourly" >&2
  TORPOR_WATCH_REMIND=3600 ;;
esac
here=$(dirname "$0")
mkdir -p "$(dirname "$TORPOR_WATCH_STATE")"
# Without a lock file (its folder unwritable) the watch runs all the same: told twice beats told never.
if exec 8>>"$TORPOR_WATCH_STATE.lock"; then
  flock -n 8 || { echo "watch.sh: another watch still runs: left to it" >&2; exit 0; }
fi
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay at a past time
metrics=(); [ -z "${TORPOR_METRICS_FILE:-}" ] || metrics=(--metrics-file "$TORPOR_METRICS_FILE")   # from the same check
# A plan silence that is no duration must not stop the check (nothing else would be looked at): 3h, and said with it.
silence=(); unreadable=
if [[ ${TORPOR_WATCH_PLAN_SILENCE:-} =~ ^[0-9]+(s|sec|m|min|h|d|w)?$ ]]; then silence=(--plan-silence "$TORPOR_WATCH_PLAN_SILENCE")
elif [ -n "${TORPOR_WATCH_PLAN_SILENCE:-}" ]; then
  unreadable="watch.sh: TORPOR_WATCH_PLAN_SILENCE '$TORPOR_WATCH_PLAN_SILENCE' (/etc/torpor/torpor.env) is not a duration such as 3h or 0: 3h used"
fi
# The check runs beside the watch, its output in a file beside the watch's state (not on the store's disk), and is
# waited for until the timeout only: one stuck in the kernel (a disk stuck in I/O) ignores every signal, and waiting for
# it to end (as GNU timeout does after its signal) would leave the watch silent, and every later watch with it.
case "$TORPOR_WATCH_CHECK_TIMEOUT" in ''|*[!0-9]*|0)
  echo "watch.sh: TORPOR_WATCH_CHECK_TIMEOUT '$TORPOR_WATCH_CHECK_TIMEOUT' is not a number of seconds above 0: 120 used" >&2
  TORPOR_WATCH_CHECK_TIMEOUT=120 ;;
esac
answer=$(mktemp "$(dirname "$TORPOR_WATCH_STATE")/check.XXXXXX") || answer=$(mktemp)
"$TORPOR_BIN/torpor-execute" check "${now[@]}" "${metrics[@]}" "${silence[@]}" >"$answer" 2>&1 8>&- &
check=$!
deadline=$((SECONDS + TORPOR_WATCH_CHECK_TIMEOUT))
while kill -0 "$check" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
if kill -0 "$check" 2>/dev/null; then
  kill -KILL "$check" 2>/dev/null   # it ends when the kernel lets it; not waited for
  status=124
else
  wait "$check"; status=$?
fi
output=$(cat "$answer"); rm -f "$answer"
[ "$status" -ne 124 ] || output+=$'\n'"watch.sh: torpor-execute check did not answer within $TORPOR_WATCH_CHECK_TIMEOUT s (the store's disk stuck? libvirt?)"
mend() {   # mend TEXT: a setting a person must mend, told as the check's findings are (exit 4 unless the check failed)
  output+=$'\n'"$1"; [ "$status" -ne 0 ] || status=4
}
[ -z "$unreadable" ] || mend "$unreadable"
# The settings file as edited since the install (which checked it): a line systemd reads otherwise than bash, a
# relative path (check-env.sh).
env_file=${TORPOR_ENV_FILE:-/etc/torpor/torpor.env}
if [ -e "$env_file" ] && ! settings=$("$here/check-env.sh" "$env_file" 8>&-); then
  mend "$settings"$'\n'"watch.sh: until it is mended the executor starts no new hibernation (restores go on)"
fi
printf '%s\n' "$output"
tell() {   # tell SUBJECT: the check's output to a person; the job fails (5) when it cannot be sent, said to syslog
  "$here/notify.sh" "$1" <<<"$output" 8>&- && return   # stopped after $TORPOR_NOTIFY_TIMEOUT (notify.sh)
  echo "watch.sh: the notice '$1' could not be sent (TORPOR_NOTIFY)" >&2
  logger -p daemon.crit -t torpor "the watch's notice could not be sent (TORPOR_NOTIFY): $1" 2>/dev/null
  exit 5
}
beat() {   # beat: the watch did its work: the heartbeat (the check's exit status in $TORPOR_WATCH_STATUS), then exit as the check did
  if [ -n "${TORPOR_WATCH_HEARTBEAT:-}" ] &&
     ! TORPOR_WATCH_STATUS=$status timeout 30 bash -c "$TORPOR_WATCH_HEARTBEAT" </dev/null >/dev/null 8>&-; then
    echo "watch.sh: the heartbeat could not be sent (TORPOR_WATCH_HEARTBEAT): its monitor will say the watch stopped" >&2
  fi
  exit "$status"
}
if [ "$status" -eq 0 ]; then
  [ ! -e "$TORPOR_WATCH_STATE" ] || { tell "all clear: nothing needs a person any more"; rm -f "$TORPOR_WATCH_STATE"; }
  beat
fi
subject="needs a person: $(grep -vc '^torpor-execute: ' <<<"$output") (torpor-execute check)"   # its own warnings are not problems
[ "$status" -eq 4 ] || subject="torpor-execute check failed (exit $status): whether a VM needs a person is unknown"
if [ -e "$TORPOR_WATCH_STATE" ] && [ "$(cat "$TORPOR_WATCH_STATE")" = "$output" ] &&
   [ $(( $(date +%s) - $(stat -c %Y "$TORPOR_WATCH_STATE") )) -lt "$TORPOR_WATCH_REMIND" ]; then
  beat   # told already, within the reminder's interval
fi
tell "$subject"
# Kept whole or not at all (a file cut short would be told again each run); one that cannot be written is said.
{ printf '%s\n' "$output" > "$TORPOR_WATCH_STATE.new" && mv -f "$TORPOR_WATCH_STATE.new" "$TORPOR_WATCH_STATE"; } ||
  echo "watch.sh: $TORPOR_WATCH_STATE cannot be written: the next run tells it again" >&2
beat

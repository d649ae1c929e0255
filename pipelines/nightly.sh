#!/usr/bin/env bash
# The nightly job: ingest the other sources, prune old plans (stored bodies and files) and samples, collect the state pool's garbage (and verify it
# once a week), then train. The run is recorded in the store's
# registry whether or not it is promoted; a model that does not beat the baselines never reaches the planner. A failed
# step is reported to a person; training goes on after any failed step before it (yesterday's model serves meanwhile).
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
here=$(dirname "$0")
. "$here/one-at-a-time.sh" nightly
. "$here/job-step.sh"
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay of the job at a past time
status=0
run() {   # run SUBJECT COMMAND...: runs it, its output to the log as it comes, and reports a failure
  local s
  step "${@:2}"; s=$?
  if [ "$s" -ne 0 ]; then
    printf '%s\n' "$step_output" | "$here/notify.sh" "$1 failed (exit $s)" 9>&- || echo "nightly.sh: the notice of it could not be sent (TORPOR_NOTIFY)" >&2
    [ "$status" -ne 0 ] || status=$s
  fi
}
run "the nightly ingest" "$here/ingest-sources.sh"
# Hourly plans of a large fleet add up: keep them whole for a week, in the store and as files (ids, hashes and
# approvals stay for the audit; the plans sleeping VMs depend on stay whole).
run "the nightly plan pruning" "$TORPOR_BIN/torpor-plan" prune "${now[@]}" --keep "${TORPOR_PLAN_RETENTION:-7d}" \
  --plans "${TORPOR_PLANS:-/var/lib/torpor/plans}"
# Samples older than any stage reads (the planner 5 weeks, training --history-days, 90 days by default) go: every
# collection adds a row per VM and metric, and the store would grow for ever.
run "the nightly sample pruning" "$TORPOR_BIN/torpor-ingest" prune "${now[@]}" --keep "${TORPOR_SAMPLE_RETENTION:-180d}"
# The state pool keeps the newest images per VM and every sleeping VM's; without it, it fills until hibernations are held.
if [ -n "${TORPOR_STATE_POOL:-}" ]; then
  run "the nightly state pool garbage collection" "$TORPOR_BIN/torpor-execute" pool gc --pool "$TORPOR_STATE_POOL" \
    --pool-capacity "${TORPOR_STATE_POOL_CAPACITY:-1TiB}" --keep "${TORPOR_STATE_POOL_KEEP:-3}"
  # Once a week (ISO weekday $TORPOR_STATE_POOL_VERIFY_DAY in UTC, 7 = Sunday; empty: never) every chunk is read and
  # hashed again, so that a damaged image is found while its VM runs, not when a restore needs it.
  at=${TORPOR_NOW:-now}; [[ "$at" =~ ^[0-9]+$ ]] && at="@$at"
  if ! day=$(date -u -d "$at" +%u 2>&1); then
    run "the weekly state pool verification" sh -c 'echo "nightly.sh: the weekday of $1 is unknown ($2)" >&2; exit 2' - "$at" "$day"
  elif [ "$day" = "${TORPOR_STATE_POOL_VERIFY_DAY-7}" ]; then
    # --repair: a damaged chunk's file is removed (an unreadable one a sleep's only copy uses, set aside), so that the
    # next image holding it writes it again (still told).
    run "the weekly state pool verification" "$TORPOR_BIN/torpor-execute" pool verify --repair --pool "$TORPOR_STATE_POOL" \
      --pool-capacity "${TORPOR_STATE_POOL_CAPACITY:-1TiB}"
  fi
fi
run "the nightly training" "$TORPOR_BIN/torpor-train" train "${now[@]}" --threads "${TORPOR_TRAIN_THREADS:-2}"
exit "$status"

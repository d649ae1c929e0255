#!/usr/bin/env bash
# The hourly job: ingest the other sources, write a plan for the next horizon, and tell a person when it has
# hibernations awaiting review (those a standing approval carried need nobody). The plan goes to $TORPOR_PLANS.
# A failed ingest is reported and planning goes on with what is stored (data too old leaves its VMs running); a
# failed plan is reported and the job fails; so does a notice that could not be sent (the log says which).
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_PLANS:=/var/lib/torpor/plans}"
here=$(dirname "$0")
. "$here/one-at-a-time.sh" hourly
. "$here/job-step.sh"
unsent=0
# tell SUBJECT <BODY: a notice to a person (not in a pipeline: it notes a notice not sent). Without the job's lock
# (fd 9): a mailer it leaves in the background must not hold the next run off.
tell() {
  "$here/notify.sh" "$1" 9>&- || { echo "hourly.sh: the notice '$1' could not be sent (TORPOR_NOTIFY)" >&2; unsent=1; }; }
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay of the job at a past time
if ! step "$here/ingest-sources.sh"; then
  tell "the hourly ingest failed; the plan is made from what is stored" <<<"$step_output"
fi
at=now; [ -z "${TORPOR_NOW:-}" ] || { [[ $TORPOR_NOW =~ ^[0-9]+$ ]] && at="@$TORPOR_NOW" || at=$TORPOR_NOW; }
if ! stamp=$(date -u -d "$at" +%Y%m%dT%H%M%SZ 2>&1); then
  tell "no plan this hour: the time $at cannot be read ($stamp)" <<<"TORPOR_NOW=${TORPOR_NOW:-}"
  exit 2
fi
plan="$TORPOR_PLANS/plan-$stamp.json"
if [ -e "$plan" ]; then   # the job run twice in one second, or a replay of an hour already planned: never over its file
  tell "no plan this hour: $plan exists already (the job run twice, or a replay of a planned hour)" <<<"$plan"
  exit 2
fi
# The policy: torpor-plan reads $TORPOR_POLICY itself, as a person's make, show and approve do (empty: the embedded default).
step "$TORPOR_BIN/torpor-plan" make "${now[@]}" ${TORPOR_NOW:+--replay} --out "$plan"
status=$?
output=$step_output
if [ "$status" -ne 0 ]; then
  tell "no plan this hour: torpor-plan failed (exit $status)" <<<"$output"
  exit "$status"
fi
if grep -q '^review:' <<<"$output"; then
  tell "a plan awaits review" <<<"$output"
fi
exit "$unsent"

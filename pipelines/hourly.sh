#!/usr/bin/env bash
# The hourly job: ingest the other sources, write a plan for the next horizon, and tell a person when it has
# hibernations awaiting review (those a standing approval carried need nobody). The plan goes to $TORPOR_PLANS.
# A failed ingest is reported and planning goes on with what is stored (data too old leaves its VMs running); a
# failed plan is reported and the job fails.
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_PLANS:=/var/lib/torpor/plans}"
here=$(dirname "$0")
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay of the job at a past time
if ! ingest=$("$here/ingest-sources.sh" 2>&1); then
  printf '%s\n' "$ingest" | "$here/notify.sh" "the hourly ingest failed; the plan is made from what is stored"
fi
printf '%s\n' "$ingest"
at=now; [ -z "${TORPOR_NOW:-}" ] || { [[ $TORPOR_NOW =~ ^[0-9]+$ ]] && at="@$TORPOR_NOW" || at=$TORPOR_NOW; }
plan="$TORPOR_PLANS/plan-$(date -u -d "$at" +%Y%m%dT%H%M%SZ).json"
policy=()
[ -n "${TORPOR_POLICY:-}" ] && policy=(--policy "$TORPOR_POLICY")
output=$("$TORPOR_BIN/torpor-plan" make "${now[@]}" "${policy[@]}" --out "$plan" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne 0 ]; then
  printf '%s\n' "$output" | "$here/notify.sh" "no plan this hour: torpor-plan failed (exit $status)"
  exit "$status"
fi
if grep -q '^review:' <<<"$output"; then
  printf '%s\n' "$output" | "$here/notify.sh" "a plan awaits review"
fi

#!/usr/bin/env bash
# The hourly job: ingest the other sources, write a plan for the next horizon, and tell a person when it has
# actions awaiting review (actions a standing approval carried need nobody). The plan goes to $TORPOR_PLANS.
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_PLANS:=/var/lib/torpor/plans}" "${TORPOR_NOTIFY:=logger -t torpor-plan}"
"$(dirname "$0")/ingest-sources.sh"
plan="$TORPOR_PLANS/plan-$(date -u +%Y%m%dT%H%M%SZ).json"
policy=()
[ -n "${TORPOR_POLICY:-}" ] && policy=(--policy "$TORPOR_POLICY")
output=$("$TORPOR_BIN/torpor-plan" make "${policy[@]}" --out "$plan")
echo "$output"
if grep -q '^review:' <<<"$output"; then
  printf 'torpor: a plan awaits review on %s\n%s\n' "$(hostname)" "$output" | $TORPOR_NOTIFY
fi

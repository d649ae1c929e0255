#!/usr/bin/env bash
# Ingest of the other sources, before training (nightly) and planning (hourly): the libvirt host's inventory (labels
# added or changed in a domain's metadata since, and VMs defined since: the policy's groups, exclusions and tiers go by
# them), the live Prometheus API over the
# last day (deduplicated against what is stored) and the calendars (re-expanded around now: the occurrences from
# $TORPOR_CALENDAR_PAST ago on are replaced, earlier ones stay for training). Each source is tried even when another
# fails; the exit code is the first failure's.
set -uo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
now=(); [ -z "${TORPOR_NOW:-}" ] || now=(--now "$TORPOR_NOW")   # a replay of the job at a past time
status=0
if [ -n "${TORPOR_LIBVIRT_URI:-}" ]; then
  read -ra hosts <<<"$TORPOR_LIBVIRT_URI"
  uris=(); for uri in "${hosts[@]}"; do uris+=(--uri "$uri"); done
  # A replay reads the hosts as they are now, recorded as of TORPOR_NOW (--replay): against a copy of the store.
  "$TORPOR_BIN/torpor-ingest" inventory "${now[@]}" ${TORPOR_NOW:+--replay} "${uris[@]}" > /dev/null || status=$?
fi
if [ -n "${TORPOR_PROMETHEUS_URL:-}" ] && [ -z "${TORPOR_PROMETHEUS_QUERY:-}" ]; then
  echo "ingest-sources.sh: TORPOR_PROMETHEUS_URL is set but TORPOR_PROMETHEUS_QUERY is empty: Prometheus not ingested" >&2
  [ "$status" -ne 0 ] || status=2
elif [ -n "${TORPOR_PROMETHEUS_URL:-}" ]; then
  "$TORPOR_BIN/torpor-ingest" prometheus "${now[@]}" --prometheus-url "$TORPOR_PROMETHEUS_URL" --query "$TORPOR_PROMETHEUS_QUERY" \
    --metric cpu_util:percent --vm-label domain --range 1d --step 5m || { s=$?; [ "$status" -ne 0 ] || status=$s; }
fi
if [ -n "${TORPOR_CALENDARS:-}" ]; then
  # shellcheck disable=SC2086
  "$TORPOR_BIN/torpor-ingest" calendar "${now[@]}" --past "${TORPOR_CALENDAR_PAST:-30d}" \
    $TORPOR_CALENDARS || { s=$?; [ "$status" -ne 0 ] || status=$s; }
fi
exit "$status"

#!/usr/bin/env bash
# Ingest of the other sources, before training (nightly) and planning (hourly): the live Prometheus API over the
# last day (deduplicated against what is stored) and the calendars (re-expanded around now, replacing their occurrences).
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
if [ -n "${TORPOR_PROMETHEUS_URL:-}" ]; then
  "$TORPOR_BIN/torpor-ingest" prometheus --prometheus-url "$TORPOR_PROMETHEUS_URL" --query "$TORPOR_PROMETHEUS_QUERY" \
    --metric cpu_util:percent --vm-label domain --range 1d --step 5m
fi
if [ -n "${TORPOR_CALENDARS:-}" ]; then
  # shellcheck disable=SC2086
  "$TORPOR_BIN/torpor-ingest" calendar --zone "${TORPOR_CALENDAR_ZONE:-UTC}" $TORPOR_CALENDARS
fi

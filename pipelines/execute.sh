#!/usr/bin/env bash
# The executor job (every few minutes): reconcile, restore what is due (never blocked), then hibernate the due
# actions of the newest approved plan. One executor per host set at a time (the second one exits with code 1).
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
args=(run --event-log "${TORPOR_EVENT_LOG:-/var/log/torpor/events.jsonl}")
[ -n "${TORPOR_LIBVIRT_URI:-}" ] && args+=(--host "$TORPOR_LIBVIRT_URI")
[ -n "${TORPOR_STATE_POOL:-}" ] && args+=(--pool "$TORPOR_STATE_POOL" --pool-capacity "${TORPOR_STATE_POOL_CAPACITY:-1TiB}")
exec "$TORPOR_BIN/torpor-execute" "${args[@]}"

#!/usr/bin/env bash
# The executor job (every few minutes from cron; the systemd unit runs it with --follow): reconcile, restore what is
# due (never blocked), then hibernate the due actions of the newest approved plan. Never two executors on one VM: a run
# held up on one VM (a save whose QEMU stopped answering) lingers, and the next runs serve every other VM.
# Extra arguments go to `torpor-execute run` (e.g. --follow --interval 120).
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
args=(run --event-log "${TORPOR_EVENT_LOG:-/var/log/torpor/events.jsonl}")
for uri in ${TORPOR_LIBVIRT_URI:-}; do args+=(--host "$uri"); done
[ -n "${TORPOR_STATE_POOL:-}" ] && args+=(--pool "$TORPOR_STATE_POOL" --pool-capacity "${TORPOR_STATE_POOL_CAPACITY:-1TiB}")
exec "$TORPOR_BIN/torpor-execute" "${args[@]}" "$@"

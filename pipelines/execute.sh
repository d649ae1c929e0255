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
# Demand signals: each TORPOR_WAKE_ON_<name> a --wake-on rule, asked of TORPOR_PROMETHEUS_URL (a rule the executor
# cannot use is said, a misconfigured event, and the pass runs without it).
for name in $(compgen -v TORPOR_WAKE_ON_); do args+=(--wake-on "${!name}"); done
if [ -n "$(compgen -v TORPOR_WAKE_ON_)" ]; then
  [ -z "${TORPOR_PROMETHEUS_URL:-}" ] || args+=(--prometheus "$TORPOR_PROMETHEUS_URL")
  [ -z "${TORPOR_WAKE_THRESHOLD:-}" ] || args+=(--wake-threshold "$TORPOR_WAKE_THRESHOLD")
fi
exec "$TORPOR_BIN/torpor-execute" "${args[@]}" "$@"

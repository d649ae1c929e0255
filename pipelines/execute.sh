#!/usr/bin/env bash
# The executor job (every few minutes from cron; the systemd unit runs it with --follow): reconcile, restore what is
# due (never blocked), then hibernate the due actions of the newest approved plan. Never two executors on one VM: a run
# held up on one VM (a save whose QEMU stopped answering) lingers, and the next runs serve every other VM.
# Extra arguments go to `torpor-execute run` (e.g. --follow --interval 120).
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
args=(run --event-log "${TORPOR_EVENT_LOG-/var/log/torpor/events.jsonl}")   # set empty: none
read -ra uris <<<"${TORPOR_LIBVIRT_URI:-}"
for uri in "${uris[@]}"; do args+=(--host "$uri"); done
# The state pool: torpor-execute reads TORPOR_STATE_POOL and TORPOR_STATE_POOL_CAPACITY itself (a capacity that is no
# size then holds hibernations, said, where as a flag it would refuse the run and its restores).
# The policy: torpor-execute reads $TORPOR_POLICY itself, at each pass (a VM it excludes is not hibernated, whatever
# the approved plan says; one that cannot be read holds hibernations, said).
# Demand signals: each TORPOR_WAKE_ON_<name> a --wake-on rule, asked of TORPOR_PROMETHEUS_URL (a rule the executor
# cannot use is said, a misconfigured event: no hibernation starts until it is fixed; restores go on).
# The settings file as check-env.sh reads it: one bash cannot read whole (cron's line went on without the settings after
# the bad one), or systemd reads otherwise (its unit), or with a relative path: a setting this run should have may be
# missing (a demand signal's rule, the policy), so no new hibernation starts until it is mended (the watch tells a
# person what is wrong); restores go on.
# Only a refusal (exit 2) holds; a check that cannot run (check-env.sh missing: a broken install) is said, not held on.
settings=${TORPOR_ENV_FILE:-/etc/torpor/torpor.env}
if [ -e "$settings" ]; then
  checked=0; refusal=$("$(dirname "$0")/check-env.sh" "$settings" 2>&1) || checked=$?   # (set -e: a failure is read, not fatal)
  if [ "$checked" -eq 2 ]; then export TORPOR_ENV_REFUSED="${refusal%%$'\n'*}"
  elif [ "$checked" -ne 0 ]; then echo "execute.sh: $settings could not be checked (check-env.sh exit $checked): ${refusal%%$'\n'*}" >&2; fi
fi
wake=()
for name in $(compgen -v TORPOR_WAKE_ON_); do [ -z "${!name}" ] || wake+=(--wake-on "${!name}"); done   # empty: none
if [ "${#wake[@]}" -gt 0 ]; then
  args+=("${wake[@]}")
  [ -z "${TORPOR_PROMETHEUS_URL:-}" ] || args+=(--prometheus "$TORPOR_PROMETHEUS_URL")
  [ -z "${TORPOR_WAKE_THRESHOLD:-}" ] || args+=(--wake-threshold "$TORPOR_WAKE_THRESHOLD")
fi
exec "$TORPOR_BIN/torpor-execute" "${args[@]}" "$@"

#!/usr/bin/env bash
# The 5-minute collector: one sample of every domain's statistics from the local libvirt host.
# The first run records counters only; rates start with the second. Safe to run twice (a run at the same second adds nothing).
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_LIBVIRT_URI:=qemu:///system}"
exec "$TORPOR_BIN/torpor-ingest" libvirt --uri "$TORPOR_LIBVIRT_URI"

#!/usr/bin/env bash
# The 5-minute collector: one sample of every domain's statistics from each libvirt host of TORPOR_LIBVIRT_URI
# (space-separated; each in turn, one failing stops none of the others).
# The first run records counters only; rates start with the second. Safe to run twice (a run at the same second adds nothing).
# One at a time per store and set of hosts (a collector per host may share a store): a run that hangs (a host that
# answers nothing) is told, not stacked on every 5 minutes.
: "${TORPOR_BIN:=/usr/local/bin}" "${TORPOR_LIBVIRT_URI:=qemu:///system}"
. "$(dirname "$0")/one-at-a-time.sh" collect "collect-$(cksum <<<"$TORPOR_LIBVIRT_URI" | cut -d' ' -f1)"
set -euo pipefail
read -ra hosts <<<"$TORPOR_LIBVIRT_URI"
uris=(); for uri in "${hosts[@]}"; do uris+=(--uri "$uri"); done
exec "$TORPOR_BIN/torpor-ingest" libvirt "${uris[@]}"

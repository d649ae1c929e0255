#!/usr/bin/env bash
# The nightly job: ingest the other sources, prune old plan bodies, then train. The run is recorded in the store's registry whether or not
# it is promoted; a model that does not beat the baselines never reaches the planner.
set -euo pipefail
: "${TORPOR_BIN:=/usr/local/bin}"
"$(dirname "$0")/ingest-sources.sh"
# Hourly plans of a large fleet add up: keep them whole for a week (ids, hashes and approvals stay for the audit).
"$TORPOR_BIN/torpor-plan" prune --keep "${TORPOR_PLAN_RETENTION:-7d}"
exec "$TORPOR_BIN/torpor-train" train --threads "${TORPOR_TRAIN_THREADS:-2}"

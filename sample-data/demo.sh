#!/usr/bin/env bash
# The demo pipeline on sample-data/ (its policy: sample-data/policy.yaml), against the embedded default back ends: a
# SQLite file (demo/torpor.db) and libvirt's test driver (sample-data/fleet.xml). `make demo` runs it after building; it prints what each stage does.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
# None of the jobs' settings a shell may hold (torpor.env loaded: a production pool, event log or zone) reach the demo.
unset $(compgen -v TORPOR_)
export TORPOR_DB=$PWD/demo/torpor.db
# The end of the sample data: every stage replays history as if it were then.
NOW=2013-09-30T00:00:00Z
FLEET="test://$PWD/sample-data/fleet.xml"
NEXT_HOUR=2013-09-30T01:00:00Z
TOMORROW=2013-10-01T01:00:00Z

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf demo && mkdir -p demo

step "1. inventory: the VMs of the (test-driver) libvirt host, with their labels"
"$BIN/torpor-ingest" inventory --now "$NOW" --replay --uri "$FLEET"

step "2. ingest: 5-minute utilization history of the fleet (Bitbrains trace, gzip, ';'+tab separated)"
"$BIN/torpor-ingest" csv --now "$NOW" --mapping sample-data/mappings/bitbrains.yaml --vm-prefix '' sample-data/traces/bitbrains/*.csv.gz

step "3. ingest: a Prometheus export of two VMs' CPU (overlaps the CSV: deduplicated, first value wins)"
"$BIN/torpor-ingest" prometheus --now "$NOW" --vm-label domain --metric cpu_util:percent sample-data/prometheus/cpu-last-2-days.json

step "3b. calendar: campaigns, nightly backups, a quarter-close freeze and holidays (Europe/Amsterdam)"
"$BIN/torpor-ingest" calendar --now "$NOW" --zone Europe/Amsterdam --past 35d --ahead 30d sample-data/calendars/business.ics

step "3c. libvirt collector (every 5 min in production): the test driver gives domain state only"
"$BIN/torpor-ingest" libvirt --now "$NOW" --replay --uri "$FLEET"

step "4. ingest again: same content, nothing added (every stage is safe to run twice)"
"$BIN/torpor-ingest" csv --now "$NOW" --mapping sample-data/mappings/bitbrains.yaml --vm-prefix '' sample-data/traces/bitbrains/*.csv.gz

step "5. bad input is refused with file and line, and nothing of it is stored"
printf 'vm,metric,time,value\nweb-01,cpu_util,2013-09-29T10:00:00Z,12\nweb-01,cpu_util,2013-09-29T10:05:00Z,twelve\n' > demo/bad.csv
if "$BIN/torpor-ingest" csv --now "$NOW" demo/bad.csv; then echo "expected a refusal"; exit 1; else echo "(exit code $?)"; fi

step "6. status: what the store covers"
"$BIN/torpor-ingest" status --now "$NOW"

step "7. train: a quantile forecaster, promoted only if it beats the baselines on the held-out last week"
"$BIN/torpor-train" --now "$NOW" --max-epochs 8

step "7b. one VM's forecast for the next hours, with q0.75 as a tier deciding by it reads it (between q0.5 and q0.9)"
"$BIN/torpor-train" forecast --now "$NOW" --vm web-01 --horizon 8 --quantile 0.75

step "8. plan: forecast the next 24 h and write a plan for review (sample-data/policy.yaml)"
rm -rf demo/plans
"$BIN/torpor-plan" make --replay --now "$NOW" --policy sample-data/policy.yaml --out demo/plans/plan-1.json

step "9. review: the plan as text, and as a page with a chart per VM (demo/plan.html)"
"$BIN/torpor-plan" show --now "$NOW" --policy sample-data/policy.yaml demo/plans/plan-1.json --html demo/plan.html

step "10. a hand-edited plan is refused; the plan as written is approved (standing approval on)"
sed 's/"hibernate"/"restore"/' demo/plans/plan-1.json > demo/plans/edited.json
if "$BIN/torpor-plan" approve --replay --now "$NOW" --policy sample-data/policy.yaml demo/plans/edited.json; then echo "expected a refusal"; exit 1; else echo "(exit code $?)"; fi
"$BIN/torpor-plan" approve --replay --now "$NOW" --policy sample-data/policy.yaml --by demo --standing demo/plans/plan-1.json

step "11. an hour later: the next plan, what changed, and which actions carried their approval"
"$BIN/torpor-plan" make --replay --now "$NEXT_HOUR" --policy sample-data/policy.yaml --out demo/plans/plan-2.json
"$BIN/torpor-plan" diff demo/plans/plan-1.json demo/plans/plan-2.json
"$BIN/torpor-plan" list

step "12. execute (dry run): the pre-flight check samples each VM's CPU load from libvirt right before hibernating"
echo "(libvirt's test driver reports CPU time as wall-clock time: every domain looks busy, or has no collected sample of its own in the last"
echo " 10 minutes of a host a collection reads, and the check holds it: missing is not idle)"
"$BIN/torpor-execute" run --dry-run --now "$NOW" --load-interval 0.2 || true

step "13. execute: one executor follows a simulated clock over the next 25 hours (hourly passes), with the collector's"
echo "    newest CPU sample as the pre-flight load; the test driver keeps state inside this one process"
"$BIN/torpor-execute" run --replay --follow --now "$NOW" --until "$TOMORROW" --interval 3600 --load-source store --load-max-age 1d \
  --event-log demo/events.jsonl
"$BIN/torpor-execute" status --now "$TOMORROW"
echo "what needs a person (pipelines/watch.sh notifies on it every 5 minutes), after the collector's latest collection:"
"$BIN/torpor-ingest" libvirt --now "$TOMORROW" --replay --uri "$FLEET" > /dev/null
# --plan-silence 0: this replay made no plan after its second hour (the hourly job would have; the watch names a store
# without a new plan for 3 h).
"$BIN/torpor-execute" check --now "$TOMORROW" --plan-silence 0
echo "the same for Prometheus (torpor-execute metrics: the watch writes them for node_exporter's textfile collector), samples only:"
"$BIN/torpor-execute" metrics --now "$TOMORROW" --plan-silence 0 | grep -v '^#'
echo "events (JSON lines) in demo/events.jsonl: $(wc -l < demo/events.jsonl)"

step "14. backtest: the last 7 days replayed through the planner with the plans' policy (planned hourly, scored per sample), torpor against the alternatives; torpor's model trained on the data before that week only (nothing recorded), as the nightly job would have"
"$BIN/torpor-backtest" --now "$NOW" --days 7 --retrain-every 7 --policy sample-data/policy.yaml --json demo/backtest.json

printf '\nThe store is %s; the review page is demo/plan.html; executor events in demo/events.jsonl.\n' "$TORPOR_DB"

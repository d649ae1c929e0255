# Sourced by the collector, the hourly and the nightly jobs (`. one-at-a-time.sh JOB [LOCK]`): one run of JOB at a time per store. A run started
# while the previous one still runs (a long training, a run by hand, a run that hangs) does nothing, exits 0 and tells
# a person, so that a job that hangs is noticed.
lock="${TORPOR_DB:-torpor.db}.${2:-$1}.lock"   # LOCK, a second argument: one run at a time per LOCK (default JOB)
if ! exec 9>>"$lock"; then echo "$1.sh: cannot open its lock $lock" >&2; exit 1; fi
flock -n -E 75 9
case $? in
  0) ;;
  75) echo "$1.sh: its previous run still runs (lock $lock): this one is skipped" >&2
      "$(dirname "$0")/notify.sh" "the $1 job is skipped: its previous run still runs" <<<"lock: $lock" ||
        echo "$1.sh: the notice of it could not be sent (TORPOR_NOTIFY)" >&2
      exit 0 ;;
  *) echo "$1.sh: cannot take its lock $lock" >&2; exit 1 ;;
esac

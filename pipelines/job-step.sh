# Sourced by the hourly and nightly jobs: `step COMMAND...` runs COMMAND with its output (standard output and error)
# going to the job's log as it comes, so that a step the unit's time limit kills leaves what it had printed (a
# training's epochs), and kept in $step_output for a notice; its exit status is the step's. A log that can no longer
# be written (a closed pipe) stops neither the step nor what it keeps (tee -p).
step() {
  local kept status
  if ! kept=$(mktemp "${TMPDIR:-/tmp}/torpor-step.XXXXXX"); then
    step_output="$1: not run: no temporary file for its output in ${TMPDIR:-/tmp}"; printf '%s\n' "$step_output" >&2; return 1
  fi
  "$@" 2>&1 | tee -p "$kept"
  status=${PIPESTATUS[0]}
  step_output=$(<"$kept"); rm -f "$kept"
  return "$status"
}

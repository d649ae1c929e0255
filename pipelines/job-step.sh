# Sourced by the hourly and nightly jobs: `step COMMAND...` runs COMMAND with its output (standard output and error)
# going to the job's log as it comes, so that a step the unit's time limit kills leaves what it had printed (a
# training's epochs), and kept in $step_output for a notice; its exit status is the step's. A log that can no longer
# be written (a closed pipe) stops neither the step nor what it keeps (tee -p). The copy kept is removed when the job
# ends, killed too (SIGTERM, as systemd stops a unit).
step_kept=
trap 'rm -f "$step_kept"' EXIT
step() {
  local status
  if ! step_kept=$(mktemp "${TMPDIR:-/tmp}/torpor-step.XXXXXX"); then
    step_kept=
    "$@" 2>&1; status=$?   # run all the same: only the notice's copy of its output is lost
    step_output="(its output is in the job's log: no temporary file in ${TMPDIR:-/tmp} to keep it for this notice)"
    return "$status"
  fi
  "$@" 2>&1 | tee -p "$step_kept"
  status=${PIPESTATUS[0]}
  step_output=$(<"$step_kept"); rm -f "$step_kept"; step_kept=
  return "$status"
}

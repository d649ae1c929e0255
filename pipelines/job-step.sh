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
    # No room for the copy: the output is held until the step ends, as before this file (what a notice needs, such as
    # the hourly plan's review line, is kept all the same).
    step_kept=
    echo "job-step.sh: no temporary file in ${TMPDIR:-/tmp}: $1's output comes when it ends" >&2
    step_output=$("$@" 2>&1); status=$?
    printf '%s\n' "$step_output"
    return "$status"
  fi
  "$@" 2>&1 | tee -p "$step_kept"
  status=${PIPESTATUS[0]}
  step_output=$(<"$step_kept"); rm -f "$step_kept"; step_kept=
  return "$status"
}

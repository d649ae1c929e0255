#!/usr/bin/env bash
# Checks the jobs' settings file: pipelines/check-env.sh [FILE] (default /etc/torpor/torpor.env). The jobs read it with
# bash (cron) and with systemd's EnvironmentFile= (the units): each line must read the same to both, and the paths in it
# must be absolute (the jobs run from / or root's home, a person's commands from anywhere). Prints each problem, the
# file and line named, and exits 2 when there is one; 0 and nothing printed when there is none. Run by install.sh
# (which then installs nothing) and by every watch (a file edited after the install is told to a person).
# check-env.sh --get NAME [FILE] prints NAME's value in the file alone (not the caller's environment), for install.sh.
set -uo pipefail
get=
if [ "${1:-}" = --get ]; then get=${2:?check-env.sh --get NAME [FILE]}; shift 2; fi
file=${1:-/etc/torpor/torpor.env}
{ [ -f "$file" ] && [ -r "$file" ]; } || { echo "$file cannot be read (not a readable file)"; exit 2; }
setting() {   # setting NAME: its value in the file alone (not in this shell's environment)
  env -i bash -c 'set -a; . "$1"; printf "%s" "${!2:-}"' - "$file" "$1" 2>/dev/null
}
if [ -n "$get" ]; then setting "$get"; exit; fi
found=0
problem() { echo "$file$1"; found=1; }
# (grep stops at the first itself: a `| head -1` would kill it by SIGPIPE, which pipefail takes for no match.)
if crlf=$(grep -n -m1 $'\r' "$file"); then
  problem " line ${crlf%%:*} ends in a carriage return (CRLF line endings: convert the file with dos2unix)"
fi
# The jobs read it with bash (cron, errors fatal): one bash cannot read runs none of them.
readable=yes
if ! why=$(bash -ec 'set -a; . "$1"' - "$file" 2>&1 >/dev/null) || [ -n "$why" ]; then
  problem " cannot be read by bash: ${why:-?} (quote a value with spaces in single quotes)"
  readable=no
fi
# systemd's EnvironmentFile= reads what bash says not a word about otherwise: an unquoted value's trailing "# comment"
# is kept in the value, `export` lines are dropped, $VAR and ~ are not expanded, & and > mean nothing. Each line must
# read the same to both: NAME=value of plain characters, or the whole value in quotes.
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  trimmed=${line#"${line%%[![:space:]]*}"}; trimmed=${trimmed%"${trimmed##*[![:space:]]}"}
  case $trimmed in ''|'#'*|';'*) continue ;; esac
  if ! [[ $trimmed =~ ^[A-Za-z_][A-Za-z0-9_]*=(\'[^\']*\'|\"[^\"\$\`\\]*\"|[-A-Za-z0-9_./:@%+,=]*)$ ]]; then
    problem " line $lineno: '$trimmed' is read otherwise by systemd's EnvironmentFile= than by bash (cron): give NAME=value of letters, digits and -_./:@%+,= or quote the whole value in single quotes (no export; a comment on a line of its own)"
  fi
done < "$file"
[ "$readable" = yes ] || exit 2   # its values are not what the jobs would read: the rest is not judged on them
[ -n "$(setting TORPOR_DB)" ] ||
  problem ": TORPOR_DB is empty: the jobs would each make a store where they run (./torpor.db); give the store's absolute path"
for name in TORPOR_DB TORPOR_BIN TORPOR_EVENT_LOG TORPOR_STATE_POOL TORPOR_WATCH_STATE TORPOR_METRICS_FILE TORPOR_POLICY TORPOR_PLANS TORPOR_CALENDARS; do
  values=("$(setting "$name")")
  [ "$name" != TORPOR_CALENDARS ] || read -ra values <<<"${values[0]}"   # a list of files
  for value in ${values[@]+"${values[@]}"}; do
    [ -z "$value" ] || [ "${value#/}" != "$value" ] ||
      problem ": $name '$value' is a relative path: the jobs and a person's commands run from different directories and would use different files; give an absolute path$(
        [ "$name" != TORPOR_CALENDARS ] || echo " (the list is split on spaces: a path with a space cannot be one of it; link the file from a path without one)")"
  done
done
# Settings for a test or a replay, never for the jobs: the executor's crash tests kill it mid-journal at a step or
# mid-call (every run would); TORPOR_NOW replays the jobs at a past time, recording plans of that hour (--replay).
for name in TORPOR_EXECUTE_KILL_AFTER_STEP TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS TORPOR_NOW; do
  [ -z "$(setting "$name")" ] || if [ "$name" = TORPOR_NOW ]; then
    problem ": TORPOR_NOW is set: the jobs would replay that time (plans of a past hour recorded as its); set it for a replay's run only, on a copy of the store"
  else
    problem ": $name is set: a crash test's setting (every executor run would kill itself mid-action); remove the line"
  fi
done
[ "$found" -eq 0 ] || exit 2

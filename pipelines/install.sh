#!/usr/bin/env bash
# Installs torpor's binaries and jobs: pipelines/install.sh [BIN_DIR] (default .build/release; `make install` builds
# them for it into .build-install/release, with Swift's runtime linked in), as root. Binaries to
# /usr/local/bin, the job scripts to /usr/local/lib/torpor, torpor.env to /etc/torpor and the logs' rotation to
# /etc/logrotate.d (never over edited ones), the store's and the logs' directories. DESTDIR=dir installs under dir
# instead (a staging tree, or a test). Then enable the cron file or the systemd units (pipelines/README.md). Safe to
# run twice: the upgrade path too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../.build/release}
root=${DESTDIR:-}
for tool in torpor-ingest torpor-train torpor-plan torpor-execute torpor-backtest; do
  [ -x "$bin/$tool" ] || { echo "install.sh: $bin/$tool is missing: build first (make install builds and installs)" >&2; exit 2; }
done
install -d "$root/usr/local/bin" "$root/usr/local/lib/torpor" "$root/etc/torpor" \
  "$root/var/lib/torpor/plans" "$root/var/log/torpor"
if [ -e "$root/etc/torpor/torpor.env" ]; then
  echo "kept $root/etc/torpor/torpor.env (the shipped one: $here/torpor.env)"
else
  install -m 0644 "$here/torpor.env" "$root/etc/torpor/torpor.env"
fi
# The settings are checked before anything else is installed: an upgrade refused for them changes nothing.
# (grep stops at the first itself: a `| head -1` would kill it by SIGPIPE, which pipefail takes for no match.)
if crlf=$(grep -n -m1 $'\r' "$root/etc/torpor/torpor.env"); then
  echo "install.sh: $root/etc/torpor/torpor.env line ${crlf%%:*} ends in a carriage return (CRLF line endings: convert the file with dos2unix); nothing installed" >&2
  exit 2
fi
# The jobs read them with bash (cron) and systemd: one bash cannot read runs none of them.
if ! why=$(bash -ec 'set -a; . "$1"' - "$root/etc/torpor/torpor.env" 2>&1 >/dev/null) || [ -n "$why" ]; then
  echo "install.sh: $root/etc/torpor/torpor.env cannot be read by bash: ${why:-?} (quote a value with spaces in single quotes); nothing installed" >&2
  exit 2
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
    echo "install.sh: $root/etc/torpor/torpor.env line $lineno: '$trimmed' is read otherwise by systemd's EnvironmentFile= than by bash" \
      "(cron): give NAME=value of letters, digits and -_./:@%+,= or quote the whole value in single quotes (no export; a comment" \
      "on a line of its own); nothing installed" >&2
    exit 2
  fi
done < "$root/etc/torpor/torpor.env"
# The jobs run from / (systemd) or root's home (cron), a person's commands from anywhere: a relative path among the
# settings names another file for each (a person's wake would open another store, or none).
setting() {   # setting NAME: its value in torpor.env alone (not in this shell's environment)
  env -i bash -c 'set -a; . "$1"; printf "%s" "${!2:-}"' - "$root/etc/torpor/torpor.env" "$1"
}
db=$(setting TORPOR_DB)
if [ -z "$db" ]; then
  echo "install.sh: $root/etc/torpor/torpor.env: TORPOR_DB is empty: the jobs would each make a store where they run (./torpor.db);" \
    "give the store's absolute path; nothing installed" >&2
  exit 2
fi
for name in TORPOR_DB TORPOR_BIN TORPOR_EVENT_LOG TORPOR_STATE_POOL TORPOR_WATCH_STATE TORPOR_METRICS_FILE TORPOR_POLICY TORPOR_PLANS TORPOR_CALENDARS; do
  values=("$(setting "$name")")
  [ "$name" != TORPOR_CALENDARS ] || read -ra values <<<"${values[0]}"   # a list of files
  for value in ${values[@]+"${values[@]}"}; do
    [ -z "$value" ] || [ "${value#/}" != "$value" ] || {
      echo "install.sh: $root/etc/torpor/torpor.env: $name '$value' is a relative path: the jobs and a person's commands run from" \
        "different directories and would use different files; give an absolute path; nothing installed" >&2
      exit 2; }
  done
done
# A new torpor may migrate the store (the first stage to open it does, often the executor): a migration that runs out of
# room fails, and with the old binaries gone nothing restores the VMs asleep until room is freed (the room kept for
# restores is no migration's size). So the store's filesystem must have room for the store again (an index rebuilt and
# its log) before anything is installed; TORPOR_UPGRADE_WITHOUT_ROOM=1 installs all the same (no migration expected).
if [ -f "$root$db" ] && [ "${TORPOR_UPGRADE_WITHOUT_ROOM:-}" != 1 ]; then
  size=$(( $(stat -c %s "$root$db") + $( [ -f "$root$db-wal" ] && stat -c %s "$root$db-wal" || echo 0) ))
  free=$(df --output=avail -B1 "$(dirname "$root$db")" | tail -n 1 | tr -d ' ')
  if [ "$free" -lt "$size" ]; then
    echo "install.sh: $root$db's filesystem has $free bytes free, less than the store's $size: a migration of the store by" \
      "the new torpor could run out of room and leave the VMs asleep without their restores; free room first (or" \
      "TORPOR_UPGRADE_WITHOUT_ROOM=1 if this upgrade migrates nothing); nothing installed" >&2
    exit 2
  fi
fi
# Every tool and job script is copied beside its target first (.NAME.new); only once all are copied is each moved over
# its target: a job or a person's command started meanwhile never finds one missing or half-written (GNU install
# unlinks the old file, then writes), and a copy that fails (a full /usr/local) leaves the installed set as it was.
staged=()   # the targets whose new copy waits beside them
stage() {   # stage DIR FILE...
  local dir=$1 file target; shift
  for file in "$@"; do
    target="$dir/$(basename "$file")"
    if ! install -m 0755 "$file" "$dir/.$(basename "$file").new"; then
      for target in ${staged[@]+"${staged[@]}"} "$target"; do rm -f "$(dirname "$target")/.$(basename "$target").new"; done
      echo "install.sh: cannot copy $file into $dir: the installed files are unchanged" >&2
      exit 1
    fi
    staged+=("$target")
  done
}
# The scripts the jobs source or call before the jobs themselves, the jobs before the tools they run.
stage "$root/usr/local/lib/torpor" "$here"/{job-step,one-at-a-time,notify,ingest-sources,collect,hourly,nightly,execute,watch}.sh
stage "$root/usr/local/bin" "$bin"/torpor-{ingest,train,plan,execute,backtest}
for target in "${staged[@]}"; do mv -f "$(dirname "$target")/.$(basename "$target").new" "$target"; done
install -m 0644 "$here/cron/torpor" "$root/usr/local/lib/torpor/cron"
install -d "$root/etc/logrotate.d"
if [ -e "$root/etc/logrotate.d/torpor" ]; then
  echo "kept $root/etc/logrotate.d/torpor (the shipped one: $here/logrotate/torpor)"
else
  install -m 0644 "$here/logrotate/torpor" "$root/etc/logrotate.d/torpor"
fi
install -d "$root/usr/local/lib/torpor/systemd"
install -m 0644 "$here"/systemd/*.{service,timer} "$root/usr/local/lib/torpor/systemd/"
# An executor following the clock runs the binary it started with: once a new stage migrates the store, it only restores
# and wakes (no new hibernation) until restarted. Said loudly rather than restarted here: a restart mid-save is the
# operator's call.
if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet torpor-execute.service 2>/dev/null; then
  echo "install.sh: WARNING: torpor-execute.service still runs the old binary: restart it (systemctl restart torpor-execute.service)," \
    "else once the store is migrated it only restores and wakes, no new hibernation" >&2
fi
cat <<EOT
installed under ${root:-/}: binaries in /usr/local/bin, jobs in /usr/local/lib/torpor, settings in /etc/torpor/torpor.env
next: edit /etc/torpor/torpor.env (policy, calendars, Prometheus, notify command), load it in your shell for the
  commands you run by hand (set -a; . /etc/torpor/torpor.env; set +a: else they read ./torpor.db), run the inventory
  once (torpor-ingest inventory --uri qemu:///system), then either
  cp /usr/local/lib/torpor/cron /etc/cron.d/torpor, or
  cp /usr/local/lib/torpor/systemd/* /etc/systemd/system/ && systemctl daemon-reload &&
  systemctl enable --now torpor-collect.timer torpor-hourly.timer torpor-nightly.timer torpor-watch.timer torpor-execute.service
  (an upgrade: copy the cron file or the units again, then systemctl daemon-reload && systemctl restart torpor-execute.service)
EOT

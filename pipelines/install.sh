#!/usr/bin/env bash
# Installs torpor's binaries and jobs: pipelines/install.sh [BIN_DIR] (default .build-install/release, where `make
# install` builds them with Swift's runtime linked in, else .build/release), as root. Binaries to
# /usr/local/bin, the job scripts and the cron file to /usr/local/lib/torpor, the systemd units to
# /usr/local/lib/systemd/system, torpor.env to /etc/torpor and the logs' rotation to
# /etc/logrotate.d (never over edited ones), the store's and the logs' directories. DESTDIR=dir installs under dir
# instead (a staging tree, or a test). Then enable the cron file or the systemd units (pipelines/README.md). Safe to
# run twice: the upgrade path too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../.build-install/release}
[ -n "${1:-}" ] || [ -d "$bin" ] || bin=$here/../.build/release
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
if ! problems=$("$here/check-env.sh" "$root/etc/torpor/torpor.env"); then
  sed 's/^/install.sh: /' <<<"$problems" >&2
  echo "install.sh: nothing installed (the settings above: $root/etc/torpor/torpor.env)" >&2
  exit 2
fi
db=$("$here/check-env.sh" --get TORPOR_DB "$root/etc/torpor/torpor.env")
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
stage "$root/usr/local/lib/torpor" "$here"/{job-step,one-at-a-time,notify,check-env,ingest-sources,collect,hourly,nightly,execute,watch}.sh
stage "$root/usr/local/bin" "$bin"/torpor-{ingest,train,plan,execute,backtest}
for target in "${staged[@]}"; do mv -f "$(dirname "$target")/.$(basename "$target").new" "$target"; done
install -m 0644 "$here/cron/torpor" "$root/usr/local/lib/torpor/cron"
install -d "$root/etc/logrotate.d"
if [ -e "$root/etc/logrotate.d/torpor" ]; then
  echo "kept $root/etc/logrotate.d/torpor (the shipped one: $here/logrotate/torpor)"
else
  install -m 0644 "$here/logrotate/torpor" "$root/etc/logrotate.d/torpor"
fi
# The units where systemd looks for those an administrator installs (enabled by a person: cron or systemd, not both);
# a change to one goes in a drop-in (systemctl edit UNIT), which an upgrade keeps. Copies an older torpor had a person
# put in /etc/systemd/system would stand before these: said.
units=$root/usr/local/lib/systemd/system
shadowing=()   # a copy, or a link (dangling too), in /etc/systemd/system
for unit in "$here"/systemd/*.{service,timer,path}; do
  copy=$root/etc/systemd/system/$(basename "$unit")
  if [ -e "$copy" ] || [ -L "$copy" ]; then shadowing+=("$copy"); fi
done
install -d "$units"
install -m 0644 "$here"/systemd/*.{service,timer,path} "$units/"
rm -rf "$root/usr/local/lib/torpor/systemd"   # where an older torpor left them, for a person to copy
if [ ${#shadowing[@]} -gt 0 ]; then
  echo "install.sh: WARNING: ${shadowing[*]} stand before the units installed in $units (copies of an older torpor's):" \
    "systemctl disable each, remove them, systemctl daemon-reload, then systemctl enable them again (a change of your own" \
    "goes in systemctl edit UNIT)" >&2
fi
# The reviewers' group: its members show, diff and approve plans, and read status and check, without root. They may
# read and write the store (SQLite writes beside it even to read: its -wal and -shm, which torpor keeps), read the
# plans, never make or replace a file in these folders (root:torpor 2750: a link planted there would be written
# through by root), nor read the state pool (its images are the VMs' memory: 0700 and 0600, root's). Membership is
# root-equivalent, as libvirt's own group is: the store is theirs to write, and root acts on it. Folders outside /var/lib/torpor are a person's: said, not changed. Under
# DESTDIR, a package makes the group and these modes in its own install step; a group already here is used.
group=torpor
if ! getent group "$group" >/dev/null; then
  if [ -z "$root" ]; then
    PATH=$PATH:/usr/sbin:/sbin groupadd --system "$group"
  else
    echo "install.sh: no group $group on this machine: the package must make it (groupadd --system $group) and give it" \
      "/var/lib/torpor, the plans' folder (root:$group 2750) and the store (0660)" >&2
    group=
  fi
fi
if [ -n "$group" ]; then
  plans=$("$here/check-env.sh" --get TORPOR_PLANS "$root/etc/torpor/torpor.env")
  plans=${plans:-/var/lib/torpor/plans}
  shared=()   # the folders given to the group
  for folder in /var/lib/torpor "$(dirname "$db")" "$plans"; do
    case $folder in
      /var/lib/torpor|/var/lib/torpor/*)
        if [ -L "$root$folder" ]; then echo "install.sh: $root$folder is a link: not given to $group" >&2; continue; fi
        install -d "$root$folder"; chgrp "$group" "$root$folder"; chmod 2750 "$root$folder"; shared+=("$folder") ;;
      *) echo "install.sh: $folder is not torpor's own folder: for reviewers without root, chgrp $group $folder; chmod 2750 $folder" >&2 ;;
    esac
  done
  # What an older torpor made there, never through a link: the store and its log (0660), the reserve's folder (the
  # group looks, for check), the plans (read).
  given() {   # given FILE: there, not a link, in a folder given to the group
    local folder
    { [ ! -L "$1" ] && [ -e "$1" ]; } || return 1
    for folder in ${shared[@]+"${shared[@]}"}; do [ "$(dirname "${1#"$root"}")" != "$folder" ] || return 0; done
    return 1
  }
  # A member cannot make the store's -wal and -shm (torpor keeps them once a stage has opened the store; an older
  # torpor, or sqlite3, removed them when it closed): made empty when absent, as SQLite takes them (noclobber: O_EXCL,
  # never truncating one a running executor has just made).
  if given "$root$db"; then
    for file in "$root$db" "$root$db-wal" "$root$db-shm"; do
      if given "$file" || (set -C; : >"$file") 2>/dev/null; then chgrp "$group" "$file"; chmod 0660 "$file"; fi
    done
  fi
  if given "$root$db.reserve"; then chgrp "$group" "$root$db.reserve"; chmod 0750 "$root$db.reserve"; fi
  for file in "$root$plans"/*.json; do
    if given "$file"; then chgrp "$group" "$file"; chmod g+r "$file"; fi
  done
fi
# An executor following the clock runs the binary it started with: once a new stage migrates the store, it only restores
# and wakes (no new hibernation) until restarted. Said loudly rather than restarted here: a restart mid-save is the
# operator's call.
if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet torpor-execute.service 2>/dev/null; then
  echo "install.sh: WARNING: torpor-execute.service still runs the old binary: restart it (systemctl restart torpor-execute.service)," \
    "else once the store is migrated it only restores and wakes, no new hibernation" >&2
fi
# Every notice (a VM asleep past its restore, a failed job, a plan awaiting review) goes to TORPOR_NOTIFY: the shipped
# command only writes to syslog, where nobody is told.
if [ "$("$here/check-env.sh" --get TORPOR_NOTIFY "$root/etc/torpor/torpor.env")" = "logger -t torpor" ]; then
  echo "install.sh: WARNING: TORPOR_NOTIFY in $root/etc/torpor/torpor.env is still the shipped 'logger -t torpor': notices" \
    "(a VM asleep past its restore, a failed job, a plan awaiting review) reach syslog only, no person; set it to a command" \
    "a person reads, e.g. 'mail -s torpor ops@example.com'" >&2
fi
cat <<EOT
installed under ${root:-/}: binaries in /usr/local/bin, jobs in /usr/local/lib/torpor, units in /usr/local/lib/systemd/system,
  settings in /etc/torpor/torpor.env
next: edit /etc/torpor/torpor.env (TORPOR_NOTIFY first: who is told; then the policy, calendars, Prometheus), check it
  (/usr/local/lib/torpor/check-env.sh; every watch checks it again), load it in your shell for the commands you run by
  hand (set -a; . /etc/torpor/torpor.env; set +a: else they read ./torpor.db), run the inventory once (torpor-ingest
  inventory --uri qemu:///system), then either
  cp /usr/local/lib/torpor/cron /etc/cron.d/torpor, or
  systemctl daemon-reload && systemctl enable --now torpor-collect.timer torpor-hourly.timer torpor-nightly.timer torpor-watch.timer torpor-execute.service torpor-settings.path
  (an upgrade: copy the cron file again, or systemctl daemon-reload && systemctl enable --now torpor-settings.path; then
  restart the executor: systemctl restart torpor-execute.service)
EOT

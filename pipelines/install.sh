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
install -m 0755 "$bin"/torpor-{ingest,train,plan,execute,backtest} "$root/usr/local/bin/"
install -m 0755 "$here"/{collect,ingest-sources,hourly,nightly,execute,notify,watch,one-at-a-time}.sh "$root/usr/local/lib/torpor/"
if [ -e "$root/etc/torpor/torpor.env" ]; then
  echo "kept $root/etc/torpor/torpor.env (the shipped one: $here/torpor.env)"
else
  install -m 0644 "$here/torpor.env" "$root/etc/torpor/torpor.env"
fi
# The jobs read it with bash (cron) and systemd: one bash cannot read runs none of them.
if ! why=$(bash -ec 'set -a; . "$1"' - "$root/etc/torpor/torpor.env" 2>&1 >/dev/null) || [ -n "$why" ]; then
  echo "install.sh: $root/etc/torpor/torpor.env cannot be read by bash: ${why:-?} (quote a value with spaces in single quotes)" >&2
  exit 2
fi
install -m 0644 "$here/cron/torpor" "$root/usr/local/lib/torpor/cron"
install -d "$root/etc/logrotate.d"
if [ -e "$root/etc/logrotate.d/torpor" ]; then
  echo "kept $root/etc/logrotate.d/torpor (the shipped one: $here/logrotate/torpor)"
else
  install -m 0644 "$here/logrotate/torpor" "$root/etc/logrotate.d/torpor"
fi
install -d "$root/usr/local/lib/torpor/systemd"
install -m 0644 "$here"/systemd/*.{service,timer} "$root/usr/local/lib/torpor/systemd/"
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

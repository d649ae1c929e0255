#!/usr/bin/env bash
# Starts a real libvirtd (and virtlogd) as root without systemd, as this machine kind allows (see DESIGN.md):
# the libvirt-qemu user, libvirt's run/log/lib folders, and a qemu.conf that runs guests as root without a security
# driver or cgroups. Copes with a libvirtd already running. Safe to run twice.
set -euo pipefail
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd --system --gid libvirt-qemu --no-create-home --shell /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt /etc/libvirt
conf=/etc/libvirt/qemu.conf
touch "$conf"
set_option() {   # set_option KEY VALUE: replace or append `KEY = VALUE`
  if grep -qE "^\s*$1\s*=" "$conf"; then sed -i -E "s|^\s*$1\s*=.*|$1 = $2|" "$conf"; else echo "$1 = $2" >> "$conf"; fi
}
set_option user '"root"'
set_option group '"root"'
set_option security_driver '"none"'
set_option cgroup_controllers '[ ]'
pgrep -x virtlogd >/dev/null || virtlogd -d
if ! pgrep -x libvirtd >/dev/null; then
  libvirtd -d
fi
for _ in $(seq 1 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
  sleep 0.2
done
echo "libvirtd did not answer on qemu:///system" >&2
exit 1

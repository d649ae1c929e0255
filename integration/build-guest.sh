#!/usr/bin/env bash
# Builds the tiny real Linux guest of the integration suite into integration/guest/ (safe to run twice):
# Debian's cloud kernel (direct kernel boot) and an initramfs of busybox-static whose init keeps a counter in RAM and
# prints it on the serial console every second, so a restored guest shows that its memory survived.
set -euo pipefail
cd "$(dirname "$0")"
out=guest
mkdir -p "$out"
if [ ! -s "$out/vmlinuz" ]; then
  work=$(mktemp -d)
  package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [ -z "$package" ]; then apt-get update -qq; package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); fi
  [ -n "$package" ] || package=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -1)
  (cd "$work" && apt-get download "$package" >/dev/null 2>&1)
  dpkg-deb -x "$work"/*.deb "$work/root"
  cp "$work"/root/boot/vmlinuz-* "$out/vmlinuz"
  rm -rf "$work"
fi
# The guest's init: a RAM counter on the serial console every second, and every FRESH_EVERY seconds FRESH_MIB of new
# random bytes written over a file in RAM (so consecutive saved images differ by a known amount).
init=$(cat <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
n=0
while true; do
  n=$((n + 1))
  echo "torpor-counter $n" > /dev/ttyS0
  if [ $((n % 10)) -eq 0 ]; then dd if=/dev/urandom of=/tmp/fresh bs=1048576 count=4 2>/dev/null; fi
  sleep 1
done
INIT
)
if [ ! -s "$out/initramfs.cpio.gz" ] || [ "$(cat "$out/init" 2>/dev/null)" != "$init" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,dev,proc,sys,tmp}
  cp /bin/busybox "$root/bin/busybox"
  for tool in sh echo sleep mount cat dd; do ln -sf busybox "$root/bin/$tool"; done
  printf '%s\n' "$init" > "$root/init"
  printf '%s' "$init" > "$out/init"
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -9 > "$OLDPWD/$out/initramfs.cpio.gz")
  rm -rf "$root"
fi
ls -la "$out"

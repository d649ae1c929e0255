#!/usr/bin/env bash
# State pool benchmark: chunking + hashing throughput of torpor's content-defined chunker against `sha256sum` of the
# same image (the floor for hashing), alternating, same run; then taking the image into a pool, first and unchanged.
# The image is a real libvirt managed-save image of the integration guest when one can be made, else random bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
OUT=bench/out
mkdir -p "$OUT"
IMAGE=${IMAGE:-$OUT/guest.save}
if [ ! -s "$IMAGE" ]; then
  if ./integration/start-libvirtd.sh && ./integration/build-guest.sh >/dev/null; then
    sed "s|@GUEST@|$PWD/integration/guest|g; s|@NAME@|torpor-bench|g; s|@CONSOLE@|/tmp/torpor-bench.console|g" integration/guest.xml.in > "$OUT/guest.xml"
    virsh -q -c qemu:///system destroy torpor-bench >/dev/null 2>&1 || true
    virsh -q -c qemu:///system create "$OUT/guest.xml" >/dev/null
    sleep 15
    virsh -q -c qemu:///system save torpor-bench "$IMAGE" >/dev/null
    touch "$IMAGE.real"   # a real libvirt save image: the restore latency below can use it
  else
    head -c $((256 << 20)) /dev/urandom > "$IMAGE"
  fi
fi
bytes=$(stat -c %s "$IMAGE")
for round in 1 2 3; do
  s=$( { /usr/bin/time -f %e sha256sum "$IMAGE" >/dev/null; } 2>&1 )
  line=$("$BIN/torpor-bench-statepool" "$IMAGE" "$OUT/pool")
  echo "round $round: sha256sum ${s}s; torpor $line"
  echo "$s" >> "$OUT/sha.times"; echo "$line" >> "$OUT/statepool.json"
done
sha_mb_s=$(sort -g "$OUT/sha.times" | sed -n 2p | awk -v b="$bytes" '{printf "%.0f", b / 1e6 / $1}')
torpor_mb_s=$(grep -o '"chunk_hash_mb_s": [0-9]*' "$OUT/statepool.json" | awk '{print $2}' | sort -g | sed -n 2p)
{
  echo "| image ($((bytes / 1048576)) MiB) | MB/s (median of 3) |"
  echo "|---|---|"
  echo "| sha256sum | $sha_mb_s |"
  echo "| torpor chunk (FastCDC, 16 KiB avg) + SHA-256 per chunk | $torpor_mb_s |"
  echo
  echo "torpor / sha256sum: **$(echo "$torpor_mb_s / $sha_mb_s" | bc -l | xargs printf '%.2f')×**"
  echo
  echo "take into a pool (chunk, hash, write new chunks with fsync), last round: \`$(tail -1 "$OUT/statepool.json")\`"
} | tee "$OUT/statepool.md"
rm -f "$OUT/sha.times" "$OUT/statepool.json"

# Restore latency: `virsh restore` of libvirt's image against rebuilding it from the pool (verified) + `virsh restore`.
if [ -e "$IMAGE.real" ]; then
  URI=qemu:///system
  for round in 1 2 3; do
    v=$( { /usr/bin/time -f %e virsh -q -c $URI restore "$IMAGE" >/dev/null; } 2>&1 ); virsh -q -c $URI destroy torpor-bench >/dev/null
    m=$("$BIN/torpor-bench-statepool" materialize "$OUT/pool" "$OUT/rebuilt.save")
    r=$( { /usr/bin/time -f %e virsh -q -c $URI restore "$OUT/rebuilt.save" >/dev/null; } 2>&1 ); virsh -q -c $URI destroy torpor-bench >/dev/null
    rm -f "$OUT/rebuilt.save"
    echo "round $round: virsh restore ${v}s; from the pool: rebuild ${m}s + virsh restore ${r}s"
    echo "$v $m $r" >> "$OUT/restore.rounds"
  done
  read -r v m r < <(sort -g -k1 "$OUT/restore.rounds" | sed -n 2p)
  total=$(echo "$m + $r" | bc)
  echo "restore latency (round with the median virsh time): virsh restore ${v}s; from the pool ${total}s (rebuild ${m}s + restore ${r}s): $(echo "scale=2; $total / $v" | bc)×" | tee -a "$OUT/statepool.md"
  rm -f "$OUT/restore.rounds"
fi

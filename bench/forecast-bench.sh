#!/usr/bin/env bash
# Forecast engine benchmark: training samples/s of torpor's LSTM vs PyTorch's CPU LSTM at the reference shapes
# (../shared/bench/pytorch_lstm_reference.py: input 16, hidden 64, 1-2 layers, seq 168/288, batch 64/256, 24 outputs,
# Adam), same run, alternating torpor and both PyTorch paths (oneDNN, --native); 1 thread (the figure that counts) and
# 2 threads. Also torpor's GFLOP/s against cblas_sgemm at the model's own GEMM shapes (per configuration: the time
# cblas_sgemm alone takes for exactly one training step's GEMMs, so "share of sgemm" = torpor's samples/s over that
# bound), and inference for 10,000 VMs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
SECS=${SECS:-3}
OUT=bench/out
REF=${TORPOR_SHARED_DATA:-../shared/data}/../bench/pytorch_lstm_reference.py
mkdir -p "$OUT"
PY=.venv-bench/bin/python
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch' 2>/dev/null; then
  python3 -m venv .venv-bench && .venv-bench/bin/pip install -q 'torch==2.13.0+cpu' numpy || true
fi
peer=yes
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch could not be installed: the peer is skipped"; peer=no; }
: > "$OUT/forecast.jsonl"
for threads in 1 2; do
  "$BIN/torpor-bench-forecast" --threads $threads --secs "$SECS" | sed 's/^/torpor /' >> "$OUT/forecast.jsonl"
  if [ $peer = yes ]; then
    "$PY" "$REF" --threads $threads --secs "$SECS" | sed 's/^/torch /' >> "$OUT/forecast.jsonl"
    "$PY" "$REF" --threads $threads --secs "$SECS" --native | sed 's/^/torchnative /' >> "$OUT/forecast.jsonl"
  fi
done
python3 - "$OUT/forecast.jsonl" <<'PY' | tee "$OUT/forecast.md"
import json, sys
rows = {}
sgemm = {}
for line in open(sys.argv[1]):
    impl, data = line.split(' ', 1)
    d = json.loads(data)
    if d['mode'] == 'sgemm':
        sgemm[(d['threads'], d['shape'])] = d['gflops']; continue
    rows.setdefault((d['mode'], d['threads'], d['layers'], d['seq'], d['batch']), {})[impl] = d
for mode in ('train', 'infer'):
    print(f"\n### {mode}ing samples/s\n")
    share = mode == 'train'
    print("| threads | layers | seq | batch | torpor | PyTorch oneDNN | PyTorch native | torpor / best PyTorch | torpor GFLOP/s |"
          + (" sgemm alone, same GEMMs | share of sgemm |" if share else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if share else ""))
    for key in sorted(k for k in rows if k[0] == mode):
        r = rows[key]; t = r['torpor']['samples_per_s']
        a = r.get('torch', {}).get('samples_per_s'); b = r.get('torchnative', {}).get('samples_per_s')
        best = max(x for x in (a, b) if x) if (a or b) else None
        ratio = f"**{t / best:.2f}×**" if best else "-"
        bound = r['torpor'].get('sgemm_bound_samples_per_s')
        extra = f" {bound:.0f} | **{100 * t / bound:.0f} %** |" if share and bound else ""
        print(f"| {key[1]} | {key[2]} | {key[3]} | {key[4]} | {t:.0f} | {a or '-'} | {b or '-'} | {ratio} | {r['torpor']['eff_gflops']} |" + extra)
print("\n### cblas_sgemm alone at the model's shapes (GFLOP/s)\n")
print("| threads | shape | GFLOP/s |\n|---|---|---|")
for (threads, shape), g in sorted(sgemm.items()): print(f"| {threads} | {shape} | {g} |")
r = rows.get(('infer', 2, 1, 168, 256), {}).get('torpor')
if r: print(f"\nInference for 10,000 VMs (seq 168, 1 layer, batch 256, 2 threads): {10000 / r['samples_per_s']:.2f} s")
PY

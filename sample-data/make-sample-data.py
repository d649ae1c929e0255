#!/usr/bin/env python3
"""Rebuilds sample-data/traces and sample-data/prometheus from the real traces in ../shared/data (run from the repo root).

The demo fleet is seven Bitbrains GWA-T-12 "Rnd" VMs (BSD-2-Clause), renamed to operator-like names, over the last
35 days of the trace (2013-08-25 … 2013-09-29). Lines are copied byte for byte from the source files; only the
selection of rows is ours. The Prometheus export is the same VMs' CPU usage for the last two days, written as a
`/api/v1/query_range` response (as a libvirt exporter + rate() query would give it).
"""
import gzip, json, os, sys

SOURCE = os.environ.get("TORPOR_SHARED_DATA", "../shared/data") + "/traces/bitbrains_rnd"
DAYS = 35
# Bitbrains file number → demo name. Chosen by how much of the hourly-max CPU variance the hour-of-day profile
# explains (R²) and the lag-24h autocorrelation (ac), computed over the same 35 days:
FLEET = {
    5: "web-01",        # R² 0.93, ac 0.95: strong daily cycle, idle (< 5 %) 74 % of hours
    4: "web-02",        # R² 0.75, ac 0.81: daily cycle, idle 92 % of hours
    6: "api-01",        # R² 0.48, ac 0.52: daily cycle, never idle
    34: "batch-01",     # R² 0.15, ac 0.38: nightly-ish batches, idle 74 % of hours
    33: "ci-runner-01", # R² 0.06, ac 0.48: bursty
    41: "db-01",        # ac 0.58, busy; absent (0 cores, 0 memory) for long stretches: missing, never idle
    25: "legacy-01",    # R² 0.06, ac 0.01: noisy and never idle, nothing to predict
}

def rows(number):
    header, lines = None, []
    for month in ("2013-8", "2013-9"):
        with gzip.open(f"{SOURCE}/{month}/{number}.csv.gz", "rb") as f:
            h = f.readline()
            header = header or h
            lines += [line for line in f if line.strip()]
    return header, lines

def timestamp(line):
    return int(line.split(b";")[0])

export = []
for number, name in FLEET.items():
    header, lines = rows(number)
    last = max(timestamp(l) for l in lines)
    keep = [l for l in lines if timestamp(l) >= last - DAYS * 86400]
    with open(f"sample-data/traces/bitbrains/{name}.csv", "wb") as out:
        out.write(header)
        out.writelines(keep)
    os.system(f"gzip -9 -n -f sample-data/traces/bitbrains/{name}.csv")
    if name in ("web-01", "batch-01"):
        values = []
        for l in keep:
            t, cores = timestamp(l), float(l.split(b";")[1])
            if t >= last - 2 * 86400 and cores > 0:
                values.append([t, l.split(b";")[4].strip().decode()])
        export.append({"metric": {"domain": name, "job": "libvirt-exporter", "instance": "kvm-01:9177"}, "values": values})
    print(f"{name}: Bitbrains #{number}, {len(keep)} rows, {keep[0].split(b';')[0].decode()} … {last}")

response = {"status": "success", "data": {"resultType": "matrix", "result": export}}
with open("sample-data/prometheus/cpu-last-2-days.json", "w") as out:
    json.dump(response, out, indent=1)

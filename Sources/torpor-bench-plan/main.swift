import Foundation
import TorporCore
import TorporIngest
import TorporStore
import TorporTrain

// Builds the planning benchmark's store: a fleet of N VMs whose hourly CPU demand is the real demand of the seven
// sample Bitbrains VMs, each copy shifted by a random number of hours and scaled, over the 28 days before --now;
// spread over 20 hosts and 200 label groups, tiers gold/silver/bronze. With SECONDS (300: the libvirt collector's 5
// minutes) each hour is that many samples of its demand, each with the VM's `vcpus` and `mem_capacity`, as the
// collector writes them; without, one sample per hour.
// Usage: torpor-bench-plan STORE VMS NOW [SECONDS]
let arguments = CommandLine.arguments
guard [4, 5].contains(arguments.count), let count = Int(arguments[2]), let now = UTC.parseInstant(arguments[3]),
      let every = arguments.count == 5 ? Int64(arguments[4]) : 3600, every > 0, 3600 % every == 0 else {
    StandardError.line("usage: torpor-bench-plan STORE VMS NOW [SECONDS, a divisor of 3600]")
    exit(2)
}
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let hour0 = now - now % 3600
let from = hour0 - 28 * 86_400

// The seeds: the sample VMs' hourly demand, from a scratch store.
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-bench-plan-\(UUID().uuidString).db").path
defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch + suffix) } }
let seedStore = try Store(path: scratch)
var mapping = try CSVMapping.load(path: repository + "/sample-data/mappings/bitbrains.yaml")
mapping.vm?.prefix = ""
let traces = repository + "/sample-data/traces/bitbrains/"
var seeds: [[Float]] = []
for file in try FileManager.default.contentsOfDirectory(atPath: traces).filter({ $0.hasSuffix(".csv.gz") }).sorted() {
    _ = try CSVIngester(store: seedStore).ingest(path: traces + file, mapping: mapping, now: now)
    let vm = String(file.dropLast(".csv.gz".count))
    seeds.append(try seedStore.read { try HourlySeries.load(vm: vm, from: from - 86_400, to: hour0, in: $0) }.values)
}

let store = try Store(path: arguments[1])
var random = SystemRandomNumberGenerator()
let started = Date()
// A transaction per 500 VMs: at 5-minute samples one for the whole fleet would hold gigabytes in the WAL.
for batch in stride(from: 0, to: count, by: 500) {
    try store.transaction { db in
        let writer = try SampleWriter(db: db)
        let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
        let allocation = every < 3600 ? [(try writer.metricID(try MetricBinding.make(metric: "vcpus", unit: "count").get()), 2.0),
                                         (try writer.metricID(try MetricBinding.make(metric: "mem_capacity", unit: "bytes").get()), Double(4 << 30))] : []
        for i in batch..<min(count, batch + 500) {
            let name = String(format: "vm-%05d", i)
            let id = try VMRepository.id(of: name, in: db, now: now)
            try VMRepository.setPlacement(vm: id, hostURI: "qemu+ssh://kvm-\(i % 20)/system",
                                          labels: ["group": "g\(i % 200)", "tier": ["gold", "silver", "bronze"][i % 3]], in: db)
            try VMRepository.setAllocation(vm: id, vcpus: 2, memoryBytes: 4 << 30, observedAt: now, in: db)
            let seed = seeds[i % seeds.count], shift = Int.random(in: 0..<24, using: &random), scale = Float.random(in: 0.5...1.5, using: &random)
            for h in 0..<28 * 24 {
                let v = seed[h + 24 - shift]
                guard !v.isNaN else { continue }
                for time in stride(from: from + Int64(h) * 3600, to: from + Int64(h + 1) * 3600, by: Int(every)) {
                    _ = try writer.add(vm: id, metric: cpu, time: time, value: Double(min(100, v * scale)))
                    for (metric, value) in allocation { _ = try writer.add(vm: id, metric: metric, time: time, value: value) }
                }
            }
        }
        try writer.finish()
    }
}
print("{\"vms\": \(count), \"seconds\": \(String(format: "%.1f", Date().timeIntervalSince(started)))}")

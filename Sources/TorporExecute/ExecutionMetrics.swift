import Foundation
import GRDB
import TorporCore
import TorporStore

/// `torpor-execute metrics`: what the executor holds and did, in Prometheus's text format, for node_exporter's textfile
/// collector (the watch writes it each run: `TORPOR_METRICS_FILE`) or any scraper of a file. Every metric is a gauge of
/// now or of the last day, none a counter: the journal's prune would turn a counter back.
public enum ExecutionMetrics {
    /// The metrics at `now`; `problems` are `check`'s at the same time. `replaying` (a `--now` given): what was asleep
    /// then, from the journal, not what is asleep now.
    public static func render(store: Store, now: EpochSeconds, replaying: Bool = false, problems: [ExecutionCheck.Problem]) throws -> String {
        try store.read { db in
            var out = Exposition()
            out.gauge("torpor_metrics_time_seconds", "When torpor-execute metrics read the store (its --now).", [([:], Double(now))])
            out.gauge("torpor_hibernations_paused", "1 while torpor-execute pause holds every new hibernation back (restores go on).",
                      [([:], try ExecutorSettings.paused(in: db) ? 1 : 0)])
            let owed = try DueActions.owedRestores(now: now, replaying: replaying, in: db), held = try JournalRepository.held(in: db).values
            let hosts = Set(try VMRepository.all(in: db).compactMap(\.hostURI)).union(owed.map(\.host)).union(held.map(\.host))
            /// How many of `items` are on each host (0 for a host with none: an alert on a series that vanishes misses it).
            func perHost(_ items: [String]) -> [([String: String], Double)] {
                hosts.sorted().map { host in (["host": host], Double(items.filter { $0 == host }.count)) }
            }
            out.gauge("torpor_vms_asleep", "VMs torpor holds asleep, by host.", perHost(owed.map(\.host)))
            out.gauge("torpor_restores_due", "VMs asleep whose restore is due now and not yet done, by host.", perHost(owed.filter { $0.at <= now }.map(\.host)))
            out.gauge("torpor_hibernations_held", "Due hibernations the last run held back (busy, paused, a guardrail, ...), by host.", perHost(held.map(\.host)))
            out.gauge("torpor_problems", "What torpor-execute check names, by kind: each needs a person (the watch tells one).",
                      ExecutionCheck.Kind.allCases.map { kind in (["kind": kind.rawValue], Double(problems.filter { $0.kind == kind }.count)) })
            if let (plan, _) = try DueActions.approvedPlan(now: now, in: db) {
                out.gauge("torpor_approved_plan_valid_until_seconds", "When the newest approved plan stops starting hibernations.",
                          [([:], Double(plan.validUntil.seconds))])
            }
            let collected = try hosts.sorted().compactMap { host in
                try SourceRepository.lastIngested(kind: "libvirt", location: host, by: now, in: db).map { (["host": host], Double($0)) }
            }
            out.gauge("torpor_collection_last_seconds", "When the libvirt collector last stored a host's samples.", collected)

            let dayAgo = now - 86_400
            let restored = try JournalRepository.entries(of: .restore, step: .done, from: dayAgo, to: now, in: db)
            let restoresFailed = try JournalRepository.entries(of: .restore, from: dayAgo, to: now, in: db)
            out.gauge("torpor_restores_last_day", "Restores in the last day: done by their deadline, done after it (an SLA violation), or failed (tried again).",
                      [(["outcome": "on_time"], Double(restored.filter { $0.late != true }.count)), (["outcome": "late"], Double(restored.filter { $0.late == true }.count)),
                       (["outcome": "failed"], Double(restoresFailed.count))])
            let hibernated = try JournalRepository.entries(of: .hibernate, step: .done, from: dayAgo, to: now, in: db)
            let hibernationsFailed = try JournalRepository.entries(of: .hibernate, from: dayAgo, to: now, in: db)
            out.gauge("torpor_hibernations_last_day", "Hibernations in the last day: done, or failed (the VM left running).",
                      [(["outcome": "done"], Double(hibernated.count)), (["outcome": "failed"], Double(hibernationsFailed.count))])
            // The VMs asleep at some time in the day: asleep now, or a sleep that began or ended in it.
            let sleepers = Set(owed.map(\.vm) + restored.map(\.vm) + hibernated.map(\.vm))
            let asleep = try sleepers.reduce(into: Int64(0)) { total, vm in
                for sleep in try JournalRepository.hibernatedIntervals(vm: vm, from: dayAgo, now: now, in: db) {
                    total += max(0, min(sleep.upperBound, now) - max(sleep.lowerBound, dayAgo))
                }
            }
            out.gauge("torpor_vm_asleep_seconds_last_day", "VM-seconds spent asleep in the last day, every VM together (what torpor saves).",
                      [([:], Double(asleep))])
            return out.text
        }
    }
}

/// Prometheus's text exposition format (version 0.0.4), gauges only.
struct Exposition {
    private(set) var text = ""

    /// One gauge: its help, its type, and a sample per label set (none: the gauge is left out).
    mutating func gauge(_ name: String, _ help: String, _ samples: [([String: String], Double)]) {
        guard !samples.isEmpty else { return }
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n# TYPE \(name) gauge\n"
        for (labels, value) in samples {
            let set = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escaped($0.value))\"" }
            text += name + (set.isEmpty ? "" : "{" + set.joined(separator: ",") + "}") + " " + Self.number(value) + "\n"
        }
    }

    /// A label's value as the format quotes it.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A whole number without a fraction (times, counts), anything else as Swift prints it.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

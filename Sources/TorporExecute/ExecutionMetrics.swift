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
            out.gauge("torpor_metrics_timestamp_seconds", "When torpor-execute metrics read the store (its --now).", [([:], Double(now))])
            out.gauge("torpor_hibernations_paused", "1 while torpor-execute pause holds every new hibernation back (restores go on).",
                      [([:], try ExecutorSettings.paused(in: db) ? 1 : 0)])
            let owed = try DueActions.owedRestores(now: now, replaying: replaying, in: db), held = try JournalRepository.held(in: db).values
            let hosts = try Executor.knownHosts(in: db).sorted()
            /// How many of `items` are on each host (0 for a host with none: an alert on a series that vanishes misses it).
            func perHost(_ items: [String]) -> [([String: String], Double)] {
                let counts = Dictionary(grouping: items, by: { $0 }).mapValues(\.count)
                return hosts.map { host in (["host": host], Double(counts[host] ?? 0)) }
            }
            out.gauge("torpor_vms_asleep", "VMs torpor holds asleep, by host.", perHost(owed.map(\.host)))
            out.gauge("torpor_restores_due", "VMs asleep whose restore is due now and not yet done, by host.", perHost(owed.filter { $0.at <= now }.map(\.host)))
            out.gauge("torpor_hibernations_held", "Due hibernations the last run held back (busy, paused, a guardrail, ...), by host.", perHost(held.map(\.host)))
            let power = try JournalRepository.power(at: replaying ? now : .max, in: db)
            out.gauge("torpor_vms_saved_without_record", "VMs libvirt holds saved that torpor did not put to sleep (nothing restores them; check names "
                      + "each for a day from the inventory that found it), by host.",
                      perHost(try JournalRepository.savedWithoutRecord(now: now, power: power, in: db).map(\.host)))
            out.gauge("torpor_problems", "What torpor-execute check names, by kind: each needs a person (the watch tells one).",
                      ExecutionCheck.Kind.allCases.map { kind in (["kind": kind.rawValue], Double(problems.filter { $0.kind == kind }.count)) })
            // 0 with no approved plan, or one this torpor cannot read (a newer planner's): an alert on its passing fires.
            let plan = (try? DueActions.approvedPlan(now: now, in: db))??.plan
            out.gauge("torpor_approved_plan_valid_until_timestamp_seconds", "When the newest approved plan stops starting hibernations (0: none readable).",
                      [([:], Double(plan?.validUntil.seconds ?? 0))])
            // 0 for a host never collected: missing data is never idle data, and `time() - this` says so.
            out.gauge("torpor_collection_last_timestamp_seconds", "When the libvirt collector last stored a host's samples (0: never).",
                      try hosts.map { host in (["host": host], Double(try SourceRepository.lastIngested(kind: "libvirt", location: host, by: now, in: db) ?? 0)) })

            let dayAgo = now - 86_400
            let day = try JournalRepository.entries(from: dayAgo, to: now, in: db)
            // (A forgotten sleep's closing step is no restore; it ends a failing one all the same.)
            let restored = day.filter { $0.kind == .restore && $0.step == .done && !$0.actionID.hasPrefix(Executor.forgottenPrefix) }
            /// A plan's restore done after its deadline (measured when it was done; else from the deadline it kept).
            func late(_ e: JournalEntry) -> Bool { e.late ?? e.deadline.map { e.at > $0 } ?? false }
            let planned = restored.filter { $0.planID != nil }
            // Per VM in time order: a failed attempt is retried once a restore of the VM is done after it, whatever its
            // action (a plan's keeps its own; a safety restore's, a wake's or a pin's is new each time).
            var failing = Set<String>(), retried = 0
            for e in day.filter({ $0.kind == .restore && ($0.step == .failed || $0.step == .done) }).sorted(by: { ($0.at, $0.id) < ($1.at, $1.id) }) {
                if e.step == .failed { failing.insert(e.vm) } else if failing.remove(e.vm) != nil, !e.actionID.hasPrefix(Executor.forgottenPrefix) { retried += 1 }
            }
            out.gauge("torpor_restores_last_day", "Restores in the last day: a plan's done by its deadline or after it (an SLA violation), one no plan "
                      + "scheduled (a wake, a pin, an event, a demand signal); VMs whose restore failed and none is done since (failed: the executor "
                      + "tries again, unless the restore is held for a person), and restores done after a failed attempt (retried).",
                      [(["outcome": "on_time"], Double(planned.filter { !late($0) }.count)), (["outcome": "late"], Double(planned.filter(late).count)),
                       (["outcome": "unplanned"], Double(restored.count - planned.count)),
                       (["outcome": "failed"], Double(failing.count)), (["outcome": "retried"], Double(retried))])
            let hibernated = day.filter { $0.kind == .hibernate && $0.step == .done }
            out.gauge("torpor_hibernations_last_day", "Hibernations in the last day: done, or failed (the VM left running).",
                      [(["outcome": "done"], Double(hibernated.count)),
                       (["outcome": "failed"], Double(Set(day.filter { $0.kind == .hibernate && $0.step == .failed }.map(\.actionID)).count))])
            // The VMs asleep at some time in the day: asleep now, or a sleep that began or ended in it.
            let sleepers = Set(owed.map(\.vm) + restored.map(\.vm) + hibernated.map(\.vm))
            let asleep = try sleepers.reduce(into: Int64(0)) { total, vm in
                for sleep in try JournalRepository.hibernatedIntervals(vm: vm, from: dayAgo, now: now, in: db) {
                    total += max(0, min(sleep.upperBound, now) - max(sleep.lowerBound, dayAgo))
                }
            }
            out.gauge("torpor_vm_asleep_last_day_seconds", "VM-seconds spent asleep in the last day, every VM together (what torpor saves).",
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

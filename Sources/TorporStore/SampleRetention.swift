import Foundation
import GRDB
import TorporCore

/// How long the store keeps samples. Every collection adds a row per VM and metric (a 10,000-VM fleet about 23
/// million a day): without a retention the store grows for ever, and no stage reads more than its history.
public enum SampleRetention {
    /// The shortest retention accepted: the planner reads four weeks of each VM's history, and its forecasts a week
    /// before that as context. (`torpor-train` reads `--history-days`, 90 by default: keep at least that.)
    public static let shortest: Int64 = 35 * 86_400

    /// How much of one VM's history one transaction deletes at most: a week (about 16,000 rows of a 5-minute collector's
    /// eight metrics), so that a collection, a plan or an executor's journal waits for an instant, never for the prune.
    public static let slice: Int64 = 7 * 86_400

    /// Removes every sample older than `before`, VM by VM, a `slice` of its history (from its oldest sample left) to a
    /// transaction by the table's key, pausing between transactions as long as each took (at least `pause`), so that
    /// other processes' writes get in; the hourly summary follows (`SampleHours`). A VM whose samples were stored before
    /// the summary existed (or were summed up before it counted samples) is summed up first, in a transaction of its own, while the prune has spent less than
    /// `summingUpFor` seconds (the first prune after an upgrade would otherwise read a large fleet's whole history in
    /// one night, holding up the training after it; the VMs left are read from their samples meanwhile). Returns how
    /// many samples went, how many VMs were summed up and how many are left to sum up. Run twice, the second removes
    /// nothing.
    public static func prune(before: EpochSeconds, in store: Store, pause: TimeInterval = 0.002,
                             summingUpFor: TimeInterval = .infinity) throws -> (removed: Int, summedUp: Int, leftToSumUp: Int) {
        let began = Date()
        let (vms, metrics) = try store.read { db in
            (try Int64.fetchAll(db, sql: "SELECT id FROM vm ORDER BY id"), try Int64.fetchAll(db, sql: "SELECT id FROM metric ORDER BY id"))
        }
        var removed = 0, summedUp = 0, leftToSumUp = 0
        func briefly<T>(_ work: (Database) throws -> T) throws -> T { try Retention.briefly(store, pause: pause, work) }
        for vm in vms {
            if try store.read({ try Bool.fetchOne($0, sql: "SELECT hours_complete != 1 FROM vm WHERE id = ?", arguments: [vm]) }) == true {
                if Date().timeIntervalSince(began) >= summingUpFor {
                    leftToSumUp += 1
                } else if try briefly({ try SampleHours.complete(vm: vm, in: $0) }) {
                    summedUp += 1
                }
            }
            /// The VM's oldest sample at or after `time` (a stray sample years before the rest is no reason to step
            /// through the years between).
            func oldest(from time: EpochSeconds) throws -> EpochSeconds? {
                try store.read { db in
                    try metrics.compactMap {
                        try EpochSeconds.fetchOne(db, sql: "SELECT min(time) FROM sample WHERE vm_id = ? AND metric_id = ? AND time >= ?", arguments: [vm, $0, time])
                    }.min()
                }
            }
            var next = try oldest(from: .min)
            while let from = next, from < before {
                let to = min(before, from + slice)
                removed += try briefly { db in
                    var count = 0
                    let delete = try db.cachedStatement(sql: "DELETE FROM sample WHERE vm_id = ? AND metric_id = ? AND time >= ? AND time < ?")
                    for metric in metrics {
                        try delete.execute(arguments: [vm, metric, from, to])
                        guard db.changesCount > 0 else { continue }
                        count += db.changesCount
                        try SampleHours.refresh(vm: vm, metric: metric, from: from, through: to - 1, in: db)
                    }
                    return count
                }
                next = try oldest(from: to)
            }
        }
        return (removed, summedUp, leftToSumUp)
    }
}

/// How the nightly prunes (`SampleRetention`, `SourceRetention`, `JournalRetention`) share the store with the stages
/// running beside them: small transactions, a pause after each.
enum Retention {
    /// Rows one transaction deletes at most: a collection or an executor's journal waits an instant, never for the prune.
    static let batch = 20_000

    /// Runs `work` in a transaction, then pauses as long as it took (at least `pause`), so that other processes' writes
    /// get in between a prune's transactions.
    static func briefly<T>(_ store: Store, pause: TimeInterval, _ work: (Database) throws -> T) throws -> T {
        let began = Date()
        defer { Thread.sleep(forTimeInterval: max(pause, Date().timeIntervalSince(began))) }
        return try store.transaction(work)
    }
}

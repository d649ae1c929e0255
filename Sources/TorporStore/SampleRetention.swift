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

    /// Removes every sample older than `before`, VM by VM, a `slice` of its history to a transaction by the table's key,
    /// pausing briefly between transactions so that other processes' writes get in. Returns how many samples went. Run
    /// twice, the second removes nothing.
    public static func prune(before: EpochSeconds, in store: Store, pause: TimeInterval = 0.002) throws -> Int {
        let (vms, metrics) = try store.read { db in
            (try Int64.fetchAll(db, sql: "SELECT id FROM vm ORDER BY id"), try Int64.fetchAll(db, sql: "SELECT id FROM metric ORDER BY id"))
        }
        var removed = 0
        for vm in vms {
            let oldest = try store.read { db in
                try metrics.compactMap { try EpochSeconds.fetchOne(db, sql: "SELECT min(time) FROM sample WHERE vm_id = ? AND metric_id = ?", arguments: [vm, $0]) }.min()
            }
            guard var from = oldest, from < before else { continue }
            while from < before {
                let to = min(before, from + slice)
                removed += try store.transaction { db in
                    var count = 0
                    let delete = try db.cachedStatement(sql: "DELETE FROM sample WHERE vm_id = ? AND metric_id = ? AND time >= ? AND time < ?")
                    for metric in metrics {
                        try delete.execute(arguments: [vm, metric, from, to])
                        count += db.changesCount
                    }
                    return count
                }
                from = to
                Thread.sleep(forTimeInterval: pause)
            }
        }
        return removed
    }
}

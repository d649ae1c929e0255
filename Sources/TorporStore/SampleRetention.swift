import GRDB
import TorporCore

/// How long the store keeps samples. Every collection adds a row per VM and metric (a 10,000-VM fleet about 23
/// million a day): without a retention the store grows for ever, and no stage reads more than its history.
public enum SampleRetention {
    /// The shortest retention accepted: the planner reads four weeks of each VM's history, and its forecasts a week
    /// before that as context. (`torpor-train` reads `--history-days`, 90 by default: keep at least that.)
    public static let shortest: Int64 = 35 * 86_400

    /// Removes every sample older than `before`, one (VM, metric) range at a time by the table's key, `batch` VMs to a
    /// transaction: a collection or an executor pass waits for one batch at most, never for the whole prune. Returns
    /// how many samples went. Run twice, the second removes nothing.
    public static func prune(before: EpochSeconds, in store: Store, batch: Int = 100) throws -> Int {
        let (vms, metrics) = try store.read { db in
            (try Int64.fetchAll(db, sql: "SELECT id FROM vm ORDER BY id"), try Int64.fetchAll(db, sql: "SELECT id FROM metric ORDER BY id"))
        }
        var removed = 0
        for start in stride(from: 0, to: vms.count, by: batch) {
            removed += try store.transaction { db in
                var count = 0
                let delete = try db.cachedStatement(sql: "DELETE FROM sample WHERE vm_id = ? AND metric_id = ? AND time < ?")
                for vm in vms[start..<min(start + batch, vms.count)] {
                    for metric in metrics {
                        try delete.execute(arguments: [vm, metric, before])
                        count += db.changesCount
                    }
                }
                return count
            }
        }
        return removed
    }
}

import Foundation
import GRDB
import TorporCore

/// How long the store keeps the executor's journal, which only grows (a step per row: a fleet of 10,000 VMs sleeping
/// nightly adds about 30 million a year): as long as the samples.
public enum JournalRetention {
    /// Rows one transaction reads or deletes at most.
    static let batch = 20_000

    /// Removes the steps journaled before `before`, oldest first, but every step of an action still open (a run stopped
    /// in it: reconciled from them) and of each VM's current sleep or wake (its power record's action: what a restore
    /// owed since then is found by). Read in the journal's order, up to a day past the cut (executors' clocks apart).
    /// Returns how many went; run twice, the second removes nothing.
    public static func prune(before: EpochSeconds, in store: Store, pause: TimeInterval = 0.002) throws -> Int {
        let kept = try store.read { db in
            Set(try String.fetchAll(db, sql: "SELECT action_id FROM power UNION SELECT action_id FROM journal_open"))
        }
        var removed = 0, after: Int64 = 0
        while true {
            let rows = try store.read { db in
                try Row.fetchAll(db, sql: "SELECT id, action_id, at FROM journal WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, batch])
                    .map { (id: $0["id"] as Int64, action: $0["action_id"] as String, at: $0["at"] as EpochSeconds) }
            }
            guard let last = rows.last else { break }
            let old = rows.filter { $0.at < before && !kept.contains($0.action) }.map(\.id)
            if !old.isEmpty {
                removed += try SampleRetention.briefly(store, pause: pause) { db in
                    try db.execute(sql: "DELETE FROM journal WHERE id IN (\(old.map(String.init).joined(separator: ",")))")
                    return db.changesCount
                }
            }
            if rows.allSatisfy({ $0.at >= before + 86_400 }) { break }
            after = last.id
        }
        return removed
    }
}

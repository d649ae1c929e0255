import Foundation
import GRDB
import TorporCore

/// How long the store keeps the executor's journal, which only grows (a step per row: a fleet of 10,000 VMs sleeping
/// nightly adds about 30 million a year): as long as the samples, but what the executor and the planner still read.
public enum JournalRetention {

    /// Removes the steps journaled before `before` (or before the oldest plan still valid at `now`: its hibernations'
    /// steps say they ran), oldest first, but: every step of an action still open (a run stopped in it) or of each VM's
    /// current sleep or wake, and every step since it began (the restores it owes, tried and failed); each VM's latest
    /// measured saves and restores (`JournalRepository.measuredSteps`: its restore time); and its last completed step before the cut (where a
    /// sleep across the cut began: hours slept are missing, not idle). Read in the journal's order, up to a day past the
    /// cut (executors' clocks apart). Returns how many went; run twice, the second removes nothing.
    public static func prune(before: EpochSeconds, now: EpochSeconds, in store: Store, pause: TimeInterval = 0.002) throws -> Int {
        let (cut, actions, since, steps) = try store.read { db in
            let cut = min(before, try PlanRepository.oldestValid(at: now, in: db) ?? .max)
            let actions = Set(try String.fetchAll(db, sql: "SELECT action_id FROM power UNION SELECT action_id FROM journal_open"))
            let since = Dictionary(try Row.fetchAll(db, sql: "SELECT vm, since FROM power").map { ($0["vm"] as String, $0["since"] as EpochSeconds) },
                                   uniquingKeysWith: min)
            var steps = Set<Int64>()
            let measured = try db.cachedStatement(sql: """
                SELECT id FROM journal WHERE vm = ? AND step = 'done' AND kind = ? AND seconds IS NOT NULL ORDER BY at DESC, id DESC LIMIT ?
                """)
            let lastBefore = try db.cachedStatement(sql: "SELECT id FROM journal WHERE vm = ? AND step = 'done' AND at < ? ORDER BY at DESC, id DESC LIMIT 1")
            for vm in try String.fetchAll(db, sql: "SELECT DISTINCT vm FROM journal WHERE step = 'done'") {
                for kind in [JournalEntry.Kind.hibernate, .restore] {
                    steps.formUnion(try Int64.fetchAll(measured, arguments: [vm, kind.rawValue, JournalRepository.measuredSteps]))
                }
                steps.formUnion(try Int64.fetchAll(lastBefore, arguments: [vm, cut]))
            }
            return (cut, actions, since, steps)
        }
        var removed = 0, after: Int64 = 0
        while true {
            let rows = try store.read { db in
                try Row.fetchAll(db, sql: "SELECT id, action_id, vm, at FROM journal WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, Retention.batch])
                    .map { (id: $0["id"] as Int64, action: $0["action_id"] as String, vm: $0["vm"] as String, at: $0["at"] as EpochSeconds) }
            }
            guard let last = rows.last else { break }
            let old = rows.filter { $0.at < cut && $0.at < since[$0.vm, default: .max] && !actions.contains($0.action) && !steps.contains($0.id) }.map(\.id)
            if !old.isEmpty {
                removed += try Retention.briefly(store, pause: pause) { db in
                    try db.execute(sql: "DELETE FROM journal WHERE id IN (\(old.map(String.init).joined(separator: ",")))")
                    return db.changesCount
                }
            }
            if rows.allSatisfy({ $0.at >= cut + 86_400 }) { break }
            after = last.id
        }
        return removed
    }
}

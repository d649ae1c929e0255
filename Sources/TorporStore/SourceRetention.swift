import Foundation
import GRDB
import TorporCore

/// How long the store keeps its record of what was ingested: a `source` row per ingest and a `source_vm` row per VM it
/// covered (a 5-minute collector of 500 VMs adds 50 million of those a year), kept as long as the samples they tell of.
public enum SourceRetention {

    /// Removes each VM's part in an ingest made before `before` whose samples all lie before it (`SampleRetention` has
    /// removed them), then the record of such an ingest once nothing refers to it: kept while a calendar's occurrences
    /// from it are stored, and the latest ingest of each kind and location always (a repeat of it is told by it, and a
    /// collector's silence by when it was). Returns how many rows of each went; run twice, the second removes nothing.
    public static func prune(before: EpochSeconds, in store: Store, pause: TimeInterval = 0.002) throws -> (sources: Int, contributions: Int) {
        func repeatedly(_ sql: String) throws -> Int {
            var removed = 0
            while case let n = try Retention.briefly(store, pause: pause, { db in
                try db.execute(sql: sql, arguments: [before, Retention.batch])
                return db.changesCount
            }), n > 0 {
                removed += n
            }
            return removed
        }
        // From the ingests (CROSS JOIN: in that order), each one's VMs by the key: not a scan of every VM's part in each.
        let contributions = try repeatedly("""
            DELETE FROM source_vm WHERE rowid IN (
                SELECT sv.rowid FROM source s CROSS JOIN source_vm sv ON sv.source_id = s.id
                WHERE s.ingested_at < ?1 AND sv.last_time < ?1 LIMIT ?2)
            """)
        let sources = try repeatedly("""
            DELETE FROM source WHERE id IN (
                SELECT s.id FROM source s
                WHERE s.ingested_at < ?1 AND coalesce(s.last_time, s.ingested_at) < ?1
                  AND NOT EXISTS (SELECT 1 FROM source_vm sv WHERE sv.source_id = s.id)
                  AND s.id NOT IN (SELECT source_id FROM event)
                  AND s.id != (SELECT max(t.id) FROM source t WHERE t.location = s.location AND t.kind = s.kind)
                LIMIT ?2)
            """)
        return (sources, contributions)
    }
}

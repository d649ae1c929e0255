import GRDB
import TorporCore

/// Reads samples back for training and planning.
public enum SampleReader {
    /// (time, value) of one VM's metric in [from, to), by time.
    public static func samples(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(time: EpochSeconds, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT s.time, s.value FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
            WHERE vm.name = ? AND m.name = ? AND s.time >= ? AND s.time < ? ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }
}

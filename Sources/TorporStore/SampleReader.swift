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

    /// The times of one VM's samples of `metric` in [from, to) whose value is `value` (found by SQLite: a VM's
    /// allocation samples, written every collection, are read only where they say it was absent).
    public static func times(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, equalTo value: Double, in db: Database) throws -> [EpochSeconds] {
        try EpochSeconds.fetchAll(db, sql: """
            SELECT s.time FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
            WHERE vm.name = ? AND m.name = ? AND s.time >= ? AND s.time < ? AND s.value = ? ORDER BY s.time
            """, arguments: [vm, metric, from, to, value])
    }

    /// The time of one VM's newest sample of `metric` at or before `time`; nil when it has none.
    public static func newestTime(vm: String, metric: String, upTo time: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: """
            SELECT max(s.time) FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
            WHERE vm.name = ? AND m.name = ? AND s.time <= ?
            """, arguments: [vm, metric, time])
    }

    /// (time, value) of one VM's metric in [from, to), by time, at the times it was present: a sample at a time the
    /// source recorded the VM absent (`vcpus` or `mem_capacity` of 0, as Bitbrains records absence) is left out, missing
    /// and never idle. What the planner and the executor read raw demand with (`HourlySeries` masks such hours too).
    public static func presentSamples(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(time: EpochSeconds, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT s.time, s.value FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
            WHERE vm.name = ? AND m.name = ? AND s.time >= ? AND s.time < ?
              AND NOT EXISTS (SELECT 1 FROM sample a WHERE a.vm_id = s.vm_id AND a.time = s.time AND a.value = 0
                              AND a.metric_id IN (SELECT id FROM metric WHERE name IN ('vcpus', 'mem_capacity')))
            ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }
}

import GRDB
import TorporCore

/// Reads samples back for training and planning.
public enum SampleReader {
    /// The samples of one VM (by name) and metric (by name) in [from, to): the four arguments, in that order.
    private static let inRange = "FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id WHERE vm.name = ? AND m.name = ? AND s.time >= ? AND s.time < ?"

    /// (time, value) of one VM's metric in [from, to), by time.
    public static func samples(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(time: EpochSeconds, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT s.time, s.value \(inRange) ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }

    /// The highest value of one VM's samples of `metric` in each step of `step` seconds from `from` (aligned by the
    /// caller) up to `to`, by the step's index; steps without a sample are absent. SQLite groups them: a VM's month of
    /// 5-minute samples comes back as its 720 hours, not 8,640 rows.
    public static func maxPerStep(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, step: Int64, in db: Database) throws -> [(index: Int, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT (s.time - ?) / ? AS i, max(s.value) AS v \(inRange) GROUP BY i ORDER BY i
            """, arguments: [from, step, vm, metric, from, to]).map { ($0["i"], $0["v"]) }
    }

    /// How many samples of `metric` one VM has in [from, to), counted up to `atMost`.
    public static func count(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, atMost: Int, in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: """
            SELECT count(*) FROM (SELECT 1 \(inRange) LIMIT ?)
            """, arguments: [vm, metric, from, to, atMost]) ?? 0
    }

    /// The times of one VM's samples of `metric` in [from, to) whose value is `value` (found by SQLite: a VM's
    /// allocation samples, written every collection, are read only where they say it was absent).
    public static func times(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, equalTo value: Double, in db: Database) throws -> [EpochSeconds] {
        try EpochSeconds.fetchAll(db, sql: """
            SELECT s.time \(inRange) AND s.value = ? ORDER BY s.time
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
            SELECT s.time, s.value \(inRange)
              AND NOT EXISTS (SELECT 1 FROM sample a WHERE a.vm_id = s.vm_id AND a.time = s.time AND a.value = 0
                              AND a.metric_id IN (SELECT id FROM metric WHERE name IN ('vcpus', 'mem_capacity')))
            ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }
}

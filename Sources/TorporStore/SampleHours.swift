import Foundation
import GRDB
import GRDBSQLite
import TorporCore

/// Each VM's samples summed up per hour (`sample_hour`: the highest and the lowest sample of each hour of each metric,
/// and how many samples it has),
/// so that the planner and the trainer read a VM's month of 5-minute samples as its 720 hours. Kept in the transaction
/// that changes the samples: an insert widens its hour (`SampleWriter.finish`), a prune sums the hours it cut into up
/// again from the samples left (`SampleRetention`). A VM whose samples were stored before the summary existed
/// (`vm.hours_complete` = 0) is read from its samples until `complete` has summed it up; one summed up before the
/// summary counted samples (`vm.hours_complete` = 2) is read from the summary, its hours without a count (never judged
/// sparse), until `complete` has summed it up again.
public enum SampleHours {
    /// One hour of one VM's metric.
    struct Hour: Hashable, Sendable {
        let vm: Int64, metric: Int64, start: EpochSeconds
    }

    /// The highest and the lowest sample of an hour, and how many samples it has.
    struct Extremes: Sendable {
        var high: Double, low: Double, samples: Int64 = 1

        /// Takes in `other`'s samples (others than its own).
        mutating func widen(to other: Extremes) {
            high = max(high, other.high)
            low = min(low, other.low)
            samples += other.samples
        }
    }

    /// Takes newly inserted samples' hours into the summary: each hour's highest raised, lowest lowered, to what they
    /// reached, and its count of samples raised by theirs (an hour not in it yet is added). Samples are never changed
    /// once stored, so inserting can only widen.
    static func raise(_ hours: [Hour: Extremes], in db: Database) throws {
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO sample_hour (vm_id, metric_id, hour, high, low, samples) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (vm_id, metric_id, hour) DO UPDATE SET high = max(high, excluded.high), low = min(low, excluded.low),
                samples = samples + excluded.samples
            """)
        for (hour, extremes) in hours {
            try upsert.execute(arguments: [hour.vm, hour.metric, hour.start, extremes.high, extremes.low, extremes.samples])
        }
    }

    /// Sums up again, from the samples, the hours of one VM's metric that [from, through] touches: an hour left without
    /// samples leaves the summary.
    public static func refresh(vm: Int64, metric: Int64, from: EpochSeconds, through: EpochSeconds, in db: Database) throws {
        let first = UTC.floor(from), end = UTC.floor(through) + 3600
        try db.cachedStatement(sql: "DELETE FROM sample_hour WHERE vm_id = ? AND metric_id = ? AND hour >= ? AND hour < ?")
            .execute(arguments: [vm, metric, first, end])
        try sumUp(try db.cachedStatement(sql: """
            SELECT metric_id, time, value FROM sample WHERE vm_id = ? AND metric_id = ? AND time >= ? AND time < ? ORDER BY time
            """), arguments: [vm, metric, first, end], vm: vm, in: db)
    }

    /// Sums up every hour of one VM whose samples were stored before the summary (or summed up before it counted
    /// samples), and marks it complete; a VM already complete is left alone. Returns whether it summed anything up.
    @discardableResult
    public static func complete(vm: Int64, in db: Database) throws -> Bool {
        guard try Bool.fetchOne(db, sql: "SELECT hours_complete != 1 FROM vm WHERE id = ?", arguments: [vm]) == true else { return false }
        try db.execute(sql: "DELETE FROM sample_hour WHERE vm_id = ?", arguments: [vm])
        try sumUp(try db.cachedStatement(sql: "SELECT metric_id, time, value FROM sample WHERE vm_id = ? ORDER BY metric_id, time"),
                  arguments: [vm], vm: vm, in: db)
        try db.execute(sql: "UPDATE vm SET hours_complete = 1 WHERE id = ?", arguments: [vm])
        return true
    }

    /// How many VMs are not summed up yet, or not with their sample counts.
    public static func pendingVMs(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM vm WHERE hours_complete != 1") ?? 0
    }

    /// Writes the summary of the samples `query` gives (metric, time, value; by metric, then time: the table's key order),
    /// carrying each hour's highest and lowest along as they come. SQLite's GROUP BY on the hour sorts them first, which
    /// cost an ingest most of what the summary adds to it. Stepped with SQLite's own calls: this is every row an ingest
    /// wrote.
    private static func sumUp(_ query: Statement, arguments: StatementArguments, vm: Int64, in db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO sample_hour (vm_id, metric_id, hour, high, low, samples) VALUES (?, ?, ?, ?, ?, ?)")
        var hour: (metric: Int64, start: EpochSeconds, extremes: Extremes)?
        func write() throws {
            guard let hour else { return }
            try insert.execute(arguments: [vm, hour.metric, hour.start, hour.extremes.high, hour.extremes.low, hour.extremes.samples])
        }
        query.setUncheckedArguments(arguments)
        let statement = query.sqliteStatement
        defer { sqlite3_reset(statement) }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw SampleWriter.failure(code, in: db) }
            let metric = sqlite3_column_int64(statement, 0), start = UTC.floor(sqlite3_column_int64(statement, 1))
            let value = sqlite3_column_double(statement, 2)
            if hour?.metric == metric, hour?.start == start {
                hour!.extremes.widen(to: Extremes(high: value, low: value))
            } else {
                try write()
                hour = (metric, start, Extremes(high: value, low: value))
            }
        }
        try write()
    }
}

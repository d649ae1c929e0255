import GRDB
import GRDBSQLite
import TorporCore

/// What happened to one sample offered to the store.
public enum SampleOutcome: Equatable {
    case inserted
    /// The store already had this (vm, metric, time) with the same value.
    case duplicate
    /// The store already had this (vm, metric, time) with another value, which it keeps (first value wins).
    case conflict(kept: Double)
}

/// Inserts samples inside one write transaction with prepared statements. Deduplication rule: a sample's key is
/// (vm, metric, time); the first value stored for a key wins, later ones are reported as duplicates or conflicts.
/// Each inserted sample raises its hour's highest and lowers its lowest in the hourly summary (`SampleHours`), gathered
/// here and written by `finish` (and whenever many hours are gathered) before the transaction commits.
public final class SampleWriter {
    private let db: Database
    private let insert: Statement
    private let lookup: Statement
    private var metricIDs: [String: Int64] = [:]
    /// The hours of the samples inserted since they were last written, with their highest and lowest.
    private var hours: [SampleHours.Hour: SampleHours.Extremes] = [:]
    /// The hour the latest samples fell in, kept out of `hours` while they do (a source gives a series' samples in a row).
    private var current: (hour: SampleHours.Hour, extremes: SampleHours.Extremes)?
    /// How many hours are gathered at most before they are written (memory stays bounded on any source).
    var gatheredHours = 100_000

    public init(db: Database) throws {
        self.db = db
        insert = try db.makeStatement(sql: "INSERT INTO sample (vm_id, metric_id, time, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        lookup = try db.makeStatement(sql: "SELECT value FROM sample WHERE vm_id = ? AND metric_id = ? AND time = ?")
    }

    /// The id of a metric, registering it with its canonical unit on first use. A metric already stored
    /// in another unit is an error: its values would not be comparable.
    public func metricID(_ binding: MetricBinding) throws -> Int64 {
        if let id = metricIDs[binding.metric] { return id }
        let unit = binding.dimension.canonicalUnit
        if let row = try Row.fetchOne(db, sql: "SELECT id, unit FROM metric WHERE name = ?", arguments: [binding.metric]) {
            let storedUnit: String = row["unit"]
            guard storedUnit == unit else {
                throw StoreError(message: "metric '\(binding.metric)' is stored in \(storedUnit), not \(unit); map it to another metric name")
            }
            metricIDs[binding.metric] = row["id"]
            return row["id"]
        }
        try db.execute(sql: "INSERT INTO metric (name, unit) VALUES (?, ?)", arguments: [binding.metric, unit])
        metricIDs[binding.metric] = db.lastInsertedRowID
        return db.lastInsertedRowID
    }

    /// Offers one sample; see the type's deduplication rule.
    /// The insert binds and steps its prepared statement with SQLite's C API directly: this is the hot loop of
    /// every ingest, and GRDB's argument boxing cost about a tenth of the ingest time.
    public func add(vm: Int64, metric: Int64, time: EpochSeconds, value: Double) throws -> SampleOutcome {
        let statement = insert.sqliteStatement
        sqlite3_bind_int64(statement, 1, vm)
        sqlite3_bind_int64(statement, 2, metric)
        sqlite3_bind_int64(statement, 3, time)
        sqlite3_bind_double(statement, 4, value)
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else { throw SampleWriter.failure(code, in: db) }
        if sqlite3_changes(db.sqliteConnection) == 1 {
            try gather(SampleHours.Hour(vm: vm, metric: metric, start: UTC.floor(time)), value)
            return .inserted
        }
        lookup.setUncheckedArguments([vm, metric, time])
        let kept = try Double.fetchOne(lookup) ?? value
        return kept == value ? .duplicate : .conflict(kept: kept)
    }

    /// Writes the hours the samples inserted since the last call fall in to the summary. Call it before the
    /// transaction commits: the planner and the trainer read whole hours from the summary only.
    public func finish() throws {
        settleCurrent()
        try SampleHours.raise(hours, in: db)
        hours = [:]
    }

    /// The error of a statement step that returned `code` on `db`, with SQLite's message.
    static func failure(_ code: Int32, in db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }

    /// Moves the current hour into `hours`.
    private func settleCurrent() {
        if let current {
            if hours[current.hour] == nil { hours[current.hour] = current.extremes } else { hours[current.hour]!.widen(to: current.extremes) }
        }
        current = nil
    }

    private func gather(_ hour: SampleHours.Hour, _ value: Double) throws {
        if current?.hour == hour { return current!.extremes.widen(to: SampleHours.Extremes(high: value, low: value)) }
        settleCurrent()
        current = (hour, SampleHours.Extremes(high: value, low: value))
        if hours.count >= gatheredHours {
            try SampleHours.raise(hours, in: db)
            hours = [:]
        }
    }
}

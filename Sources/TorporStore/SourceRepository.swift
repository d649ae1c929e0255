import Foundation
import GRDB
import TorporCore

/// A source (file, URL, calendar, host) that was ingested.
public struct SourceRecord: Codable, Equatable, Sendable {
    public var id: Int64
    public var kind: String
    public var location: String
    public var contentSHA256: String
    public var rows: Int
    public var inserted: Int
    public var duplicates: Int
    public var firstTime: EpochSeconds?
    public var lastTime: EpochSeconds?
    public var warnings: [String]
    public var ingestedAt: EpochSeconds

    public init(id: Int64 = 0, kind: String, location: String, contentSHA256: String, rows: Int, inserted: Int, duplicates: Int,
                firstTime: EpochSeconds?, lastTime: EpochSeconds?, warnings: [String], ingestedAt: EpochSeconds) {
        self.id = id; self.kind = kind; self.location = location; self.contentSHA256 = contentSHA256; self.rows = rows
        self.inserted = inserted; self.duplicates = duplicates; self.firstTime = firstTime; self.lastTime = lastTime
        self.warnings = warnings; self.ingestedAt = ingestedAt
    }
}

/// What one source contributed for one VM.
public struct SourceVMContribution: Sendable {
    public var samples: Int
    public var firstTime: EpochSeconds
    public var lastTime: EpochSeconds

    public init(samples: Int, firstTime: EpochSeconds, lastTime: EpochSeconds) {
        self.samples = samples
        self.firstTime = firstTime
        self.lastTime = lastTime
    }
}

/// Reads and writes the `source` and `source_vm` tables: the record of everything ingested.
public enum SourceRepository {
    /// The earlier ingest of a source with the same kind and content, if any.
    public static func find(kind: String, contentSHA256: String, in db: Database) throws -> SourceRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM source WHERE kind = ? AND content_sha256 = ? ORDER BY id LIMIT 1",
                         arguments: [kind, contentSHA256]).map(record)
    }

    /// The latest ingest of `location` with this kind, if any.
    public static func latest(kind: String, location: String, in db: Database) throws -> SourceRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM source WHERE kind = ? AND location = ? ORDER BY id DESC LIMIT 1",
                         arguments: [kind, location]).map(record)
    }

    /// Records an ingested source with its full report (any Encodable) and per-VM contributions; returns its id.
    public static func insert<Report: Encodable>(_ source: SourceRecord, report: Report,
                                                 contributions: [Int64: SourceVMContribution], in db: Database) throws -> Int64 {
        let warnings = String(decoding: try JSONEncoder.sorted.encode(source.warnings), as: UTF8.self)
        let reportJSON = String(decoding: try JSONEncoder.sorted.encode(report), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO source (kind, location, content_sha256, rows, inserted, duplicates, first_time, last_time, warnings, report, ingested_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [source.kind, source.location, source.contentSHA256, source.rows, source.inserted, source.duplicates,
                             source.firstTime, source.lastTime, warnings, reportJSON, source.ingestedAt])
        let id = db.lastInsertedRowID
        for (vm, c) in contributions.sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO source_vm (source_id, vm_id, samples, first_time, last_time) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, vm, c.samples, c.firstTime, c.lastTime])
        }
        return id
    }

    /// When a source of `kind` was last ingested from `location` by `now` (a replay sees what had been ingested then),
    /// nil if never; by the time of ingest, not the order of rows (a replay at a past `--now` comes later).
    public static func lastIngested(kind: String, location: String, by now: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: "SELECT max(ingested_at) FROM source WHERE location = ? AND kind = ? AND ingested_at <= ?",
                                  arguments: [location, kind, now])
    }

    /// When a source of `kind` was first ingested by `now`, from any location; nil if none was.
    public static func firstIngested(kind: String, by now: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: "SELECT min(ingested_at) FROM source WHERE kind = ? AND ingested_at <= ?", arguments: [kind, now])
    }

    public static func all(in db: Database) throws -> [SourceRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM source ORDER BY id").map(record)
    }

    private static func record(_ row: Row) -> SourceRecord {
        let warnings: String = row["warnings"]
        return SourceRecord(id: row["id"], kind: row["kind"], location: row["location"], contentSHA256: row["content_sha256"],
                            rows: row["rows"], inserted: row["inserted"], duplicates: row["duplicates"],
                            firstTime: row["first_time"], lastTime: row["last_time"],
                            warnings: (try? JSONDecoder().decode([String].self, from: Data(warnings.utf8))) ?? [],
                            ingestedAt: row["ingested_at"])
    }
}

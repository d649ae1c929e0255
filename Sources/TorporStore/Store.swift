import Foundation
import GRDB

/// The one error type of the store, naming the database file.
public struct StoreError: Error, CustomStringConvertible {
    /// The database file, when the failure is about the file itself.
    public let path: String?
    public let message: String

    public init(path: String? = nil, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// torpor's SQLite store (`torpor.db`, WAL): opened, migrated to the current schema, shared by every stage.
public final class Store: Sendable {
    /// File name used when neither `--db` nor `TORPOR_DB` names one.
    public static let defaultFileName = "torpor.db"

    public let path: String
    public let pool: DatabasePool

    /// Where the store lives: the `--db` flag, else `TORPOR_DB`, else `torpor.db` in the working directory.
    public static func resolvePath(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = environment["TORPOR_DB"], !env.isEmpty { return env }
        return defaultFileName
    }

    /// Opens (creating if needed, unless `creating` is false) and migrates the store. Refuses a store written by a
    /// newer torpor, unless `tolerateNewerSchema` (the executor: a rollback to an older torpor must not leave sleeping
    /// VMs without their restores; `writtenByNewerTorpor` then tells); with `migrating` false (a stage that must record
    /// nothing), also one this torpor would have to migrate, and a missing one.
    public init(path: String, migrating: Bool = true, creating: Bool = true, tolerateNewerSchema: Bool = false) throws(StoreError) {
        self.path = path
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard (migrating && creating) || (size ?? 0) > 0 else {
            let what = size == nil ? "no store here" : "no store here (an empty file)"
            throw StoreError(path: path, message: migrating ? "\(what): is --db or TORPOR_DB set to the store the other stages write?"
                                                            : "\(what), and a dry run does not create one")
        }
        if (size ?? 0) > 0, let other = try Self.otherTables(path) {
            throw StoreError(path: path, message: "not a torpor store (it holds \(other)): is --db or TORPOR_DB set to the store the other stages write?")
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(30)
        // Every commit is durable when it returns (the write-ahead log synced at each commit, not only at checkpoints):
        // the executor's journal and sleep records, and the state pool's index, are followed by steps that cannot be
        // undone; after a power loss a saved VM the store had forgotten would be owed no restore.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB puts its writer back to NORMAL when it sets up WAL mode, after `prepareDatabase`: set again on the
            // one connection every write goes through.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            let migrator = Schema.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                guard tolerateNewerSchema else {
                    throw StoreError(path: path, message: "this store was written by a newer torpor (unknown schema migrations); upgrade torpor")
                }
                return
            }
            if !migrating {
                guard try pool.read({ try migrator.hasCompletedMigrations($0) }) else {
                    throw StoreError(path: path, message: "this store's schema is older than this torpor's, and a dry run does not migrate it: run this torpor's stages (or an older torpor) against it first")
                }
                return
            }
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path: path, message: "cannot open the store: \(error)")
        }
    }

    /// The tables of the SQLite file at `path`, in words, when it is not a torpor store (another program's database:
    /// a wrong --db must neither look like an empty fleet nor get torpor's tables); nil when it is one. Read only.
    static func otherTables(_ path: String) throws(StoreError) -> String? {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let tables = try DatabaseQueue(path: path, configuration: configuration).read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            }
            guard !tables.contains("grdb_migrations") || !tables.contains("sample") else { return nil }
            return tables.isEmpty ? "no tables" : "the tables " + tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
        } catch {
            throw StoreError(path: path, message: "cannot open the store: \(error)")
        }
    }

    /// Whether a newer torpor has migrated the store (it may have since it was opened: a long-running executor after an
    /// upgrade of the other stages, or before a rollback of itself). Only what must never be blocked (restores, wakes,
    /// pins, the pause) should write to such a store.
    public func writtenByNewerTorpor() throws -> Bool {
        try pool.read { try Schema.migrator.hasBeenSuperseded($0) }
    }

    /// Runs `body` in one write transaction: everything it wrote is committed together, durably, or nothing if it throws.
    public func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// Runs read-only `body` on a consistent snapshot.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}

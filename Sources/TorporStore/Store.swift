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
        guard (migrating && creating) || FileManager.default.fileExists(atPath: path) else {
            throw StoreError(path: path, message: migrating ? "no store here: is --db or TORPOR_DB set to the store the other stages write?"
                                                            : "no store here, and a dry run does not create one")
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
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

    /// Whether a newer torpor has migrated the store (it may have since it was opened: a long-running executor after an
    /// upgrade of the other stages, or before a rollback of itself). Only what must never be blocked (restores, wakes,
    /// pins, the pause) should write to such a store.
    public func writtenByNewerTorpor() throws -> Bool {
        try pool.read { try Schema.migrator.hasBeenSuperseded($0) }
    }

    /// Runs `body` in one write transaction: everything it wrote is committed together, or nothing if it throws.
    public func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// `transaction`, durable once it returns: for a change a step that cannot be undone follows (the store syncs its
    /// write-ahead log at checkpoints only, so a power loss may take back the last commits; this one syncs it at its
    /// commit, waiting on no reader).
    public func durableTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            defer { try? db.execute(sql: "PRAGMA synchronous = NORMAL") }
            var result: T?
            try db.inTransaction {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    /// Runs read-only `body` on a consistent snapshot.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}

import Foundation
import GRDB
import GRDBSQLite
import TorporCore

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
    /// Why the store was opened read-only, when it was (`walPool`): what a write is refused with.
    private let readOnlyBecause: String?

    /// Where the store lives: the `--db` flag, else `TORPOR_DB`, else `torpor.db` in the working directory.
    public static func resolvePath(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = environment["TORPOR_DB"], !env.isEmpty { return env }
        return defaultFileName
    }

    /// Opens (creating if needed, unless `creating` is false) and migrates the store. Refuses a store written by a
    /// newer torpor, unless `tolerateNewerSchema` (the executor: a rollback to an older torpor must not leave sleeping
    /// VMs without their restores; `writtenByNewerTorpor` then tells); with `migrating` false (a stage that must record
    /// nothing), also one this torpor would have to migrate, and a missing one. `reserve`: what is done with the room
    /// kept beside the store for restores (`StoreReserve`); a reserve given back is said on stderr.
    public init(path: String, migrating: Bool = true, creating: Bool = true, tolerateNewerSchema: Bool = false,
                reserve use: StoreReserve.Use = .untouched) throws(StoreError) {
        self.path = path
        let reserve = StoreReserve(store: path)
        // A stage that records must leave the room it cannot keep to the executor: refused before it migrates anything
        // (and before anything is made beside a path that may be no store).
        if use == .kept && (creating || FileManager.default.fileExists(atPath: path)) && reserve.cannotBeKept, let problem = reserve.shortfall.problem {
            throw StoreError(path: path, message: "this stage records nothing until room is freed there (what is left is kept for the executor's "
                             + "restores and wakes): " + problem)
        }
        // What must never be refused opens in the reserve's room on a full filesystem: SQLite needs some to open the
        // store, and to write to it (another process may hold its files open: an executor following the clock).
        if use == .releasable { reserve.releaseIfFull() }
        do {
            (pool, readOnlyBecause) = try Self.openPool(path: path, migrating: migrating, creating: creating, tolerateNewerSchema: tolerateNewerSchema,
                                                        readingOnFull: use == .untouched)
        } catch {
            guard use != .untouched, let room = reserve.shortfall.room, reserve.cannotBeKept else { throw error }
            throw StoreError(path: path, message: error.message + " (its filesystem has \(room): free room there)")
        }
        if use == .kept { _ = reserve.keep() }
    }

    /// The store's connections, the store opened and migrated as `init` describes, and why they only read, if they do
    /// (`readingOnFull`: what only reads, on a full filesystem).
    private static func openPool(path: String, migrating: Bool, creating: Bool, tolerateNewerSchema: Bool,
                                 readingOnFull: Bool) throws(StoreError) -> (DatabasePool, String?) {
        // Said in a person's words, not SQLite's ("unable to open database file", "disk I/O error").
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError(path: path, message: "is a directory, not a store: give the store's file (such as \((path as NSString).appendingPathComponent(defaultFileName)))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            throw StoreError(path: path, message: "its folder \(folder) does not exist: is --db or TORPOR_DB the store's path?")
        }
        let directory = folder.isEmpty ? "." : folder
        // A person who may not reach the store, or read and write it (SQLite writes beside it even to read), is told so:
        // not "no store here", nor SQLite's "attempt to write a readonly database".
        if access(directory, X_OK) != 0 && errno == EACCES
            || FileManager.default.fileExists(atPath: path) && access(path, R_OK | W_OK) != 0 && errno == EACCES {
            throw StoreError(path: path, message: "permission denied: this user may not read and write the store (SQLite writes beside it even to read); run "
                             + "as root, or as a member of the group pipelines/install.sh gives the store's folder (torpor)")
        }
        // A new store in a folder that gives its group what is made in it (setgid: pipelines/install.sh's /var/lib/torpor,
        // root:torpor 2750, the reviewers' group) is that group's to read and write (SQLite's own mode would leave it
        // read-only to them); its -wal and -shm take its mode.
        if migrating && creating && !FileManager.default.fileExists(atPath: path) && Self.sharesGroup(directory) {
            let made = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if made >= 0 { _ = fchmod(made, 0o660); close(made) }   // else SQLite says why (another stage made it first: it opens that one)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let contents = (size ?? 0) > 0 ? try Self.contents(path) : .unmade
        if case .other(let tables) = contents {
            throw StoreError(path: path, message: "not a torpor store (it holds \(tables)): is --db or TORPOR_DB set to the store the other stages write?")
        }
        guard (migrating && creating) || contents == .store else {
            let what = size == nil ? "no store here" : size == 0 ? "no store here (an empty file)" : "no store here (an empty database)"
            throw StoreError(path: path, message: migrating ? "\(what): is --db or TORPOR_DB set to the store the other stages write?"
                                                            : "\(what), and a dry run does not create one")
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyWait)
        // Every commit is durable when it returns (the write-ahead log synced at each commit, not only at checkpoints):
        // the executor's journal and sleep records, and the state pool's index, are followed by steps that cannot be
        // undone; after a power loss a saved VM the store had forgotten would be owed no restore.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The write-ahead log goes back to 64 MiB after each checkpoint: a prune under an open read (the hourly plan's
            // snapshot) had left it at hundreds of MiB for as long as the executor kept a connection.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            // The write-ahead log and its index stay when the last connection closes: a reviewer, who may read and write
            // the store but not make files beside it (pipelines/install.sh), opens them as they are.
            var persist: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
        do {
            let (pool, readOnlyBecause) = try Self.walPool(path: path, configuration: configuration, readingOnFull: readingOnFull)
            // GRDB puts its writer back to NORMAL when it sets up WAL mode, after `prepareDatabase`: set again on the
            // one connection every write goes through.
            if readOnlyBecause == nil { try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") } }
            let migrator = Schema.migrator
            /// Whether a newer torpor migrated the store: refused, unless tolerated.
            func newer() throws -> Bool {
                guard try pool.read({ try migrator.hasBeenSuperseded($0) }) else { return false }
                guard tolerateNewerSchema else {
                    throw StoreError(path: path, message: "this store was written by a newer torpor (unknown schema migrations); upgrade torpor")
                }
                return true
            }
            if try newer() { return (pool, readOnlyBecause) }
            if !migrating {
                guard try pool.read({ try migrator.hasCompletedMigrations($0) }) else {
                    throw StoreError(path: path, message: "this store's schema is older than this torpor's, and a dry run does not migrate it: run this torpor's stages (or an older torpor) against it first")
                }
                return (pool, readOnlyBecause)
            }
            if let readOnlyBecause, try !pool.read({ try migrator.hasCompletedMigrations($0) }) {
                throw StoreError(path: path, message: readOnlyBecause + ": its schema cannot be made or upgraded")
            }
            // Two stages opening the store at once after an upgrade both migrated (GRDB picks what to apply before
            // SQLite's lock is taken), and one failed ("table … already exists"): one migrates at a time, under a lock
            // file beside the store (reached through any link). A newer torpor may have migrated it meanwhile.
            if try !pool.read({ try migrator.hasCompletedMigrations($0) }) {
                let migrating = try Self.migrationLock(resolvedPath(path) + ".migrating")
                defer { withExtendedLifetime(migrating) {} }
                if try newer() { return (pool, readOnlyBecause) }
                try migrator.migrate(pool)
            }
            return (pool, readOnlyBecause)
        } catch let error as StoreError {
            throw error
        } catch {
            throw openFailure(error, path: path)
        }
    }

    /// Whether `folder` gives its group what is made in it (its setgid bit).
    static func sharesGroup(_ folder: String) -> Bool {
        var info = stat()
        return stat(folder, &info) == 0 && info.st_mode & S_ISGID != 0
    }

    /// How long a connection waits for another's lock before it fails.
    static let busyWait: TimeInterval = 30

    /// The store's connections. Their first open turns the file to write-ahead logging, which SQLite does without waiting
    /// for a lock (the busy timeout does not cover it): stages opening a new store, or one left in rollback mode, at once
    /// had failed with "database is locked". Tried again for as long as a lock is waited for elsewhere.
    /// GRDB also writes at open when the log is empty, as the last connection to close leaves it: on a full filesystem
    /// what only reads (`readingOnFull`: a plan's review, the executor's status or the watch) opens it read-only instead
    /// (with why), so that a look neither fails nor gives away the room kept for restores; a write is then refused with
    /// that reason. What writes fails to open, as before (the executor gives the room back first).
    private static func walPool(path: String, configuration: Configuration, readingOnFull: Bool) throws -> (DatabasePool, String?) {
        let giveUp = Date().addingTimeInterval(busyWait)
        while true {
            do { return (try DatabasePool(path: path, configuration: configuration), nil) } catch let error as DatabaseError
                where error.resultCode.primaryResultCode == .SQLITE_BUSY && Date() < giveUp {
                Thread.sleep(forTimeInterval: 0.05)
            } catch let error as DatabaseError where error.resultCode.primaryResultCode == .SQLITE_FULL && readingOnFull {
                var reading = configuration
                reading.readonly = true
                return (try DatabasePool(path: path, configuration: reading), "opened read-only, its filesystem being full (\(error.message ?? "\(error)"))")
            }
        }
    }

    /// How long a stage waits for another to finish migrating the store before it gives up, saying who migrates.
    static let migrationWait: TimeInterval = 600

    /// The lock one migration at a time holds. Held by another process, it is said on stderr (its pid, from the file)
    /// and waited for, `migrationWait` at most: a migration that hangs must not hang every executor run and a person's
    /// wake with it, silently. One this user may not open or make (a reviewer, beside root's lock in the store's folder)
    /// is refused: migrating without it raced root's stages, whose next run then failed ("table … already exists"). One
    /// that cannot be made for another reason (a lockless or read-only filesystem) is none (nil): migrated without it.
    static func migrationLock(_ path: String) throws(StoreError) -> FileLock? {
        var told = false
        let giveUp = Date().addingTimeInterval(migrationWait)
        while true {
            do { return try FileLock(path: path, wait: false) } catch {
                guard case .held(_, let holder) = error else {
                    let folder = (path as NSString).deletingLastPathComponent
                    let denied = FileManager.default.fileExists(atPath: path) ? access(path, R_OK | W_OK) != 0 : access(folder.isEmpty ? "." : folder, W_OK) != 0
                    guard denied && errno == EACCES else { return nil }
                    throw StoreError(path: path, message: "this store's schema must be upgraded, one stage at a time under this lock, which this user "
                                     + "cannot take (\(error)): run any torpor stage as root first (its jobs do within minutes)")
                }
                let who = holder.map { "pid \($0)" } ?? "another process"
                if !told { StandardError.line("torpor: \(who) is upgrading the store's schema (\(path)): waiting for it") }
                told = true
                guard Date() < giveUp else {
                    throw StoreError(path: path, message: "\(who) has been upgrading the store's schema for \(Int(migrationWait / 60)) minutes: "
                                     + "is it stuck? (stop it, then run any torpor stage again)")
                }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// What a SQLite file holds: a torpor store, nothing yet (no table, or only GRDB's list of migrations: a store
    /// whose first creation stopped before its first migration, or is under way in another process), or another
    /// program's tables, in words (a wrong --db must neither look like an empty fleet nor get torpor's tables).
    enum Contents: Equatable { case store, unmade, other(String) }

    /// What the file at `path` holds, read without changing it; a lock (a checkpoint, another stage migrating) is
    /// waited out as the store's own connections wait.
    static func contents(_ path: String) throws(StoreError) -> Contents {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyWait)
        do {
            let (tables, first) = try DatabaseQueue(path: path, configuration: configuration).read { db in
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                // Known by the record of its first migration, which no later one changes (a newer torpor may replace
                // any table: a rolled-back executor must still open its store to restore).
                return (tables, tables.contains("grdb_migrations")
                        ? try Bool.fetchOne(db, sql: "SELECT 1 FROM grdb_migrations WHERE identifier = ?", arguments: [Schema.firstMigration]) ?? false : false)
            }
            if first { return .store }
            if tables.allSatisfy({ $0 == "grdb_migrations" }) { return .unmade }
            return .other("the tables " + tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : ""))
        } catch {
            throw openFailure(error, path: path)
        }
    }

    /// SQLite's failure to open the store at `path`, said; a reviewer (pipelines/install.sh), who may write the store but
    /// make no file beside it, finds its -wal and -shm missing (an older torpor, or sqlite3, removed them when it closed).
    static func openFailure(_ error: Error, path: String) -> StoreError {
        let folder = (path as NSString).deletingLastPathComponent
        if let error = error as? DatabaseError, error.resultCode.primaryResultCode == .SQLITE_READONLY, access(folder.isEmpty ? "." : folder, W_OK) != 0 {
            return StoreError(path: path, message: "cannot open the store: its -wal and -shm files are missing and this user may not make them beside it "
                              + "(\(error)); a torpor stage run as root makes them, and torpor keeps them (or pipelines/install.sh makes them)")
        }
        return StoreError(path: path, message: "cannot open the store: \(error)")
    }

    /// Whether a newer torpor has migrated the store (it may have since it was opened: a long-running executor after an
    /// upgrade of the other stages, or before a rollback of itself). Only what must never be blocked (restores, wakes,
    /// pins, the pause) should write to such a store.
    public func writtenByNewerTorpor() throws -> Bool {
        try pool.read { try Schema.migrator.hasBeenSuperseded($0) }
    }

    /// Runs `body` in one write transaction: everything it wrote is committed together, durably, or nothing if it throws.
    public func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        if let readOnlyBecause { throw StoreError(path: path, message: "cannot write: " + readOnlyBecause) }
        return try pool.write(body)
    }

    /// As `transaction`, but waiting at most `seconds` for another process's write lock, not `busyWait`: for a step
    /// that goes on without its record rather than wait out a long write elsewhere (a big ingest's). With `together`,
    /// once one such write waited in vain the others give up at once (this process's writes go one at a time: each
    /// would have waited in turn).
    public func transaction<T>(waitingAtMost seconds: TimeInterval, together: WritesGivingUpTogether? = nil, _ body: (Database) throws -> T) throws -> T {
        if let readOnlyBecause { throw StoreError(path: path, message: "cannot write: " + readOnlyBecause) }
        // Before this process's queue of writes too: one that gave up there need not wait its turn behind the others.
        if let why = together?.reason { throw StoreError(path: path, message: "not written: " + why) }
        return try pool.writeWithoutTransaction { db in
            if let why = together?.reason { throw StoreError(path: path, message: "not written: " + why) }
            sqlite3_busy_timeout(db.sqliteConnection, Int32(seconds * 1000))
            defer { sqlite3_busy_timeout(db.sqliteConnection, Int32(Self.busyWait * 1000)) }
            var result: T?
            do {
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
            } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode.primaryResultCode) {
                together?.giveUp("another write waited \(Int(seconds)) s in vain for the store, held by another process")
                throw error
            }
            return result!
        }
    }

    /// Runs read-only `body` on a consistent snapshot.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}

/// Writes that give up together (`Store.transaction(waitingAtMost:together:)`): a run's restore steps.
public final class WritesGivingUpTogether: @unchecked Sendable {
    private let lock = NSLock()
    private var given: String?

    public init() {}

    /// Why they give up, once one waited in vain.
    public var reason: String? { lock.withLock { given } }

    func giveUp(_ why: String) { lock.withLock { if given == nil { given = why } } }

    /// Waits again, for a new run.
    public func reset() { lock.withLock { given = nil } }
}

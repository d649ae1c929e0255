import Foundation
import GRDB
import Testing
import TorporCore
import TorporHash
@testable import TorporStore
import TorporTestSupport

func temporaryStorePath() -> String {
    try! ScratchDirectory.make("torpor-store") + "/torpor.db"
}

/// The path of a store as an older torpor left it, its schema up to `migration`, with the rows `fill` writes.
func olderStore(upTo migration: String, at path: String = temporaryStorePath(), fill: (Database) throws -> Void = { _ in }) throws -> String {
    let old = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(old, upTo: migration)
    try old.write(fill)
    try old.close()
    return path
}

@Suite struct StoreTests {
    @Test func pathComesFromFlagThenEnvironmentThenDefault() {
        #expect(Store.resolvePath(flag: "/a.db", environment: ["TORPOR_DB": "/b.db"]) == "/a.db")
        #expect(Store.resolvePath(flag: nil, environment: ["TORPOR_DB": "/b.db"]) == "/b.db")
        #expect(Store.resolvePath(flag: nil, environment: [:]) == "torpor.db")
    }

    @Test func opensInWALModeWithTheSchema() throws {
        let store = try Store(path: temporaryStorePath())
        let (mode, tables) = try store.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'grdb%' ORDER BY name"))
        }
        #expect(mode == "wal")
        // Every commit durable when it returns (2: FULL), on the writer's connection as on the readers'.
        #expect(try store.transaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try store.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(tables == ["approval", "demand_call", "domain_run", "event", "held", "journal", "journal_open", "libvirt_counter", "libvirt_host", "metric", "model_run", "model_vm", "pin", "plan", "power", "sample", "sample_hour", "setting", "source", "source_vm", "state_chunk", "state_manifest", "vm"])
    }

    @Test func heldHibernationsAreReplacedPerHostSet() throws {
        let store = try Store(path: temporaryStorePath())
        func held(_ vm: String, _ host: String) -> HeldHibernation { HeldHibernation(vm: vm, host: host, event: "waiting", reason: "quiet", since: 0) }
        try store.transaction { try JournalRepository.setHeld(["a1": held("a1", "A"), "b1": held("b1", "B")], hosts: nil, in: $0) }
        // An executor for host A replaces A's holds only: B's stay for B's executor.
        try store.transaction { try JournalRepository.setHeld(["a2": held("a2", "A")], hosts: ["A"], in: $0) }
        #expect(try store.read { try JournalRepository.held(in: $0) }.keys.sorted() == ["a2", "b1"])
        try store.transaction { try JournalRepository.setHeld([:], hosts: nil, in: $0) }
        #expect(try store.read { try JournalRepository.held(in: $0) }.isEmpty)
    }

    @Test func reopeningIsSafe() throws {
        let path = temporaryStorePath()
        _ = try Store(path: path)
        _ = try Store(path: path)
    }

    @Test func aStoreAtV8IsMigratedWithOrWithoutTheRestoreIndexAnUnreleasedV8Had() throws {
        for withIndex in [true, false] {
            let path = try olderStore(upTo: "v8: the cause of a plan's restore") { db in
                if withIndex { try db.execute(sql: "CREATE INDEX journal_done_restores ON journal(vm, id) WHERE kind = 'restore' AND step = 'done'") }
            }
            let store = try Store(path: path)
            let (indexes, calls) = try store.read { db in
                (try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'journal_done_restores'"),
                 try DemandCallRepository.calls(from: .min, to: .max, in: db))
            }
            #expect(indexes.isEmpty && calls.isEmpty, "with the index: \(withIndex)")
        }
    }

    @Test func demandCallsAreKeptOnceWithTheirHighestForecastAndForAWeek() throws {
        let store = try Store(path: temporaryStorePath())
        let hour: EpochSeconds = 1_700_000_000 / 3600 * 3600
        func call(_ at: EpochSeconds, _ q: Float, _ forecast: Float) -> DemandCall { DemandCall(hour: at, quantile: q, forecast: forecast) }
        try store.transaction { db in
            try DemandCallRepository.record(["a": [call(hour, 0.5, 18)], "b": [call(hour, 0.5, 16)]], hour: hour, keep: 7 * 86_400, in: db)
            try DemandCallRepository.record(["a": [call(hour, 0.5, 20)]], hour: hour, keep: 7 * 86_400, in: db)   // again: once, at 20
            try DemandCallRepository.record(["a": [call(hour, 0.5, 19)]], hour: hour, keep: 7 * 86_400, in: db)   // and still at 20
            try DemandCallRepository.record(["a": [call(hour, 0.1, 15)]], hour: hour, keep: 7 * 86_400, in: db)   // another quantile's
        }
        #expect(try store.read { try DemandCallRepository.calls(from: .min, to: .max, in: $0) }
                == ["a": [call(hour, 0.1, 15), call(hour, 0.5, 20)], "b": [call(hour, 0.5, 16)]])
        try store.transaction { try DemandCallRepository.record(["a": [call(hour + 8 * 86_400, 0.5, 30)]], hour: hour + 8 * 86_400, keep: 7 * 86_400, in: $0) }
        #expect(try store.read { try DemandCallRepository.calls(from: .min, to: .max, in: $0) } == ["a": [call(hour + 8 * 86_400, 0.5, 30)]],
                "the first hour's calls are forgotten")
        #expect(try store.read { try DemandCallRepository.calls(from: hour, to: hour + 8 * 86_400, in: $0) }.isEmpty)
    }

    /// A migration checks no foreign key across the database (GRDB's default read every sample under the write lock,
    /// seconds per migration on a big store, while the executor migrating restored nothing): a row a person wrote
    /// without foreign keys (the sqlite3 shell's default) no longer refuses every stage, wakes too.
    @Test func aMigrationReadsNoRowItDidNotTouch() throws {
        let path = temporaryStorePath()
        let old = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(old, upTo: "v17: how many samples each summed-up hour has")
        try old.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: "INSERT INTO sample (vm_id, metric_id, time, value) VALUES (999, 999, 0, 1)")
        }
        try old.close()
        let store = try Store(path: path)
        #expect(try store.read { try Schema.migrator.hasCompletedMigrations($0) })
    }

    /// A stage that finds another migrating the store says who, and waits for it (at most `Store.migrationWait`).
    @Test func aMigrationUnderWayIsSaidAndWaitedFor() throws {
        let path = temporaryStorePath() + ".migrating"
        final class Holder: @unchecked Sendable { var lock: FileLock?; init(_ lock: FileLock) { self.lock = lock } }
        let holder = Holder(try FileLock(path: path, wait: false))   // another process's migration
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { holder.lock = nil }
        let taken = try Store.migrationLock(path)
        #expect(taken?.path == path, "taken once the other let go")
        // One that cannot be made but for want of permission (here: no such folder) is none; a reviewer's, whom the
        // store's folder does not let make it or open root's, is refused (PipelinesTests, as another user).
        #expect(try Store.migrationLock("/nonexistent-folder/torpor.db.migrating") == nil)
    }

    /// A stage that waited for another's migration finds the store as that one left it: migrated by a newer torpor, it is
    /// refused (an older stage had gone on writing to a schema it does not know, e.g. without the hours' summary).
    @Test func aStoreANewerTorporMigratedWhileThisOneWaitedIsRefused() throws {
        let path = try olderStore(upTo: "v8: the cause of a plan's restore")
        final class Holder: @unchecked Sendable { var lock: FileLock?; init(_ lock: FileLock) { self.lock = lock } }
        let holder = Holder(try FileLock(path: path + ".migrating", wait: false))   // the newer torpor's migration
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            var waiting = Configuration()
            waiting.busyMode = .timeout(30)   // the refused stage may be reading the file meanwhile
            let newer = try! DatabaseQueue(path: path, configuration: waiting)
            try! Schema.migrator.migrate(newer)
            try! newer.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')") }
            try! newer.close()
            holder.lock = nil
        }
        let error = #expect(throws: StoreError.self) { _ = try Store(path: path) }
        #expect(error?.description.contains("newer torpor") == true, "\(String(describing: error))")
        #expect(holder.lock == nil, "refused after the wait, not before")
    }

    /// A full filesystem (hibernated VMs' images fill disks) keeps no restore from the store: the room kept beside it is
    /// given back to the commands that restore, and to them alone; the other stages record nothing until the reserve is
    /// made again, which it is once room is freed. (Needs root, for the tmpfs, as `make test` runs.)
    @Test func aFullFilesystemGivesTheReserveBackToRestoresOnly() throws {
        let disk = try SmallFilesystem(megabytes: 48)
        let path = disk.path + "/torpor.db", reserve = StoreReserve(store: path)
        func opened(_ use: StoreReserve.Use) -> String? {
            do { _ = try Store(path: path, reserve: use); return nil } catch { return "\(error)" }
        }
        #expect(opened(.kept) == nil)
        #expect(reserve.isHeld && reserve.keep() == .held, "made by a stage")
        // Its log and shared memory gone (torpor keeps them when it closes: an older torpor's store, or one copied alone).
        for file in [path + "-wal", path + "-shm"] { try FileManager.default.removeItem(atPath: file) }
        try disk.fill()
        #expect(reserve.keep() == .short(available: 0, inodes: disk.inodes), "short, the reserve there or not")
        #expect(opened(.kept)?.contains("this stage records nothing until room is freed there") == true, "refused before opening")
        #expect(opened(.untouched)?.contains("disk I/O error") == true, "no room for SQLite's shared memory")
        #expect(reserve.isHeld, "the reserve is not the other stages'")
        // A restore's command opens the store, and records.
        let store = try Store(path: path, reserve: .releasable)
        #expect(!FileManager.default.fileExists(atPath: reserve.path), "given back")
        try store.transaction { try JournalRepository.setPower(PowerRecord(vm: "db-01", host: "h", state: .running, since: 1, actionID: "a"), in: $0) }
        #expect(opened(.kept)?.contains("records nothing until room is freed") == true, "what is left is the executor's")
        disk.empty()
        #expect(opened(.kept) == nil)
        #expect(reserve.isHeld && reserve.keep() == .held, "made again")
        #expect(try store.read { try JournalRepository.power(in: $0)["db-01"]?.state } == .running)
    }

    /// An executor following the clock keeps SQLite's files open while the disk fills: another command's open then
    /// succeeds, but its writes would not: the reserve is given back all the same, and it counts as short while the
    /// filesystem has less room than it, even while it is there. A sparse copy of it is no reserve.
    @Test func aStoreKeptOpenOnAFullDiskGivesTheReserveBackToo() throws {
        let disk = try SmallFilesystem(megabytes: 48)
        let path = disk.path + "/torpor.db", reserve = StoreReserve(store: path)
        let follower = try Store(path: path, reserve: .kept)
        try disk.fill()
        #expect(reserve.isHeld && reserve.keep() == .short(available: 0, inodes: disk.inodes))
        let pause = try Store(path: path, reserve: .releasable)
        #expect(!FileManager.default.fileExists(atPath: reserve.path), "given back")
        try pause.transaction { try JournalRepository.setPower(PowerRecord(vm: "db-01", host: "h", state: .running, since: 1, actionID: "a"), in: $0) }
        #expect(try follower.read { try JournalRepository.power(in: $0)["db-01"]?.state } == .running)
        disk.empty()
        #expect(reserve.keep() == .held)
        let file = reserve.path + "/room-0"
        try FileManager.default.removeItem(atPath: file)
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        #expect(truncate(file, off_t(StoreReserve.size / 4)) == 0)
        #expect(!reserve.isHeld, "sparse: its size, but no blocks")
        #expect(reserve.keep() == .held && reserve.isHeld, "written again, every block")
    }

    /// Inodes run out too (the state pool's chunks are small files): SQLite's log and shared memory are two files, and
    /// the reserve's files give back their inodes.
    @Test func aFilesystemOutOfInodesGivesTheReserveBack() throws {
        let disk = try SmallFilesystem(megabytes: 64, inodes: 40)
        let path = disk.path + "/torpor.db", reserve = StoreReserve(store: path)
        _ = try Store(path: path, reserve: .kept)
        #expect(reserve.isHeld)
        try disk.fillInodes()
        #expect(disk.available > 2 * StoreReserve.size, "bytes to spare")
        if case .short(_, let inodes) = reserve.keep() { #expect(inodes == 0) } else { Issue.record("not short: \(reserve.keep())") }
        let store = try Store(path: path, reserve: .releasable)
        #expect(!FileManager.default.fileExists(atPath: reserve.path), "given back")
        try store.transaction { try JournalRepository.setPower(PowerRecord(vm: "db-01", host: "h", state: .running, since: 1, actionID: "a"), in: $0) }
        // A filesystem that makes inodes as it needs them (btrfs; tmpfs without a limit) counts none free: not out of them.
        let unlimited = try SmallFilesystem(megabytes: 64, inodes: 0)
        #expect(unlimited.inodes == 0)
        let elsewhere = unlimited.path + "/torpor.db"
        _ = try Store(path: elsewhere, reserve: .kept)
        #expect(StoreReserve(store: elsewhere).keep() == .held)
    }

    @Test func aV9StoreGivesUpItsDemandCallsWhichDidNotSayWhatTheyClaimed() throws {
        let path = try olderStore(upTo: "v9: hours the forecast called for demand in") { try $0.execute(sql: "INSERT INTO demand_call (vm, hour) VALUES ('a', 3600)") }
        let store = try Store(path: path)
        #expect(try store.read { try DemandCallRepository.calls(from: .min, to: .max, in: $0) }.isEmpty)
        try store.transaction { try DemandCallRepository.record(["a": [DemandCall(hour: 3600, quantile: 0.5, forecast: 20)]], hour: 3600, keep: 86_400, in: $0) }
        #expect(try store.read { try DemandCallRepository.calls(from: .min, to: .max, in: $0) }["a"]?.count == 1)
    }

    /// A store path in a folder that does not exist, or that is a directory, is said so, not in SQLite's words ("unable
    /// to open database file", "disk I/O error"), whatever the stage does with the room kept beside it.
    @Test func aStorePathThatCannotBeAStoreIsSaidSo() throws {
        let dir = (temporaryStorePath() as NSString).deletingLastPathComponent
        for use in [StoreReserve.Use.untouched, .kept, .releasable] {
            let missing = #expect(throws: StoreError.self) { _ = try Store(path: dir + "/no-such-folder/torpor.db", reserve: use) }
            #expect(missing?.description.contains("its folder \(dir)/no-such-folder does not exist") == true, "\(String(describing: missing))")
            let directory = #expect(throws: StoreError.self) { _ = try Store(path: dir, reserve: use) }
            #expect(directory?.description.contains("is a directory, not a store") == true, "\(String(describing: directory))")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/no-such-folder"))
    }

    @Test func aStoreThatWouldNeedMigratingIsRefusedWithoutMigrating() throws {
        let path = try olderStore(upTo: "v10: what each demand call claimed")
        let missing = #expect(throws: StoreError.self) { _ = try Store(path: path + ".absent", migrating: false) }
        #expect(missing?.description.contains("no store here") == true && !FileManager.default.fileExists(atPath: path + ".absent"))
        let error = #expect(throws: StoreError.self) { _ = try Store(path: path, migrating: false) }
        #expect(error?.description.contains("older than this torpor's") == true)
        let applied = try DatabaseQueue(path: path).read { try Schema.migrator.appliedIdentifiers($0) }
        #expect(!applied.contains("v11: the journal read in bounded steps"), "left as it was")
        _ = try Store(path: path)
        #expect(try Store(path: path, migrating: false).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM journal_open") } == 0)
    }

    @Test func aV11StoreLinksEachSleepToTheImageTakenWithItAndAStoreNeedNotBeCreated() throws {
        let path = temporaryStorePath()
        let missing = #expect(throws: StoreError.self) { _ = try Store(path: path, creating: false) }
        #expect(missing?.description.contains("TORPOR_DB") == true && !FileManager.default.fileExists(atPath: path))
        _ = try olderStore(upTo: "v11: the journal read in bounded steps", at: path) { db in
            for (vm, created) in [("a", 100), ("a", 200), ("b", 50), ("c", 70)] {
                try db.execute(sql: """
                    INSERT INTO state_manifest (pool, vm, created_at, image_sha256, image_bytes, written_bytes, chunks, disk_identity)
                    VALUES ('/p', ?, ?, 'h', 1, 1, x'', 'd')
                    """, arguments: [vm, created])
            }
            // a sleeps since its second image; b since a time no image has (reconciled); c runs.
            for (vm, state, since) in [("a", "hibernated", 200), ("b", "hibernated", 60), ("c", "running", 70)] {
                try db.execute(sql: "INSERT INTO power (vm, host, state, since, action_id) VALUES (?, 'h', ?, ?, 'x')", arguments: [vm, state, since])
            }
        }
        let power = try Store(path: path, creating: false).read { try JournalRepository.power(in: $0) }
        #expect(power["a"]?.manifestID == 2 && power["b"]?.manifestID == nil && power["c"]?.manifestID == nil)
    }

    /// What each released migration leaves (the schema after it, hashed), pinned: a migration edited after a store ran
    /// it leaves that store another schema than one made since (v7 once lost `held.host`, and `status` crashed on it).
    /// A change to the schema is a new migration; a failure here prints the table to pin one that is added.
    @Test func releasedMigrationsAreNeverEdited() throws {
        let pinned: [String] = [
            "v1: vms, metrics, samples, sources, events 3149581cc6387b97",
            "v2: libvirt counters between collections fa97b1218655c537",
            "v3: state pool manifests and chunks f364bac753c2cba8",
            "v4: model registry 1c10007f543b325b",
            "v5: plans, approvals, settings 42c22aafda4ffbf7",
            "v6: execution journal, power state, pins c952d9c05fb70d03",
            "v7: due hibernations held back 6f876d4667864af5",
            "v8: the cause of a plan's restore c421f780c393103e",
            "v9: hours the forecast called for demand in 0e64e579a76b2892",
            "v10: what each demand call claimed aa6cf90d4fb46824",
            "v11: the journal read in bounded steps 533ad6043a4be231",
            "v12: the state pool image of each sleep c6d7b6e18c1a3755",
            "v13: how a sleep's pool image is taken 3a491867f4af1687",
            "v14: the libvirt domain behind each VM name 2cdaa142c4f3392b",
            "v15: a sleep's pool copy tried again after a failure that may pass 97cf281e82cea42d",
            "v16: each VM's samples summed up per hour e5118c6937228fa2",
            "v17: how many samples each summed-up hour has f2ee4f49ae0ae57f",
            "v18: when each calendar occurrence was first known 2a5d29bffe8332de",
            "v19: a VM libvirt holds saved, as the inventory found it f19b604051d98cab",
            "v20: a source's ingests by location and kind, in time e9b5cf671ab3c17f",
            "v21: when each of a VM's vCPUs and memory was observed 85307c177cf1883a",
            "v22: a VM found running on two hosts at once 88595a23ccf2f617",
            "v23: each stretch of collections that found a domain running on a host 2ba776f6eae65a11",
            "v24: the host each libvirt URI reached 29465a30feb320cd",
        ]
        let migrations = Schema.migrator.migrations
        var found: [String] = []
        for id in migrations {
            let queue = try DatabaseQueue()
            try Schema.migrator.migrate(queue, upTo: id)
            let schema = try queue.read { db in
                try String.fetchAll(db, sql: """
                    SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_master
                    WHERE name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations' ORDER BY type, name
                    """).joined(separator: "\n")
            }
            found.append("\(id) \(SHA256.hexDigest(of: Data(schema.utf8)).prefix(16))")
        }
        for (i, line) in found.enumerated() where i < pinned.count {
            #expect(line == pinned[i], "a released migration now leaves another schema: \(line), pinned \(pinned[i])")
        }
        #expect(found.count >= pinned.count, "a released migration is gone")
        let added = found[min(pinned.count, found.count)...].map { "            \"\($0)\"," }.joined(separator: "\n")
        #expect(found.count == pinned.count, "pin the migrations added:\n\(added)")
    }

    /// A store at v17 with a VM asleep, its allocation, a calendar's event and a host's collections, migrated across
    /// v18–v21: the sleep and its image stand, the event is known since ever (it was stored before first-known times),
    /// each allocation keeps the one observation time it had (and a later one still replaces it, an earlier one not),
    /// and a host's latest collection is still found by location and kind through v20's index.
    @Test func aV17StoreKeepsItsSleepsAllocationsEventsAndSourcesAcrossV18ToV21() throws {
        let path = try olderStore(upTo: "v17: how many samples each summed-up hour has") { db in
            try db.execute(sql: """
                INSERT INTO vm (id, name, host_uri, vcpus, memory_bytes, allocation_observed_at, created_at) VALUES
                    (1, 'a', 'qemu:///h', 4, 8589934592, 1000, 10), (2, 'b', 'qemu:///h', NULL, 1073741824, 900, 10);
                INSERT INTO source (id, kind, location, content_sha256, rows, inserted, duplicates, ingested_at) VALUES
                    (1, 'icalendar', '/etc/torpor/b.ics', 'x', 1, 1, 0, 500), (2, 'libvirt', 'qemu:///h', 'y', 2, 2, 0, 1200),
                    (3, 'libvirt', 'qemu:///h', 'z', 2, 2, 0, 1500);
                INSERT INTO event (source_id, uid, summary, category, starts_at, ends_at) VALUES (1, 'u1', 'release', 'keep-awake', 2000, 5600);
                INSERT INTO power (vm, host, state, since, action_id, manifest_id) VALUES ('a', 'qemu:///h', 'hibernated', 1300, 'act-1', 7);
                """)
        }
        let store = try Store(path: path, creating: false)
        try store.read { db in
            #expect(try JournalRepository.power(in: db)["a"].map { [$0.state == .hibernated, $0.manifestID == 7, $0.actionID == "act-1"] } == [true, true, true])
            #expect(try EventRepository.overlapping(from: 0, to: 10_000, knownBy: 0, in: db).map(\.uid) == ["u1"], "known since ever")
            #expect(try SourceRepository.lastIngested(kind: "libvirt", location: "qemu:///h", by: 2000, in: db) == 1500)
            let times = try Row.fetchAll(db, sql: "SELECT name, vcpus_observed_at, memory_observed_at FROM vm ORDER BY name").map { [$0[1] as Int64?, $0[2] as Int64?] }
            #expect(times == [[1000, 1000], [nil, 900]], "b had no vCPUs: none observed")
            #expect(try Row.fetchAll(db, sql: "PRAGMA table_info(vm)").allSatisfy { ($0["name"] as String) != "allocation_observed_at" })
        }
        try store.transaction { db in
            try VMRepository.setAllocation(vm: 1, vcpus: 8, memoryBytes: nil, observedAt: 999, in: db)   // older than what it has: kept
            try VMRepository.setAllocation(vm: 2, vcpus: 2, memoryBytes: nil, observedAt: 800, in: db)   // its first vCPUs, whatever the memory's time
        }
        #expect(try store.read { try VMRepository.all(in: $0) }.map { "\($0.name) \($0.vcpus.map(String.init) ?? "-")" } == ["a 4", "b 2"])
    }

    /// A replay at an earlier `--now` never uses a model trained on later data; the run whose data ends latest serves,
    /// even when an earlier period was trained after it.
    @Test func theNewestModelIsTheOneWhoseDataEndsLatestByThen() throws {
        let store = try Store(path: temporaryStorePath())
        for (dataTo, promoted) in [(300, true), (100, true), (200, false)] {
            let run = ModelRun(createdAt: 400, dataFrom: 0, dataTo: EpochSeconds(dataTo), hyperparameters: [:], metrics: [:], promoted: promoted,
                               reason: "", seconds: 1, vms: [])
            _ = try store.transaction { try ModelRegistry.insert(run, model: Data([1]), in: $0) }
        }
        let chosen = try store.read { db in
            [try ModelRegistry.newest(in: db)?.dataTo, try ModelRegistry.promoted(in: db)?.run.dataTo,
             try ModelRegistry.newest(trainedBefore: 250, in: db)?.dataTo, try ModelRegistry.promoted(trainedBefore: 250, in: db)?.run.dataTo,
             try ModelRegistry.newest(trainedBefore: 99, in: db)?.dataTo]
        }
        #expect(chosen == [300, 300, 200, 100, nil])
        // A person takes the newest promotion back: the one before it serves; said once, the reason keeps who and why.
        let newest = try #require(try store.read { try ModelRegistry.promoted(in: $0) }?.run)
        #expect(try store.transaction { try ModelRegistry.demote(id: newest.id, by: "alice", why: "restored too late", at: 500, in: $0) } == .demoted)
        #expect(try store.read { try ModelRegistry.promoted(in: $0) }?.run.dataTo == 100)
        #expect(try store.read { try ModelRegistry.runs(in: $0) }.first { $0.id == newest.id }?.reason == "; demoted by alice at 1970-01-01T00:08:20Z: restored too late")
        #expect(try store.transaction { try ModelRegistry.demote(id: newest.id, by: "alice", why: "again", at: 600, in: $0) } == .notPromoted)
        #expect(try store.transaction { try ModelRegistry.demote(id: 99, by: "alice", why: "?", at: 600, in: $0) } == .unknownRun)
    }

    @Test func aCallClaimsWhatACallAtTheSameOrAHigherQuantileForAtMostItsForecastClaims() {
        let call = DemandCall(hour: 0, quantile: 0.5, forecast: 20)
        #expect(call.claims(demandAtLeast: 15, quantile: 0.5) && call.claims(demandAtLeast: 20, quantile: 0.9))
        #expect(!call.claims(demandAtLeast: 25, quantile: 0.5), "a trial policy's call at restore_above 20 says nothing of 25")
        #expect(!call.claims(demandAtLeast: 15, quantile: 0.1), "the median at 20 says nothing of q0.1")
    }

    /// A wrong --db must not look like an empty fleet: another program's database is refused and left as it was, an
    /// empty file is no store for a command that does not create one (an ingest makes it one).
    @Test func aFileThatIsNoTorporStoreIsRefusedAndLeftAlone() throws {
        let other = temporaryStorePath()
        try DatabaseQueue(path: other).write { try $0.execute(sql: "CREATE TABLE users (id INTEGER)") }
        for creating in [false, true] {
            let error = #expect(throws: StoreError.self) { _ = try Store(path: other, creating: creating) }
            #expect(error?.description.contains("not a torpor store (it holds the tables users)") == true)
        }
        #expect(try DatabaseQueue(path: other).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") } == ["users"])
        let empty = temporaryStorePath()
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let error = #expect(throws: StoreError.self) { _ = try Store(path: empty, creating: false) }
        #expect(error?.description.contains("no store here (an empty file)") == true)
        #expect(try Store(path: empty).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM vm") } == 0)
        #expect(try Store(path: empty, creating: false).path == empty, "a store once created")
        // A store whose first creation stopped before its first migration (WAL set up, GRDB's list made, no table yet):
        // no store for a reader, made one by a stage that creates.
        let unmade = temporaryStorePath()
        try DatabaseQueue(path: unmade).write { try $0.execute(sql: "PRAGMA journal_mode = WAL; CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)") }
        let notYet = #expect(throws: StoreError.self) { _ = try Store(path: unmade, creating: false) }
        #expect(notYet?.description.contains("no store here (an empty database)") == true, "\(String(describing: notYet))")
        #expect(try Store(path: unmade).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM vm") } == 0)
    }

    @Test func aStoreFromANewerTorporIsRefused() throws {
        let path = temporaryStorePath()
        let store = try Store(path: path)
        try store.transaction { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        }
        let error = #expect(throws: StoreError.self) { _ = try Store(path: path) }
        #expect(error?.description.contains("newer torpor") == true)
    }

    /// Pruning drops every VM's and metric's samples before the cut and none after, a week at a time; a second run drops nothing.
    @Test func pruningDropsSamplesBeforeTheCutOnly() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            for name in ["a", "b", "c"] {
                let vm = try VMRepository.id(of: name, in: db, now: 0)
                for metric in ["cpu_util", "vcpus"] {
                    let id = try writer.metricID(try MetricBinding.make(metric: metric, unit: nil).get())
                    for t in stride(from: Int64(0), to: 1000, by: 100) { _ = try writer.add(vm: vm, metric: id, time: t * 86_400, value: 1) }
                }
            }
            try writer.finish()
        }
        // A stray sample long before the rest: the weeks between are skipped, not stepped through.
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            _ = try writer.add(vm: try VMRepository.id(of: "a", in: db, now: 0), metric: 1, time: -3_000_000_000, value: 1)
            try writer.finish()
        }
        // Five hundred days, a week to a transaction; the hourly summary follows.
        #expect(try SampleRetention.prune(before: 500 * 86_400, in: store, pause: 0) == (3 * 2 * 5 + 1, 0, 0))
        #expect(try store.read { try Int64.fetchAll($0, sql: "SELECT DISTINCT time / 86400 FROM sample ORDER BY time") } == [500, 600, 700, 800, 900])
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sample") } == 3 * 2 * 5)
        #expect(try store.read { try Int64.fetchAll($0, sql: "SELECT DISTINCT hour / 86400 FROM sample_hour ORDER BY hour") } == [500, 600, 700, 800, 900])
        #expect(try SampleRetention.prune(before: 500 * 86_400, in: store, pause: 0) == (0, 0, 0))
    }

    /// The record of what was ingested goes with the samples it tells of (a 5-minute collector adds a row per VM to it
    /// each time): a VM's part in an ingest once its samples are gone, the ingest once nothing refers to it. Kept: a
    /// calendar ingest whose occurrences are stored, the latest ingest of each kind and location (a collector's silence
    /// is told by it), and what was ingested after the cut. A second prune removes nothing.
    @Test func pruningDropsTheRecordOfIngestsWhoseSamplesAreGone() throws {
        let store = try Store(path: temporaryStorePath())
        let day: EpochSeconds = 86_400
        func ingest(_ kind: String, _ location: String, at time: EpochSeconds, data: ClosedRange<EpochSeconds>?, vms: [String]) throws -> Int64 {
            try store.transaction { db in
                let parts = try Dictionary(uniqueKeysWithValues: vms.map { (try VMRepository.id(of: $0, in: db, now: 0),
                                                                             SourceVMContribution(samples: 1, firstTime: data!.lowerBound, lastTime: data!.upperBound)) })
                return try SourceRepository.insert(SourceRecord(kind: kind, location: location, contentSHA256: "\(kind)\(location)\(time)", rows: 1, inserted: 1, duplicates: 0,
                                                                firstTime: data?.lowerBound, lastTime: data?.upperBound, warnings: [], ingestedAt: time),
                                                   report: [String: String](), contributions: parts, in: db)
            }
        }
        var kept: [Int64] = []
        for d: EpochSeconds in [1, 2, 3] { _ = try ingest("libvirt", "qemu+ssh://h1/system", at: d * day, data: d * day...d * day, vms: ["a", "b"]) }
        kept.append(try ingest("libvirt", "qemu+ssh://h1/system", at: 10 * day, data: 10 * day...10 * day, vms: ["a", "b"]))
        kept.append(try ingest("libvirt", "qemu+ssh://h2/system", at: 2 * day, data: 2 * day...2 * day, vms: ["c"]))   // its latest: kept, its part goes
        kept.append(try ingest("csv", "/data/old.csv", at: 8 * day, data: 0...day, vms: ["a"]))                          // ingested after the cut
        kept.append(try ingest("icalendar", "/cal.ics", at: day, data: nil, vms: []))                                   // its occurrence is stored
        _ = try ingest("icalendar", "/cal.ics", at: 2 * day, data: nil, vms: [])
        kept.append(try ingest("icalendar", "/cal.ics", at: 12 * day, data: nil, vms: []))
        try store.transaction {
            try $0.execute(sql: "INSERT INTO event (source_id, uid, summary, category, starts_at, ends_at) VALUES (?, 'u', 'backup', 'keep-awake', ?, ?)",
                           arguments: [kept[3], day, day + 3600])
        }
        #expect(try SourceRetention.prune(before: 5 * day, in: store, pause: 0) == (sources: 4, contributions: 7))
        #expect(try store.read { try SourceRepository.all(in: $0) }.map(\.id) == kept.sorted())
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM source_vm") } == 3, "the latest h1 collection's two, the CSV's one")
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event") } == 1)
        #expect(try SourceRetention.prune(before: 5 * day, in: store, pause: 0) == (sources: 0, contributions: 0))
    }

    /// The executor's journal goes with the samples, but what the executor and the planner still read: every step of an
    /// action still open (a run stopped in it), of each VM's current sleep and since it began (the restores it owes,
    /// failed), each VM's latest 50 measured saves and restores (its restore time), its last completed step before the
    /// cut (where a sleep across it began), and all after the oldest plan still valid. A second prune removes nothing.
    @Test func pruningDropsTheJournalBeforeTheCutButWhatIsStillRead() throws {
        let store = try Store(path: temporaryStorePath())
        let day: EpochSeconds = 86_400
        func step(_ action: String, _ vm: String, _ kind: JournalEntry.Kind, _ step: JournalEntry.Step, at time: EpochSeconds, seconds: Double? = nil) throws {
            var e = JournalEntry(actionID: action, planID: "p", vm: vm, host: "h", kind: kind, step: step, at: time)
            e.seconds = seconds
            try store.transaction { _ = try JournalRepository.append(e, in: $0) }
        }
        try step("h-old", "web-01", .hibernate, .intent, at: day)                       // gone
        try step("h-old", "web-01", .hibernate, .done, at: day + 60, seconds: 20)       // its latest measured save
        try step("r-old", "web-01", .restore, .intent, at: 2 * day)                     // gone
        try step("r-old", "web-01", .restore, .done, at: 2 * day + 30)                  // its last step before the cut
        try step("h-new", "web-01", .hibernate, .done, at: 20 * day)
        try step("h-asleep", "db-01", .hibernate, .intent, at: day)                     // db-01's current sleep
        try step("h-asleep", "db-01", .hibernate, .done, at: day + 60)
        try step("r-tried", "db-01", .restore, .failed, at: 3 * day)                    // since it began
        try step("h-stuck", "api-01", .hibernate, .intent, at: 3 * day)                 // a run stopped in it
        for i in 0..<55 { try step("r-\(i)", "ci-01", .restore, .done, at: day + EpochSeconds(i) * 600, seconds: 60) }   // the 5 oldest go
        try store.transaction { try JournalRepository.setPower(PowerRecord(vm: "db-01", host: "h", state: .hibernated, since: day + 60, actionID: "h-asleep"), in: $0) }
        let cut = 10 * day
        // A plan made on day 4 and valid still: nothing from then on goes.
        try step("h-planned", "web-02", .hibernate, .skipped, at: 5 * day)
        try store.transaction { try $0.execute(sql: "INSERT INTO plan (id, created_at, valid_until, file_sha256, body) VALUES ('p', ?, ?, '', x'')", arguments: [4 * day, 30 * day]) }
        #expect(try JournalRetention.prune(before: cut, now: 21 * day, in: store, pause: 0) == 2 + 5)
        let left = try store.read { try JournalRepository.recent(limit: 1000, in: $0) }
        #expect(Set(left.map(\.actionID)).isSuperset(of: ["h-old", "r-old", "h-new", "h-asleep", "r-tried", "h-stuck", "h-planned"]))
        #expect(left.filter { $0.actionID == "h-old" || $0.actionID == "r-old" }.map(\.step) == [.done, .done])
        #expect(left.filter { $0.vm == "ci-01" }.count == 50)
        #expect(try store.read { try JournalRepository.p95Seconds(kind: .restore, vms: ["ci-01"], in: $0) } == ["ci-01": 60])
        #expect(try JournalRetention.prune(before: cut, now: 21 * day, in: store, pause: 0) == 0)
        // Once that plan has expired, its hibernation's intent goes too.
        #expect(try JournalRetention.prune(before: cut, now: 31 * day, in: store, pause: 0) == 1)
    }

    /// The hourly summary holds each hour's highest and lowest sample as written (the first value of a key wins there
    /// too); the planner's reader gives the same hours from it as from the samples, and a `to` inside an hour reads
    /// nothing after it; a prune that cuts an hour sums up what is left of it.
    @Test func theHourlySummaryFollowsTheSamples() throws {
        let store = try Store(path: temporaryStorePath())
        let day: EpochSeconds = 20_000 * 86_400
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vm = try VMRepository.id(of: "web-01", in: db, now: day)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: nil).get())
            for (minute, value) in [(0, 4.0), (10, 9), (50, 2), (70, 30), (130, 5), (135, 7)] {
                _ = try writer.add(vm: vm, metric: cpu, time: day + Int64(minute) * 60, value: value)
            }
            #expect(try writer.add(vm: vm, metric: cpu, time: day + 600, value: 99) == .conflict(kept: 9))
            try writer.finish()
        }
        let hours = { (to: EpochSeconds) in
            try store.read { try SampleReader.hourly(vm: "web-01", metric: "cpu_util", from: day, to: to, in: $0) }.map { [Double($0.index), $0.high, $0.low] }
        }
        #expect(try hours(day + 3 * 3600) == [[0, 9, 2], [1, 30, 30], [2, 7, 5]])
        #expect(try hours(day + 2 * 3600 + 12 * 60) == [[0, 9, 2], [1, 30, 30], [2, 5, 5]], "nothing after a `to` inside an hour")
        // Written again (a second source for the same hours): the summary keeps the first values and adds the new hour.
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vm = try VMRepository.id(of: "web-01", in: db, now: day)
            for (minute, value) in [(0, 50.0), (190, 1)] { _ = try writer.add(vm: vm, metric: 1, time: day + Int64(minute) * 60, value: value) }
            try writer.finish()
        }
        #expect(try hours(day + 4 * 3600) == [[0, 9, 2], [1, 30, 30], [2, 7, 5], [3, 1, 1]])
        // A prune up to minute 20 leaves the first hour's sample at minute 50 alone in it.
        #expect(try SampleRetention.prune(before: day + 20 * 60, in: store, pause: 0).removed == 2)
        #expect(try hours(day + 4 * 3600) == [[0, 2, 2], [1, 30, 30], [2, 7, 5], [3, 1, 1]])
    }

    /// A host's latest collection (asked by `check` and `metrics` every 5 minutes, per host) is found through the index
    /// on location, kind and time, not by reading every ingest of the location; it is the latest by `now`.
    @Test func aHostsLatestCollectionIsOneIndexLookup() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for (at, location, kind) in [(100, "h1", "libvirt"), (200, "h1", "libvirt"), (300, "h1", "csv"), (150, "h2", "libvirt")] as [(EpochSeconds, String, String)] {
                try db.execute(sql: "INSERT INTO source (kind, location, content_sha256, rows, inserted, duplicates, ingested_at) VALUES (?, ?, ?, 0, 0, 0, ?)",
                               arguments: [kind, location, "\(at)\(location)", at])
            }
        }
        #expect(try store.read { try SourceRepository.lastIngested(kind: "libvirt", location: "h1", by: 1000, in: $0) } == 200)
        #expect(try store.read { try SourceRepository.lastIngested(kind: "libvirt", location: "h1", by: 199, in: $0) } == 100)
        let plan = try store.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT max(ingested_at) FROM source WHERE location = ? AND kind = ? AND ingested_at <= ?",
                             arguments: ["h1", "libvirt", 1000]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("source_by_location_kind") }, "\(plan)")
    }

    /// Stages that open a store from an older torpor at once migrate it one after the other, all of them succeeding.
    @Test func stagesOpeningAnOlderStoreAtOnceAllMigrateIt() throws {
        let path = temporaryStorePath()
        try Schema.migrator.migrate(try DatabaseQueue(path: path), upTo: "v15: a sleep's pool copy tried again after a failure that may pass")
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try Store(path: path) } catch { failures.add("\(error)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(try Store(path: path, migrating: false).read { try Schema.migrator.hasCompletedMigrations($0) })
    }

    /// A store in rollback mode (as the older one above, or a new one another stage is making) is turned to write-ahead
    /// logging by its first open. Two opens doing that at once each hold a read lock and want the file alone: SQLite
    /// fails one at once with "database is locked" rather than wait (it would wait forever), and the stage failed (CI,
    /// one open in some hundred). The open tries again as it waits for any lock. A race: run many times.
    @Test func storesInRollbackModeOpenedAtOnceAllOpen() throws {
        let rollback = temporaryStorePath()
        try Schema.migrator.migrate(try DatabaseQueue(path: rollback))
        let failures = Failures()
        for _ in 0..<300 {
            let path = temporaryStorePath()
            try FileManager.default.copyItem(atPath: rollback, toPath: path)
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try Store(path: path) } catch { failures.add("\(error)") }
            }
            #expect(try Store(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [String] = []
        func add(_ error: String) { lock.withLock { errors.append(error) } }
        var all: [String] { lock.withLock { errors } }
    }

    /// Samples in any order, written out a few hours at a time (as a large source is), give the summary SQLite's own
    /// grouping of the samples gives.
    @Test func theSummaryOfSamplesInAnyOrderIsTheirGrouping() throws {
        let store = try Store(path: temporaryStorePath())
        struct SplitMix: RandomNumberGenerator {   // the same samples each run
            var state: UInt64
            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        var random = SplitMix(state: 7)
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            writer.gatheredHours = 3
            let vms = [try VMRepository.id(of: "a", in: db, now: 0), try VMRepository.id(of: "b", in: db, now: 0)]
            let metrics = try ["cpu_util", "mem_used"].map { try writer.metricID(try MetricBinding.make(metric: $0, unit: nil).get()) }
            for _ in 0..<2_000 {
                _ = try writer.add(vm: vms[Int.random(in: 0...1, using: &random)], metric: metrics[Int.random(in: 0...1, using: &random)],
                                   time: 300 * 3600 + Int64.random(in: 0..<(40 * 3600), using: &random), value: Double.random(in: 0...100, using: &random))
            }
            try writer.finish()
        }
        let (summary, grouped) = try store.read { db in
            (try Row.fetchAll(db, sql: "SELECT vm_id, metric_id, hour, high, low, samples FROM sample_hour ORDER BY 1, 2, 3"),
             try Row.fetchAll(db, sql: """
                SELECT vm_id, metric_id, time - ((time % 3600) + 3600) % 3600 AS hour, max(value) AS high, min(value) AS low, count(*) AS samples
                FROM sample GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """))
        }
        #expect(summary.count == 160 && summary == grouped)
    }

    /// The day of `oldStore`'s samples.
    static let oldDay: EpochSeconds = 20_000 * 86_400

    /// A store migrated up to `version` only, with one VM's three samples in two hours of `oldDay` (`more` adds to it),
    /// then opened as this version opens it.
    static func oldStore(upTo version: String, more: (Database) throws -> Void = { _ in }) throws -> Store {
        let path = temporaryStorePath()
        do {
            let queue = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(queue, upTo: version)
            try queue.write { db in
                try db.execute(sql: "INSERT INTO vm (id, name, created_at) VALUES (1, 'old-01', 0); INSERT INTO metric (id, name, unit) VALUES (1, 'cpu_util', 'percent')")
                for (minute, value) in [(0, 4.0), (10, 9), (70, 30)] {
                    try db.execute(sql: "INSERT INTO sample VALUES (1, 1, ?, ?)", arguments: [oldDay + Int64(minute) * 60, value])
                }
                try more(db)
            }
        }
        return try Store(path: path)
    }

    /// A store from before the summary (v15) keeps its samples readable: a VM not yet summed up is read from its
    /// samples, and the nightly prune sums it up once, in a transaction of its own; reads give the same hours throughout.
    @Test func aStoreFromBeforeTheSummaryIsSummedUpByThePrune() throws {
        let day = Self.oldDay
        let store = try Self.oldStore(upTo: "v15: a sleep's pool copy tried again after a failure that may pass")
        let read = {
            try store.read { db in
                (try Bool.fetchOne(db, sql: "SELECT hours_complete FROM vm WHERE id = 1"),
                 try SampleReader.hourly(vm: "old-01", metric: "cpu_util", from: day, to: day + 7200, in: db).map { [$0.high, $0.low] })
            }
        }
        #expect(try read() == (false, [[9, 4], [30, 30]]))
        // Out of time for summing up (`--sum-up-for 0`): the VM waits for the next prune, still read from its samples.
        #expect(try SampleRetention.prune(before: day - 86_400, in: store, pause: 0, summingUpFor: 0) == (0, 0, 1))
        #expect(try read() == (false, [[9, 4], [30, 30]]))
        #expect(try SampleRetention.prune(before: day - 86_400, in: store, pause: 0) == (0, 1, 0))
        #expect(try read() == (true, [[9, 4], [30, 30]]))
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sample_hour") } == 2)
        #expect(try SampleRetention.prune(before: day - 86_400, in: store, pause: 0) == (0, 0, 0))
    }

    /// A store summed up before the summary counted samples (v16) is still read from the summary, its hours' counts
    /// unknown (0: never judged sparse), until the nightly prune sums it up again, counts and all.
    @Test func aSummaryFromBeforeSampleCountsIsSummedUpAgain() throws {
        let day = Self.oldDay
        let store = try Self.oldStore(upTo: "v16: each VM's samples summed up per hour") { db in
            try db.execute(sql: "INSERT INTO sample_hour VALUES (1, 1, ?, 9, 4), (1, 1, ?, 30, 30)", arguments: [day, day + 3600])
        }
        let read = {
            try store.read { db in
                (try Int.fetchOne(db, sql: "SELECT hours_complete FROM vm WHERE id = 1"),
                 try SampleReader.hourly(vm: "old-01", metric: "cpu_util", from: day, to: day + 7200, in: db).map(\.samples))
            }
        }
        #expect(try read() == (2, [0, 0]))
        #expect(try store.read { try SampleHours.pendingVMs(in: $0) } == 1)
        #expect(try SampleRetention.prune(before: day - 86_400, in: store, pause: 0) == (0, 1, 0))
        #expect(try read() == (1, [2, 1]))
        #expect(try store.read { try SampleHours.pendingVMs(in: $0) } == 0)
        #expect(try store.read { try Int.fetchAll($0, sql: "SELECT samples FROM sample_hour ORDER BY hour") } == [2, 1])
    }

    @Test func firstValueWinsAndRepeatsAreClassified() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vm = try VMRepository.id(of: "web-01", in: db, now: 0)
            #expect(try VMRepository.id(of: "web-01", in: db, now: 0) == vm)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: nil).get())
            #expect(try writer.add(vm: vm, metric: cpu, time: 100, value: 5) == .inserted)
            #expect(try writer.add(vm: vm, metric: cpu, time: 100, value: 5) == .duplicate)
            #expect(try writer.add(vm: vm, metric: cpu, time: 100, value: 7) == .conflict(kept: 5))
            #expect(try writer.add(vm: vm, metric: cpu, time: 50, value: 1) == .inserted)
            try writer.finish()
        }
        let values = try store.read { try Double.fetchAll($0, sql: "SELECT value FROM sample ORDER BY time") }
        #expect(values == [1, 5])
    }

    /// A row that records the VM absent (0 vCPUs or 0 memory, as Bitbrains does) holds a 0 % CPU reading too: the
    /// readers of raw demand (the planner's, the executor's pre-flight) leave it out, missing and never idle.
    @Test func samplesAtTimesTheVMWasAbsentAreNotDemand() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vm = try VMRepository.id(of: "web-01", in: db, now: 0)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: nil).get())
            let vcpus = try writer.metricID(try MetricBinding.make(metric: "vcpus", unit: "count").get())
            let memory = try writer.metricID(try MetricBinding.make(metric: "mem_capacity", unit: "bytes").get())
            for (time, util, cores, bytes) in [(0, 40.0, 2.0, 4e9), (300, 0, 0, 0), (600, 0, 2, 0), (900, 3, 2, 4e9)] as [(EpochSeconds, Double, Double, Double)] {
                _ = try writer.add(vm: vm, metric: cpu, time: time, value: util)
                _ = try writer.add(vm: vm, metric: vcpus, time: time, value: cores)
                _ = try writer.add(vm: vm, metric: memory, time: time, value: bytes)
            }
            try writer.finish()
        }
        let all = try store.read { try SampleReader.samples(vm: "web-01", metric: "cpu_util", from: 0, to: 1200, in: $0) }
        let present = try store.read { try SampleReader.presentSamples(vm: "web-01", metric: "cpu_util", from: 0, to: 1200, in: $0) }
        #expect(all.map(\.time) == [0, 300, 600, 900])
        #expect(present.map(\.time) == [0, 900] && present.map(\.value) == [40, 3])
    }

    @Test func aMetricKeepsOneCanonicalUnit() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            _ = try SampleWriter(db: db).metricID(try MetricBinding.make(metric: "queue_depth", unit: "count").get())
        }
        #expect(throws: StoreError.self) {
            try store.transaction { db in
                _ = try SampleWriter(db: db).metricID(try MetricBinding.make(metric: "queue_depth", unit: "bytes").get())
            }
        }
    }

    @Test func aFailedTransactionLeavesNothing() throws {
        struct Abort: Error {}
        let store = try Store(path: temporaryStorePath())
        #expect(throws: Abort.self) {
            try store.transaction { db in
                _ = try VMRepository.id(of: "web-01", in: db, now: 0)
                throw Abort()
            }
        }
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM vm") } == 0)
    }

    @Test func allocationKeepsTheLatestObservation() throws {
        let store = try Store(path: temporaryStorePath())
        let vms = try store.transaction { db -> [VMRecord] in
            let vm = try VMRepository.id(of: "db-01", in: db, now: 0)
            try VMRepository.setAllocation(vm: vm, vcpus: 4, memoryBytes: 8 << 30, observedAt: 200, in: db)
            try VMRepository.setAllocation(vm: vm, vcpus: 2, memoryBytes: 4 << 30, observedAt: 100, in: db)   // older: ignored
            // Each has its own time: vCPUs seen at 250 are the latest vCPUs, though memory was seen at 300 since.
            try VMRepository.setAllocation(vm: vm, vcpus: nil, memoryBytes: 16 << 30, observedAt: 300, in: db)
            try VMRepository.setAllocation(vm: vm, vcpus: 6, memoryBytes: nil, observedAt: 250, in: db)
            try VMRepository.setPlacement(vm: vm, hostURI: "qemu+ssh://h1/system", labels: ["tier": "gold"], in: db)
            return try VMRepository.all(in: db)
        }
        #expect(vms == [VMRecord(id: 1, name: "db-01", hostURI: "qemu+ssh://h1/system", labels: ["tier": "gold"], vcpus: 6, memoryBytes: 16 << 30)])
    }

    @Test func coverageCountsGapsAcrossMetrics() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vm = try VMRepository.id(of: "web-01", in: db, now: 0)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: nil).get())
            let mem = try writer.metricID(try MetricBinding.make(metric: "mem_used", unit: nil).get())
            for t in stride(from: Int64(0), to: 3600, by: 300) { _ = try writer.add(vm: vm, metric: cpu, time: t, value: 1) }
            // a 2-hour hole in cpu_util that mem_used does not fill, then both resume
            for t in stride(from: Int64(10_800), to: 14_400, by: 300) {
                _ = try writer.add(vm: vm, metric: cpu, time: t, value: 1)
                _ = try writer.add(vm: vm, metric: mem, time: t, value: 1)
            }
            try writer.finish()
        }
        let coverage = try store.read { try CoverageRepository.coverage(gapThreshold: 900, upTo: 14_400, in: $0) }
        #expect(coverage.count == 1)
        #expect(coverage[0].metrics == ["cpu_util", "mem_used"])
        #expect(coverage[0].samples == 12 + 24)
        #expect(coverage[0].firstTime == 0)
        #expect(coverage[0].lastTime == 14_100)
        #expect(coverage[0].gaps == 1)
        #expect(coverage[0].gapSeconds == 10_800 - 3300)
        #expect(coverage[0].silentSeconds == nil, "the last sample is 5 minutes old")
        // Replayed at 02:00 the store is as it was then: the hole not yet closed is a silence, not a gap.
        let then = try store.read { try CoverageRepository.coverage(gapThreshold: 900, upTo: 7200, in: $0) }
        #expect(then[0].samples == 12 && then[0].lastTime == 3300 && then[0].gaps == 0 && then[0].silentSeconds == 7200 - 3300)
    }

    /// Gaps and silence are of the demand metric: `vcpus` every 5 minutes for a day (the libvirt collector keeps writing
    /// it for a shut-off domain) covers neither a day with one hour of `cpu_util` nor a 2-hour hole in it. The sources
    /// listed are those that gave the VM samples by `now`.
    @Test func coverageGapsAndSilenceAreOfTheDemandMetric() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let vcpus = try writer.metricID(try MetricBinding.make(metric: "vcpus", unit: nil).get())
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: nil).get())
            let off = try VMRepository.id(of: "off-01", in: db, now: 0)
            let holed = try VMRepository.id(of: "holed-01", in: db, now: 0)
            for t in stride(from: Int64(0), to: 86_400, by: 300) {
                _ = try writer.add(vm: off, metric: vcpus, time: t, value: 2)
                _ = try writer.add(vm: holed, metric: vcpus, time: t, value: 2)
                if t < 3600 { _ = try writer.add(vm: off, metric: cpu, time: t, value: 1) }
                if t < 3600 || t >= 7200 { _ = try writer.add(vm: holed, metric: cpu, time: t, value: 1) }
            }
            let today = SourceRecord(kind: "csv", location: "/today.csv", contentSHA256: "a", rows: 288, inserted: 300, duplicates: 0,
                                     firstTime: 0, lastTime: 86_100, warnings: [], ingestedAt: 86_400)
            var tomorrow = today
            tomorrow.location = "/tomorrow.csv"
            tomorrow.contentSHA256 = "b"
            _ = try SourceRepository.insert(today, report: [String: String](), contributions: [off: SourceVMContribution(samples: 300, firstTime: 0, lastTime: 86_100)], in: db)
            _ = try SourceRepository.insert(tomorrow, report: [String: String](), contributions: [off: SourceVMContribution(samples: 1, firstTime: 90_000, lastTime: 90_000)], in: db)
            try writer.finish()
        }
        let coverage = try store.read { try CoverageRepository.coverage(gapThreshold: 900, upTo: 86_400, in: $0) }
        let off = try #require(coverage.first { $0.vm == "off-01" })
        #expect(off.lastTime == 86_100 && off.lastDemandTime == 3300)
        #expect(off.gaps == 0 && off.silentSeconds == 86_400 - 3300, "a day of vcpus is not a day of demand read")
        #expect(off.sources == ["/today.csv"], "the source of tomorrow's samples is not one of a replay at today's end")
        let holed = try #require(coverage.first { $0.vm == "holed-01" })
        #expect(holed.gaps == 1 && holed.gapSeconds == 7200 - 3300 && holed.lastDemandTime == 86_100 && holed.silentSeconds == nil)
    }
}

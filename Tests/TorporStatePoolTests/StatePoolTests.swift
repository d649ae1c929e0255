import Foundation
import Testing
import TorporCore
import TorporHash
@testable import TorporStatePool
import TorporStore
import TorporTestSupport

/// Deterministic pseudo-random bytes (SplitMix64), so tests need no fixtures.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    for i in stride(from: 0, to: count, by: 8) {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        for k in 0..<min(8, count - i) { out[i + k] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(k))) }
    }
    return out
}

struct PoolScratch {
    let dir: String
    let store: Store

    init() throws {
        dir = try ScratchDirectory.make("torpor-pool")
        store = try Store(path: dir + "/torpor.db")
    }

    func image(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func pool(_ capacity: Int64 = 1 << 30, at path: String? = nil) throws -> StatePool {
        try StatePool(directory: path ?? dir + "/pool", capacityBytes: capacity, store: store, chunker: ContentDefinedChunker(averageSize: 16 * 1024))
    }

    /// `vm` put to sleep on host "h" with `bytes` as its image, taken into `pool` and linked to the sleep.
    func asleep(_ vm: String, on pool: StatePool, _ bytes: [UInt8]) throws -> TakeReport {
        let taken = try pool.take(image: try image("a", bytes), vm: vm, diskIdentity: "d", now: 1)
        try store.transaction { db in
            try JournalRepository.setPower(PowerRecord(vm: vm, host: "h", state: .hibernated, since: 1, actionID: "a1"), in: db)
            #expect(try JournalRepository.linkManifest(taken.manifestID, vm: vm, actionID: "a1", in: db))
        }
        return taken
    }

    /// Where `pool` keeps the chunk `hex`.
    func chunkPath(_ hex: String) -> String { dir + "/pool/chunks/" + String(hex.prefix(2)) + "/" + hex }
}

@Suite struct ChunkerTests {
    let chunker = ContentDefinedChunker(averageSize: 16 * 1024)

    func hashes(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.withUnsafeBytes { all in
            var offset = 0
            return chunker.chunks(of: all).map { length in
                defer { offset += length }
                return SHA256.digest(UnsafeRawBufferPointer(rebasing: all[offset..<offset + length]))
            }
        }
    }

    @Test func chunkSizesStayWithinBounds() {
        let data = randomBytes(4 << 20, seed: 1)
        let lengths = data.withUnsafeBytes { chunker.chunks(of: $0) }
        #expect(lengths.reduce(0, +) == data.count)
        #expect(lengths.dropLast().allSatisfy { $0 >= chunker.minSize && $0 <= chunker.maxSize })
        let average = data.count / lengths.count
        #expect(average > chunker.averageSize / 2 && average < chunker.averageSize * 2, "average \(average)")
    }

    @Test func boundariesSurviveInsertionsAndDeletions() {
        let original = randomBytes(4 << 20, seed: 2)
        var shifted = original
        shifted.insert(contentsOf: randomBytes(100, seed: 3), at: 1_000_003)
        shifted.removeSubrange(3_000_000..<3_000_777)
        let before = Set(hashes(original)), after = hashes(shifted)
        let kept = after.filter(before.contains).count
        #expect(Double(kept) / Double(after.count) > 0.95, "\(kept) of \(after.count) chunks unchanged")
    }

    @Test func theSameContentGivesTheSameChunks() {
        let data = randomBytes(1 << 20, seed: 4)
        #expect(hashes(data) == hashes(data))
    }
}

@Suite struct StatePoolTests {
    @Test func anImageComesBackByteForByte() throws {
        let s = try PoolScratch()
        let bytes = randomBytes(3 << 20, seed: 5)
        let pool = try s.pool()
        let report = try pool.take(image: try s.image("web-01.save", bytes), vm: "web-01", diskIdentity: "vda:1", now: 100)
        #expect(report.imageBytes == Int64(bytes.count) && report.writtenBytes == Int64(bytes.count))
        let out = s.dir + "/restored.save"
        try pool.materialize(try pool.latest(vm: "web-01"), to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(bytes))
    }

    /// A take killed mid-copy leaves its new chunks in tmp/ under their hashes: the next take of the same image (a
    /// later pass) clears them under the pool's lock instead of being refused by them.
    @Test func aTakeKilledMidCopyDoesNotRefuseTheNextOne() throws {
        let s = try PoolScratch()
        let bytes = randomBytes(1 << 20, seed: 8)
        let pool = try s.pool()
        let first = bytes.withUnsafeBytes { all in SHA256.hex(SHA256.digest(UnsafeRawBufferPointer(rebasing: all[0..<pool.chunker.cut(all)]))) }
        try Data("half a chunk".utf8).write(to: URL(fileURLWithPath: s.dir + "/pool/tmp/" + first))
        _ = try pool.take(image: try s.image("web-01.save", bytes), vm: "web-01", diskIdentity: "d", now: 100)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/pool/tmp").isEmpty)
        let out = s.dir + "/restored.save"
        try pool.materialize(try pool.latest(vm: "web-01"), to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(bytes))
    }

    @Test func aRepeatedHibernationWritesOnlyWhatChanged() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        var bytes = randomBytes(4 << 20, seed: 6)
        _ = try pool.take(image: try s.image("a", bytes), vm: "web-01", diskIdentity: "d", now: 100)
        let fresh = randomBytes(256 * 1024, seed: 7)   // the guest wrote 256 KiB of new data
        bytes.replaceSubrange(2_000_000..<2_000_000 + fresh.count, with: fresh)
        let second = try pool.take(image: try s.image("b", bytes), vm: "web-01", diskIdentity: "d", now: 200)
        #expect(second.writtenBytes <= Int64(fresh.count) + Int64(bytes.count) / 10, "wrote \(second.writtenBytes)")
        #expect(second.writtenBytes >= Int64(fresh.count))
        let out = s.dir + "/r"
        try pool.materialize(try pool.latest(vm: "web-01"), to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(bytes))
    }

    @Test func vmsFromOneTemplateShareChunks() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        let template = randomBytes(2 << 20, seed: 8)
        _ = try pool.take(image: try s.image("a", template), vm: "web-01", diskIdentity: "d1", now: 1)
        let twin = try pool.take(image: try s.image("b", template), vm: "web-02", diskIdentity: "d2", now: 2)
        #expect(twin.writtenBytes == 0)
        let status = try pool.status()
        #expect(status.images == 2 && status.logicalBytes == 2 * Int64(template.count) && status.storedBytes == Int64(template.count))
        #expect(status.sharedAcrossVMs == status.chunks)
    }

    /// A chunk whose file is there but cannot be read (a failing disk's EIO; here a directory in its place) is damaged,
    /// not passed as there nor refused as missing: verify names it, a restore says it cannot be read.
    @Test func anUnreadableChunkIsDamaged() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(300_000, seed: 11)), vm: "db-01", diskIdentity: "d", now: 1)
        let manifest = try pool.latest(vm: "db-01"), hex = SHA256.hex(manifest.chunks[1].hash)
        let victim = s.chunkPath(hex)
        try FileManager.default.removeItem(atPath: victim)
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        let verify = try pool.verify()
        #expect(verify.unreadable == [hex] && verify.corrupt.isEmpty && verify.missing.isEmpty, "\(verify)")
        let e = #expect(throws: StatePoolError.self) { try pool.materialize(manifest, to: s.dir + "/restored") }
        #expect(e?.kind == .corrupt && e?.message.contains("chunk 1 (\(hex)) of db-01's image #\(manifest.id) cannot be read") == true, "\(String(describing: e))")
    }

    /// An unreadable chunk may read again (a disk that recovers): --repair sets it aside while a sleep whose copy may be
    /// all there is of its memory uses it (removed, its bytes were gone for good; left under its name, no take would
    /// write it again), puts it back once it reads whole, and drops the copy set aside once a take has written the chunk
    /// anew. Every sleep using it has libvirt's own image: removed, as a damaged one.
    @Test func aRepairSetsAsideAnUnreadableChunkASoleCopyUses() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        let bytes = randomBytes(300_000, seed: 15)
        let taken = try s.asleep("db-01", on: pool, bytes)
        let manifest = try pool.latest(vm: "db-01"), hex = SHA256.hex(manifest.chunks[1].hash)
        let chunk = Data(bytes[manifest.chunks[0].size..<(manifest.chunks[0].size + manifest.chunks[1].size)])
        let victim = s.chunkPath(hex), aside = s.dir + "/pool/unreadable/" + hex
        func unreadable() throws {   // read fails, as on EIO
            try? FileManager.default.removeItem(atPath: victim)
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        }
        func restorable() throws -> Bool {
            try pool.materialize(try pool.latest(vm: "db-01"), to: s.dir + "/restored")
            defer { try? FileManager.default.removeItem(atPath: s.dir + "/restored") }
            return try Data(contentsOf: URL(fileURLWithPath: s.dir + "/restored")) == Data(bytes)
        }
        try unreadable()
        let kept = try pool.verify(repair: true) { _, _ in false }
        #expect(kept.unreadable == [hex] && kept.setAside == [hex] && kept.removed.isEmpty && kept.keptLinked == ["db-01"], "\(kept)")
        #expect(!FileManager.default.fileExists(atPath: victim) && FileManager.default.fileExists(atPath: aside), "set aside, its bytes kept")
        #expect(try s.store.read { try JournalRepository.power(of: "db-01", in: $0) }?.manifestID == taken.manifestID)
        let unread = #expect(throws: StatePoolError.self) { _ = try restorable() }
        #expect(unread?.message.contains("set aside unreadable by a repair (\(aside)): restorable once it reads again") == true, "\(String(describing: unread))")
        // The disk recovers: the sleep is restorable from the copy set aside at once, and the next repair puts it back.
        try FileManager.default.removeItem(atPath: aside)
        try chunk.write(to: URL(fileURLWithPath: aside))
        #expect(try restorable())
        let back = try pool.verify(repair: true) { _, _ in false }
        #expect(back.recovered == [hex] && back.missing.isEmpty && back.keptLinked.isEmpty, "\(back)")
        #expect(try restorable())
        // Set aside again, then written anew by a take of an image holding it (its name free): the copy set aside goes.
        try unreadable()
        #expect(try pool.verify(repair: true) { _, _ in false }.setAside == [hex])
        #expect(try pool.take(image: try s.image("b", bytes), vm: "db-02", diskIdentity: "d", now: 2).rewrittenChunks == 1)
        let cleaned = try pool.verify(repair: true) { _, _ in false }
        #expect(cleaned.recovered.isEmpty && cleaned.unreadable.isEmpty && !FileManager.default.fileExists(atPath: aside), "\(cleaned)")
        #expect(try restorable())
        // Set aside whole (read again since), while a take's copy under its name went bad: put back over it.
        try FileManager.default.createDirectory(atPath: s.dir + "/pool/unreadable", withIntermediateDirectories: true)
        try chunk.write(to: URL(fileURLWithPath: aside))
        try unreadable()
        #expect(try restorable(), "read from the copy set aside")
        #expect(try pool.verify(repair: true) { _, _ in false }.recovered == [hex])
        #expect(try restorable() && !FileManager.default.fileExists(atPath: aside))
        // Every sleep using it has libvirt's own image: removed, the sleeps taken again.
        try unreadable()
        let removed = try pool.verify(repair: true) { _, _ in true }
        #expect(removed.removed == [hex] && removed.setAside.isEmpty && removed.retaken == ["db-01"], "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: victim) && !FileManager.default.fileExists(atPath: aside))
    }

    /// A sleeping VM whose copy lost a chunk's file (removed by hand, lost by the filesystem) is named, and --repair has
    /// the executor take its libvirt image again, as for a damaged chunk, when libvirt holds one. When it holds none
    /// (or cannot say), the copy stays linked: whole again once a take of another image writes the chunk again.
    @Test func aSleepOnAMissingChunkIsTakenAgainAfterARepair() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        let bytes = randomBytes(300_000, seed: 14)
        let taken = try s.asleep("db-01", on: pool, bytes)
        let hex = SHA256.hex(try pool.latest(vm: "db-01").chunks[2].hash)
        try FileManager.default.removeItem(atPath: s.chunkPath(hex))
        let looked = try pool.verify()
        #expect(looked.missing == [hex] && looked.sleepingAffected == ["db-01"] && looked.retaken.isEmpty, "\(looked)")
        #expect(try s.store.read { try JournalRepository.power(of: "db-01", in: $0) }?.manifestID == taken.manifestID, "only --repair unlinks")
        var asked: [String] = []
        let kept = try pool.verify(repair: true) { vm, host in asked.append("\(vm) on \(host)"); return false }
        #expect(asked == ["db-01 on h"] && kept.retaken.isEmpty && kept.keptLinked == ["db-01"], "\(kept)")
        #expect(try s.store.read { try JournalRepository.power(of: "db-01", in: $0) }?.manifestID == taken.manifestID, "libvirt holds no image: left linked")
        _ = try pool.take(image: try s.image("b", bytes), vm: "db-02", diskIdentity: "d", now: 2)   // writes the chunk again
        try pool.materialize(try pool.latest(vm: "db-01"), to: s.dir + "/restored")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/restored")) == Data(bytes), "db-01's sleep restorable from the pool again")
        try FileManager.default.removeItem(atPath: s.chunkPath(hex))
        #expect(try pool.verify(repair: true) { _, _ in true }.retaken == ["db-01"])
        #expect(try s.store.read { try JournalRepository.power(of: "db-01", in: $0) }?.manifestID == nil)
    }

    /// What the pool writes is its owner's alone (guests' memory); a pool made before is closed to others when opened.
    @Test func thePoolIsItsOwnersAlone() throws {
        let s = try PoolScratch()
        try FileManager.default.createDirectory(atPath: s.dir + "/pool", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(100_000, seed: 12)), vm: "db-01", diskIdentity: "d", now: 1)
        func mode(_ path: String) throws -> Int { try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) }
        let hex = SHA256.hex(try pool.latest(vm: "db-01").chunks[0].hash)
        #expect(try mode(s.dir + "/pool") == 0o700 && mode(s.dir + "/pool/chunks") == 0o700)
        #expect(try mode(s.chunkPath(hex)) == 0o600 && mode(s.dir + "/pool/POOL") == 0o600)
        try pool.materialize(try pool.latest(vm: "db-01"), to: s.dir + "/restored")
        #expect(try mode(s.dir + "/restored") == 0o600)
    }

    /// A rebuild killed midway (an executor restarted, a person's Ctrl-C) leaves a partial image as large as the image:
    /// the next rebuild of that VM removes those whose process is gone, not another's still writing.
    @Test func aKilledRebuildsPartialImageIsRemovedByTheNext() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(100_000, seed: 13)), vm: "db-01", diskIdentity: "d", now: 1)
        let target = s.dir + "/db-01" + StatePool.restoreImageSuffix
        let gone = target + ".999999999.1" + StatePool.partialSuffix, running = target + ".\(getpid()).2" + StatePool.partialSuffix
        let other = s.dir + "/db-02" + StatePool.restoreImageSuffix + ".999999999.3" + StatePool.partialSuffix
        for path in [gone, running, other] { try Data(count: 1000).write(to: URL(fileURLWithPath: path)) }
        try pool.materialize(try pool.latest(vm: "db-01"), to: target)
        let left = try FileManager.default.contentsOfDirectory(atPath: s.dir).filter { $0.hasSuffix(StatePool.partialSuffix) }.sorted()
        #expect(left == [(other as NSString).lastPathComponent, (running as NSString).lastPathComponent].sorted(), "\(left)")
    }

    @Test func aCorruptChunkIsDetectedAndRefused() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(1 << 20, seed: 9)), vm: "db-01", diskIdentity: "d", now: 1)
        let manifest = try pool.latest(vm: "db-01")
        let victim = s.dir + "/pool/chunks/" + String(SHA256.hex(manifest.chunks[3].hash).prefix(2)) + "/" + SHA256.hex(manifest.chunks[3].hash)
        var data = try Data(contentsOf: URL(fileURLWithPath: victim))
        data[10] ^= 0xFF
        try data.write(to: URL(fileURLWithPath: victim))
        let out = s.dir + "/restored"
        let e = #expect(throws: StatePoolError.self) { try pool.materialize(manifest, to: out) }
        #expect(e?.kind == .corrupt && e?.message.contains("chunk 3") == true)
        #expect(try !FileManager.default.fileExists(atPath: out) && !FileManager.default.contentsOfDirectory(atPath: s.dir).contains { $0.hasSuffix(".torpor-partial") })
        let verify = try pool.verify()
        #expect(verify.corrupt == [SHA256.hex(manifest.chunks[3].hash)] && verify.missing.isEmpty && verify.removed.isEmpty)
        // A take of the same content reuses the damaged chunk by its size: still damaged.
        let second = try pool.take(image: try s.image("b", randomBytes(1 << 20, seed: 9)), vm: "db-01", diskIdentity: "d", now: 2)
        #expect(try pool.verify().corrupt.count == 1)
        // db-01 sleeps on that second image: named as affected; repaired, its copy is unlinked from the sleep for the
        // executor to take libvirt's image again (it had stayed unrestorable until some take met the chunk's content).
        try s.store.transaction { db in
            try JournalRepository.setPower(PowerRecord(vm: "db-01", host: "h", state: .hibernated, since: 2, actionID: "a2"), in: db)
            #expect(try JournalRepository.linkManifest(second.manifestID, vm: "db-01", actionID: "a2", in: db))
        }
        #expect(try pool.verify().sleepingAffected == ["db-01"])
        let repaired = try pool.verify(repair: true) { _, _ in true }   // libvirt holds its image
        #expect(repaired.removed == [SHA256.hex(manifest.chunks[3].hash)] && repaired.retaken == ["db-01"], "\(repaired)")
        #expect(try s.store.read { try JournalRepository.power(of: "db-01", in: $0) }?.manifestID == nil)
        let again = try pool.take(image: try s.image("c", randomBytes(1 << 20, seed: 9)), vm: "db-01", diskIdentity: "d", now: 3)
        #expect(try again.rewrittenChunks == 1 && pool.verify().corrupt.isEmpty)
        try pool.materialize(manifest, to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(randomBytes(1 << 20, seed: 9)))
    }

    /// A chunk the index has but whose file is gone (removed, lost by the filesystem, a pool restored from an older
    /// copy) is not taken as stored: the next take of an image that has it writes it again, and says so.
    @Test func aChunkTheIndexHasButTheDiskLostIsWrittenAgain() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        let bytes = randomBytes(1 << 20, seed: 21)
        _ = try pool.take(image: try s.image("a", bytes), vm: "db-01", diskIdentity: "d", now: 1)
        let manifest = try pool.latest(vm: "db-01")
        func path(_ chunk: StateManifest.Chunk) -> String { s.dir + "/pool/chunks/" + String(SHA256.hex(chunk.hash).prefix(2)) + "/" + SHA256.hex(chunk.hash) }
        try FileManager.default.removeItem(atPath: path(manifest.chunks[2]))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path(manifest.chunks[5])))   // cut short
        #expect(try pool.verify().missing.count + pool.verify().corrupt.count == 2)
        let again = try pool.take(image: try s.image("b", bytes), vm: "db-01", diskIdentity: "d", now: 2)
        #expect(again.rewrittenChunks == 2 && again.newChunks == 0 && again.writtenBytes == Int64(manifest.chunks[2].size + manifest.chunks[5].size))
        #expect(try pool.verify().missing.isEmpty && pool.verify().corrupt.isEmpty)
        try pool.materialize(try pool.latest(vm: "db-01"), to: s.dir + "/out")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/out")) == Data(bytes))
    }

    /// An image a restore rebuilt in the pool's directory and left (the restore killed) is removed by a collection
    /// once a day old, not before (a restore may be rebuilding it now).
    @Test func collectionRemovesImagesInterruptedRestoresLeft() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        let old = s.dir + "/pool/db-01.torpor-restore.torpor-partial", fresh = s.dir + "/pool/web-01" + StatePool.restoreImageSuffix
        let ownName = s.dir + "/pool/db-02.torpor-restore.4242.17.torpor-partial"   // a rebuild's name of its own
        for path in [old, fresh, ownName] { try Data("partial".utf8).write(to: URL(fileURLWithPath: path)) }
        for path in [old, ownName] { try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-2 * 86_400)], ofItemAtPath: path) }
        #expect(try pool.collectGarbage(keepPerVM: 1).leftoverImagesRemoved == 2)
        #expect(!FileManager.default.fileExists(atPath: old) && !FileManager.default.fileExists(atPath: ownName) && FileManager.default.fileExists(atPath: fresh))
    }

    /// A pool the store holds images in, whose directory has neither its POOL file nor a chunk (its filesystem not
    /// mounted), is refused rather than made afresh on what lies beneath: images taken there would vanish on mount.
    @Test func aPoolWhoseFilesystemIsNotMountedIsNotMadeAfresh() throws {
        let s = try PoolScratch()
        _ = try s.pool().take(image: try s.image("a", randomBytes(200_000, seed: 22)), vm: "db-01", diskIdentity: "d", now: 1)
        try FileManager.default.moveItem(atPath: s.dir + "/pool", toPath: s.dir + "/pool.mounted")
        try FileManager.default.createDirectory(atPath: s.dir + "/pool", withIntermediateDirectories: false)   // the bare mount point
        let e = #expect(throws: StatePoolError.self) { _ = try s.pool() }
        #expect(e?.kind == .io && e?.message.contains("is its filesystem mounted?") == true, "\(String(describing: e))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/pool").isEmpty, "nothing made there")
        try FileManager.default.removeItem(atPath: s.dir + "/pool")
        try FileManager.default.moveItem(atPath: s.dir + "/pool.mounted", toPath: s.dir + "/pool")
        #expect(try s.pool().verify().missing.isEmpty, "mounted again: the pool as it was")
    }

    /// The pool makes its directories one level at a time, each flushed into its parent; one that cannot be made
    /// (here: a file where a parent should be) is named with the cause.
    @Test func directoriesAreMadeLevelByLevelAndAFailureNamesTheOne() throws {
        let s = try PoolScratch()
        try PoolFiles.makeDirectory(s.dir + "/a/b/c")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: s.dir + "/a/b/c", isDirectory: &isDirectory) && isDirectory.boolValue)
        try PoolFiles.makeDirectory(s.dir + "/a/b/c")   // already there: nothing to do
        _ = try s.image("file", [1, 2, 3])
        let e = #expect(throws: PoolFiles.Failure.self) { try PoolFiles.makeDirectory(s.dir + "/file/d/e") }
        #expect(e?.message == "\(s.dir)/file/d: Not a directory", "\(String(describing: e))")
        #expect(throws: PoolFiles.Failure.self) { try PoolFiles.syncDirectory(s.dir + "/none") }
    }

    @Test func aPersonsCommandOnAPathWithNoPoolIsRefusedAndMakesNone() throws {
        let s = try PoolScratch()
        // A fresh install: no image anywhere yet, the nightly collection makes the pool its first take fills.
        #expect(try StatePool(directory: s.dir + "/pool", capacityBytes: 1 << 30, store: s.store, creating: false).status().images == 0)
        _ = try s.pool().take(image: try s.image("a", randomBytes(200_000, seed: 23)), vm: "db-01", diskIdentity: "d", now: 1)
        let e = #expect(throws: StatePoolError.self) {
            _ = try StatePool(directory: s.dir + "/pol", capacityBytes: 1 << 30, store: s.store, creating: false)
        }
        #expect(e?.message == "state pool \(s.dir)/pol: no pool here (no POOL file); the store holds images in \(s.dir)/pool: a mistyped path, or a pool moved here that the executor's first image will make (nothing to look after here until then)")
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/pol"), "nothing made there")
        let existing = try StatePool(directory: s.dir + "/pool", capacityBytes: 1 << 30, store: s.store, creating: false)
        #expect(try existing.status().images == 1 && existing.verify().missing.isEmpty)
    }

    @Test func aRestoreAfterADiskChangeIsRefused() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(100_000, seed: 10)), vm: "db-01", diskIdentity: "vda=/var/lib/db.qcow2@sha:1", now: 1)
        let manifest = try pool.latest(vm: "db-01")
        let e = #expect(throws: StatePoolError.self) { try StatePool.checkDisks(of: manifest, current: "vda=/var/lib/db.qcow2@sha:2") }
        #expect(e?.kind == .refused && e?.message.contains("disks changed") == true)
        try StatePool.checkDisks(of: manifest, current: "vda=/var/lib/db.qcow2@sha:1")
    }

    @Test func garbageCollectionNeverDeletesAReferencedChunk() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        var bytes = randomBytes(2 << 20, seed: 11)
        for night in 0..<4 {
            bytes.replaceSubrange(night * 300_000..<night * 300_000 + 200_000, with: randomBytes(200_000, seed: 100 + UInt64(night)))
            _ = try pool.take(image: try s.image("n\(night)", bytes), vm: "web-01", diskIdentity: "d", now: EpochSeconds(night))
        }
        _ = try pool.take(image: try s.image("other", randomBytes(500_000, seed: 12)), vm: "api-01", diskIdentity: "d", now: 9)
        try Data("junk".utf8).write(to: URL(fileURLWithPath: s.dir + "/pool/tmp/leftover"))
        let before = try pool.status()
        let gc = try pool.collectGarbage(keepPerVM: 1)
        #expect(gc.manifestsRemoved == 3 && gc.chunksRemoved > 0 && gc.bytesFreed > 0)
        let after = try pool.status()
        #expect(after.images == 2 && after.storedBytes == before.storedBytes - gc.bytesFreed)
        #expect(try pool.verify() == StatePool.VerifyReport(chunksChecked: after.chunks, corrupt: [], missing: []))
        try pool.materialize(try pool.latest(vm: "web-01"), to: s.dir + "/r")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/r")) == Data(bytes))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/pool/tmp").isEmpty)
    }

    /// A collection by an older copy of the store (kept for a replay, restored from a backup) is refused: its index
    /// lacks the newest image, whose chunks it would take for strays and remove under a sleeping VM.
    @Test func aStoreThatHasNotSeenThePoolsNewestImageCollectsNothing() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(500_000, seed: 51)), vm: "web-01", diskIdentity: "d", now: 1)
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: s.dir + "/torpor.db" + suffix) {   // the store as it is now
            try FileManager.default.copyItem(atPath: s.dir + "/torpor.db" + suffix, toPath: s.dir + "/older.db" + suffix)
        }
        let newest = try pool.take(image: try s.image("b", randomBytes(500_000, seed: 52)), vm: "api-01", diskIdentity: "d", now: 2)
        let older = try StatePool(directory: s.dir + "/pool", capacityBytes: 1 << 30, store: try Store(path: s.dir + "/older.db"), creating: false)
        let refused = #expect(throws: StatePoolError.self) { try older.collectGarbage(keepPerVM: 1) }
        #expect(refused?.kind == .refused && refused?.message.contains("it holds image #\(newest.manifestID), newer than any this store knows (#1)") == true,
                "\(String(describing: refused))")
        #expect(try pool.verify().missing.isEmpty, "every chunk of the newest image is still there")
        #expect(try pool.collectGarbage(keepPerVM: 1).chunksRemoved == 0, "the store the executor uses collects")
        // Restored from a backup, the older store is the current one when a person says so: collected, the images it
        // does not know removed, and later collections go on.
        let adopted = try older.collectGarbage(keepPerVM: 1, storeIsCurrent: true)
        #expect(try adopted.chunksRemoved == 0 && older.verify().missing.isEmpty)
        #expect(try older.collectGarbage(keepPerVM: 1).manifestsRemoved == 0)
    }

    /// A `NEWEST` that cannot be read (a damaged disk, a permission; here a folder in its place, or no id in it) is not
    /// taken for none: a collection is refused, and a take does not lower it, until a person says the store is current.
    @Test func anUnreadableNewestIsNeverTakenForNone() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        _ = try pool.take(image: try s.image("a", randomBytes(200_000, seed: 61)), vm: "web-01", diskIdentity: "d", now: 1)
        let newest = s.dir + "/pool/NEWEST"
        try "garbage\n".write(toFile: newest, atomically: false, encoding: .utf8)
        let refused = #expect(throws: StatePoolError.self) { try pool.collectGarbage(keepPerVM: 1) }
        #expect(refused?.kind == .refused && refused?.message.contains("holds no image id") == true, "\(String(describing: refused))")
        _ = try pool.take(image: try s.image("b", randomBytes(200_000, seed: 62)), vm: "api-01", diskIdentity: "d", now: 2)
        #expect(try String(contentsOfFile: newest, encoding: .utf8) == "garbage\n", "not written over by a take")
        _ = try pool.collectGarbage(keepPerVM: 1, storeIsCurrent: true)
        let storesNewest = try Int64(String(contentsOfFile: newest, encoding: .utf8).trimmingCharacters(in: .newlines))
        #expect(storesNewest != nil)
        try FileManager.default.removeItem(atPath: newest)
        try FileManager.default.createDirectory(atPath: newest, withIntermediateDirectories: false)
        let unreadable = #expect(throws: StatePoolError.self) { try pool.collectGarbage(keepPerVM: 1) }
        #expect(unreadable?.message.contains("NEWEST: cannot be read") == true, "\(String(describing: unreadable))")
        // Said current again: the folder in its place is replaced by the store's newest id, and collections go on.
        _ = try pool.collectGarbage(keepPerVM: 1, storeIsCurrent: true)
        #expect(try PoolFiles.newest(in: s.dir + "/pool") == storesNewest, "written again from the store's newest")
        #expect(try pool.collectGarbage(keepPerVM: 1).manifestsRemoved == 0)
    }

    /// What a sleeping VM will be restored from survives collection; the pool reached by another path (a symlink) is
    /// the same pool; a store that indexes nothing of a pool (the wrong `--db`) removes none of its files.
    @Test func collectionKeepsSleepingVMsImagesAndNeverTrustsAStrangersIndex() throws {
        let s = try PoolScratch()
        let pool = try s.pool()
        var ids: [Int64] = []
        for night in 0..<3 {
            ids.append(try pool.take(image: try s.image("n\(night)", randomBytes(300_000, seed: 40 + UInt64(night))), vm: "web-01", diskIdentity: "d",
                                     now: EpochSeconds(1000 - night)).manifestID)   // a replay: older --now, taken later
        }
        #expect(try pool.latest(vm: "web-01").id == ids[2], "newest by the order taken, not by --now")
        // web-01 sleeps on its first image (say the later ones were taken while it was briefly woken).
        try s.store.transaction { db in
            try JournalRepository.setPower(PowerRecord(vm: "web-01", host: "h", state: .hibernated, since: 1000, actionID: "a1"), in: db)
            #expect(try JournalRepository.linkManifest(ids[0], vm: "web-01", actionID: "a1", in: db))
            #expect(try !JournalRepository.linkManifest(ids[1], vm: "web-01", actionID: "another sleep", in: db))
        }
        try FileManager.default.createSymbolicLink(atPath: s.dir + "/pool-link", withDestinationPath: s.dir + "/pool")
        let linked = try s.pool(at: s.dir + "/pool-link")
        #expect(linked.key == pool.key)
        let gc = try linked.collectGarbage(keepPerVM: 1)
        #expect(gc.manifestsRemoved == 1 && gc.straysLeft == 0)
        #expect(try Set(s.store.read { try StateRepository.manifests(pool: pool.key, in: $0) }.map(\.id)) == [ids[0], ids[2]])
        #expect(try pool.verify().missing.isEmpty)
        try pool.materialize(try pool.manifest(id: ids[0]), to: s.dir + "/r")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/r")) == Data(randomBytes(300_000, seed: 40)))
        // The wrong store: it knows nothing of this pool, so every chunk file looks stray; none is removed.
        let chunkFiles = { try FileManager.default.subpathsOfDirectory(atPath: s.dir + "/pool/chunks").filter { $0.count > 3 }.count }
        let files = try chunkFiles()
        let stranger = try StatePool(directory: s.dir + "/pool", capacityBytes: 1 << 30, store: try Store(path: s.dir + "/other.db"))
        let strangers = try stranger.collectGarbage(keepPerVM: 1)
        #expect(strangers.straysLeft == files && strangers.chunksRemoved == 0)
        #expect(try chunkFiles() == files && pool.verify().missing.isEmpty)
        // A pool from before the POOL file, reached now through the symlink: it keeps the name the store files it under.
        try FileManager.default.removeItem(atPath: s.dir + "/pool/POOL")
        #expect(try s.pool(at: s.dir + "/pool-link").key == pool.key)
        // The same directory filed under a second name (a POOL rewritten): collecting under it never removes a file an
        // image filed under the first name uses.
        try "renamed\n".write(toFile: s.dir + "/pool/POOL", atomically: true, encoding: .utf8)
        let renamed = try s.pool()
        #expect(renamed.key == "renamed")
        _ = try renamed.take(image: try s.image("r1", randomBytes(300_000, seed: 40)), vm: "web-09", diskIdentity: "d", now: 2000)
        _ = try renamed.take(image: try s.image("r2", randomBytes(300_000, seed: 77)), vm: "web-09", diskIdentity: "d", now: 2001)
        #expect(try renamed.collectGarbage(keepPerVM: 1).manifestsRemoved == 1)
        try pool.materialize(try pool.manifest(id: ids[0]), to: s.dir + "/r0")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/r0")) == Data(randomBytes(300_000, seed: 40)))
        try FileManager.default.removeItem(atPath: s.dir + "/pool/POOL")
        try "\(pool.key)\n".write(toFile: s.dir + "/pool/POOL", atomically: true, encoding: .utf8)
        // A take does not wait for the pool's lock (a collection holds it): busy, nothing written.
        let held = try FileLock(path: s.dir + "/pool/lock", wait: false)
        let busy = #expect(throws: StatePoolError.self) { _ = try pool.take(image: try s.image("n9", randomBytes(1000, seed: 9)), vm: "web-01", diskIdentity: "d", now: 1) }
        #expect(busy?.kind == .busy)
        withExtendedLifetime(held) {}
    }

    /// A directory the store knows under two names (an older name from before the pool kept its own, `POOL`): a take
    /// under the new name writes chunks the older name's images already have there. When it fails part way, its
    /// rollback removes only the files it created, never a chunk another image uses.
    @Test func aFailedTakeRemovesNoChunkAnImageUnderAnotherNameUses() throws {
        let s = try PoolScratch()
        let older = try s.pool()
        let first = randomBytes(1 << 20, seed: 21)
        _ = try older.take(image: try s.image("a.save", first), vm: "a", diskIdentity: "d", now: 1)
        let marker = s.dir + "/pool/POOL"
        let olderName = try String(contentsOfFile: marker, encoding: .utf8)
        try "another-name\n".write(toFile: marker, atomically: true, encoding: .utf8)
        let renamed = try s.pool()
        #expect(renamed.key == "another-name")
        // Its next image starts as the first; a chunk of its new tail cannot be put in place (a file where its
        // directory goes): the take fails after the first image's chunks were renamed over.
        let second = first + randomBytes(1 << 20, seed: 22)
        let firstChunks = Set(try older.latest(vm: "a").chunks.map(\.hash))
        var offset = 0, blocked: String?
        second.withUnsafeBytes { all in
            for length in renamed.chunker.chunks(of: all) {
                defer { offset += length }
                let hash = SHA256.digest(UnsafeRawBufferPointer(rebasing: all[offset..<offset + length]))
                let directory = s.dir + "/pool/chunks/" + SHA256.hex(hash).prefix(2)
                if blocked == nil, !firstChunks.contains(hash), !FileManager.default.fileExists(atPath: directory) { blocked = directory }
            }
        }
        let directory = try #require(blocked)
        try Data("in the way".utf8).write(to: URL(fileURLWithPath: directory))
        #expect(throws: StatePoolError.self) { _ = try renamed.take(image: try s.image("b.save", second), vm: "a", diskIdentity: "d", now: 2) }
        try FileManager.default.removeItem(atPath: directory)
        try olderName.write(toFile: marker, atomically: true, encoding: .utf8)
        let back = try s.pool()
        #expect(try back.verify().missing.isEmpty, "every chunk of the first image is still there")
        try back.materialize(try back.latest(vm: "a"), to: s.dir + "/restored.save")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.dir + "/restored.save")) == Data(first))
    }

    @Test func aPoolOverItsCapacityRefusesTheImageAndStaysConsistent() throws {
        let s = try PoolScratch()
        let pool = try s.pool(1 << 20)
        let e = #expect(throws: StatePoolError.self) { _ = try pool.take(image: try s.image("big", randomBytes(3 << 20, seed: 13)), vm: "v", diskIdentity: "d", now: 1) }
        #expect(e?.kind == .full)
        #expect(try pool.status() == StatePool.Status(images: 0, chunks: 0, storedBytes: 0, logicalBytes: 0, sharedAcrossVMs: 0, capacityBytes: 1 << 20))
        let files = FileManager.default.enumerator(atPath: s.dir + "/pool/chunks")?.allObjects.compactMap { $0 as? String }.filter { $0.count > 10 } ?? []
        #expect(files.isEmpty, "the chunks written before the refusal were removed")
    }

    /// A real full disk: the pool on a 1 MiB tmpfs, an image of 3 MiB.
    @Test func aFullDiskMidImageLeavesEverythingConsistent() throws {
        let s = try PoolScratch()
        let mountPoint = s.dir + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
        defer { try? run("/bin/umount", [mountPoint]) }
        let pool = try s.pool(1 << 40, at: mountPoint + "/pool")   // capacity says yes: the disk says no
        let image = try s.image("big", randomBytes(3 << 20, seed: 14))
        let e = #expect(throws: StatePoolError.self) { _ = try pool.take(image: image, vm: "v", diskIdentity: "d", now: 1) }
        #expect(e?.kind == .full, "\(String(describing: e))")
        #expect(try pool.status().images == 0)
        #expect(try pool.verify() == StatePool.VerifyReport(chunksChecked: 0, corrupt: [], missing: []))
        #expect(FileManager.default.fileExists(atPath: image), "the saved image itself is untouched")
        // Room made, the same image goes in whole.
        let small = try pool.take(image: try s.image("little", randomBytes(300_000, seed: 15)), vm: "v", diskIdentity: "d", now: 2)
        #expect(small.writtenBytes == 300_000)
    }

    func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw StatePoolError(kind: .io, message: "\(tool) \(arguments) failed") }
    }
}

import Foundation
import TorporCore
import TorporGzip
import TorporHash
import TorporStore

/// The one error type of the state pool.
public struct StatePoolError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case full, io, corrupt, refused, notFound, busy }
    public let kind: Kind
    public let message: String
    public var description: String { message }
}

/// What taking an image into the pool did.
public struct TakeReport: Codable, Equatable, Sendable {
    public var manifestID: Int64
    public var imageBytes: Int64
    public var chunks: Int
    public var newChunks: Int
    /// Bytes of new chunks written: what this hibernation cost the pool.
    public var writtenBytes: Int64
    public var seconds: Double
    /// Chunks the pool's index had whose file was missing or cut (removed by hand, lost by the filesystem, a pool
    /// restored from an older copy): written again from this image (counted in `writtenBytes`).
    public var rewrittenChunks = 0
}

/// A host's pool of saved VM memory images: a content-addressed chunk store in a directory (chunks named by their
/// SHA-256, written once), with one manifest per image in the torpor store. A VM that sleeps every night writes
/// only the chunks that changed since its last image; VMs from one template share chunks.
/// Capacity is pre-provisioned: an image that would not fit is refused before anything is written.
/// The store knows the pool by a key the directory keeps (its file `POOL`: the path it was first opened by), so the
/// same pool reached by another path (a symlink, a new mount point) is still the same pool. Taking images and
/// collecting garbage hold the pool's lock (`lock`); restores need none (collection keeps every image they may use).
public final class StatePool {
    /// The pool's directory, as given (standardized).
    public let directory: String
    /// The pool's name in the store.
    public let key: String
    public let capacityBytes: Int64
    public let chunker: ContentDefinedChunker
    let store: Store

    /// `creating`: a directory with no pool yet becomes one (the executor's takes); false (`pool status`, `verify`,
    /// `gc`) refuses it once the store holds images in another pool, so that a mistyped path neither reads as an
    /// empty pool, leaving the real one uncollected, nor leaves one behind.
    public init(directory: String, capacityBytes: Int64, store: Store, chunker: ContentDefinedChunker = ContentDefinedChunker(),
                creating: Bool = true) throws(StatePoolError) {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.capacityBytes = capacityBytes
        self.store = store
        self.chunker = chunker
        do {
            // A pool first opened by this torpor: the name the store already files this directory under (a pool from
            // before the POOL file, reached now through another path), else the path it is opened by.
            let marker = self.directory + "/POOL"
            var adopted: String?
            if !FileManager.default.fileExists(atPath: marker) {
                let here = URL(fileURLWithPath: self.directory).resolvingSymlinksInPath().path
                let known = try store.read { try StateRepository.poolNames(in: $0) }
                adopted = known.first { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == here }
                // The store has images in a pool here, but the directory has neither its POOL file nor a chunk: its
                // filesystem is not mounted (or the pool was removed). Not made afresh on whatever lies beneath.
                let chunks = (try? FileManager.default.contentsOfDirectory(atPath: self.directory + "/chunks")) ?? []
                if adopted != nil, chunks.isEmpty {
                    throw StatePoolError(kind: .io, message: "state pool \(directory): the store holds images in a pool at this path, but the directory has "
                                         + "neither its POOL file nor any chunk: is its filesystem mounted? (not made afresh here; a pool removed for good: give --pool a new directory)")
                }
                if !creating, let adopted {
                    key = adopted
                    return
                }
                // The store's images are in other pools (none yet: a fresh install, whose first take makes the pool).
                if !creating, !known.isEmpty {
                    throw StatePoolError(kind: .io, message: "state pool \(directory): no pool here (no POOL file); the store holds images in "
                                         + known.sorted().joined(separator: ", ") + ": a mistyped path, or a pool moved here that the executor's first "
                                         + "image will make (nothing to look after here until then)")
                }
            }
            try PoolFiles.makeDirectory(self.directory + "/chunks")
            try PoolFiles.makeDirectory(self.directory + "/tmp")
            PoolFiles.keepToOwner(self.directory)
            key = try PoolFiles.poolKey(marker, default: adopted ?? self.directory)
        } catch let error as PoolFiles.Failure {
            throw StatePoolError(kind: .io, message: "state pool \(directory): \(error.message)")
        } catch let error as StatePoolError {
            throw error
        } catch {
            throw StatePoolError(kind: .io, message: "state pool \(directory): store: \(error)")
        }
    }

    /// The pool's lock, held while an image is taken or garbage collected (a collection never sees a take's chunks
    /// before their manifest, nor empties `tmp/` under it). A take does not wait for it (the executor's pass must not
    /// stall behind a collection: the image is taken on a later pass); a collection does.
    func lock(wait: Bool) throws(StatePoolError) -> FileLock {
        do { return try FileLock(path: directory + "/lock", wait: wait) } catch {
            if case .held = error {
                throw StatePoolError(kind: .busy, message: "state pool \(directory) is busy (another process holds its lock, a garbage collection?): try later")
            }
            throw StatePoolError(kind: .io, message: "state pool \(directory): \(error)")
        }
    }

    /// Removes every file in `tmp/`: chunks of a take that did not finish (killed before its rollback). Only under the
    /// pool's lock, which every take and collection holds.
    private func removeUnfinishedChunks() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory + "/tmp")) ?? [] { PoolFiles.remove(directory + "/tmp/" + name) }
    }

    private func chunkPath(_ hash: [UInt8]) -> String { chunkPath(hex: SHA256.hex(hash)) }
    private func chunkPath(hex: String) -> String { "\(directory)/chunks/\(hex.prefix(2))/\(hex)" }

    /// Bytes the pool's chunks take.
    public func usedBytes() throws -> Int64 { try store.read { try StateRepository.usage(pool: key, in: $0).bytes } }

    /// Takes a saved image into the pool: chunks it, writes the chunks the pool lacks, then records the manifest.
    /// Chunks are durable before the manifest is recorded, so a manifest never points at a missing chunk; on any
    /// failure (the pool is full, an I/O error) the chunks this call wrote are removed and nothing is recorded.
    /// The image file itself is only read.
    public func take(image path: String, vm: String, diskIdentity: String, now: EpochSeconds) throws(StatePoolError) -> TakeReport {
        let held = try lock(wait: false)
        defer { withExtendedLifetime(held) {} }
        // What a killed take left in tmp/ (each chunk's name is its hash: one left there would refuse this take's).
        removeUnfinishedChunks()
        let started = Date()
        let reader: CompressedFileReader
        do { reader = try CompressedFileReader(path: path) } catch {
            throw StatePoolError(kind: access(path, F_OK) == 0 ? .io : .notFound, message: "image \(path): \(error.message)")   // there, unreadable
        }
        let used: Int64
        let known: Set<[UInt8]>   // the chunks the pool holds, read once
        do {
            (used, known) = try store.read { db in
                (try StateRepository.usage(pool: key, in: db).bytes, try StateRepository.chunkHashes(pool: key, in: db))
            }
        } catch {
            throw StatePoolError(kind: .io, message: "store: \(error)")
        }
        var chunks: [StateManifest.Chunk] = []
        var newChunks: [StateManifest.Chunk] = []
        var pending: [(temp: String, target: String)] = []   // written, not yet flushed and renamed
        var written: [String] = []   // renamed into place, and this take's own: a rollback removes them
        var renamed: [String] = []
        var writtenBytes: Int64 = 0, rewrittenBytes: Int64 = 0
        var rewritten = 0
        var imageBytes: Int64 = 0
        let imageHash = SHA256()
        var seenThisImage = Set<[UInt8]>()
        // A window of at least maxSize bytes ahead of the cut point, refilled by 8 MiB reads.
        let readSize = 8 << 20
        var window = [UInt8](repeating: 0, count: readSize + chunker.maxSize)
        var start = 0, end = 0, atEnd = false
        func rollback() {
            pending.map(\.temp).forEach(PoolFiles.remove)
            written.forEach(PoolFiles.remove)
        }
        do {
            while true {
                if !atEnd, end - start < chunker.maxSize {
                    if start > 0 {   // slide what is left to the front
                        window.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: end - start) }
                        end -= start
                        start = 0
                    }
                    let n = try window.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[end...])) }
                    if n == 0 { atEnd = true }
                    end += n
                    continue
                }
                if start == end { break }
                try window.withUnsafeBytes { all in
                    let ahead = UnsafeRawBufferPointer(rebasing: all[start..<end])
                    let length = chunker.cut(ahead)
                    let bytes = UnsafeRawBufferPointer(rebasing: ahead[0..<length])
                    imageHash.update(bytes)
                    let hash = SHA256.digest(bytes)
                    let chunk = StateManifest.Chunk(hash: hash, size: length)
                    chunks.append(chunk)
                    imageBytes += Int64(length)
                    start += length
                    guard seenThisImage.insert(hash).inserted else { return }
                    // A chunk the index has is taken as stored only when its file is there, whole: the index alone
                    // must never stand for a saved state (a file lost is written again from this image).
                    let isKnown = known.contains(hash)
                    if isKnown, PoolFiles.size(of: chunkPath(hash)) == Int64(length) { return }
                    guard isKnown || used + writtenBytes - rewrittenBytes + Int64(length) <= capacityBytes else {
                        throw StatePoolError(kind: .full, message: "state pool \(directory) is full: \(used + writtenBytes - rewrittenBytes) of \(capacityBytes) bytes used, the image of \(vm) needs more")
                    }
                    let temp = directory + "/tmp/" + SHA256.hex(hash)
                    try PoolFiles.writeNew(bytes, to: temp)
                    pending.append((temp, chunkPath(hash)))
                    if isKnown { rewritten += 1; rewrittenBytes += Int64(length) } else { newChunks.append(chunk) }
                    writtenBytes += Int64(length)
                }
            }
            // Durable first (one syncfs for all new chunks), then under their names, then the names durable.
            if !pending.isEmpty { try PoolFiles.syncFilesystem(directory) }
            var directories = Set<String>()
            for (temp, target) in pending {
                let parent = (target as NSString).deletingLastPathComponent
                if directories.insert(parent).inserted { try PoolFiles.makeDirectory(parent) }
                // A file already under that name is not this take's to remove (an image the store files under an
                // older name of this directory uses it): renamed over with the same, checked content, and left.
                let existed = FileManager.default.fileExists(atPath: target)
                try PoolFiles.rename(temp, to: target)
                renamed.append(target)
                if !existed { written.append(target) }
            }
            pending = []
            for dir in Set(renamed.map { ($0 as NSString).deletingLastPathComponent }) { try PoolFiles.syncDirectory(dir) }
            // What the image added to the pool (a chunk written again was counted by the image that first wrote it).
            let manifest = StateManifest(pool: key, vm: vm, createdAt: now, imageSHA256: imageHash.finalizeHex(), imageBytes: imageBytes,
                                         writtenBytes: writtenBytes - rewrittenBytes, chunks: chunks, diskIdentity: diskIdentity)
            let id = try store.transaction { try StateRepository.insert(manifest, newChunks: newChunks, in: $0) }
            PoolFiles.recordNewest(id, in: directory)
            return TakeReport(manifestID: id, imageBytes: imageBytes, chunks: chunks.count, newChunks: newChunks.count,
                              writtenBytes: writtenBytes, seconds: Date().timeIntervalSince(started), rewrittenChunks: rewritten)
        } catch let error as StatePoolError {
            rollback()
            throw error
        } catch let error as PoolFiles.Failure {
            rollback()
            throw StatePoolError(kind: error.isNoSpace ? .full : .io, message: "state pool: \(error.message)")
        } catch let error as GzipError {
            rollback()
            throw StatePoolError(kind: error.corrupt ? .corrupt : .io, message: "image \(path): \(error.message)")
        } catch {
            rollback()
            throw StatePoolError(kind: .io, message: "state pool \(directory): \(error)")
        }
    }

    /// The newest manifest of a VM in this pool.
    public func latest(vm: String) throws(StatePoolError) -> StateManifest {
        let manifests: [StateManifest]
        do { manifests = try store.read { try StateRepository.manifests(pool: key, vm: vm, in: $0) } } catch {
            throw StatePoolError(kind: .io, message: "store: \(error)")
        }
        guard let first = manifests.first else { throw StatePoolError(kind: .notFound, message: "no saved state of \(vm) in \(directory)") }
        return first
    }

    /// One manifest of this pool, by id.
    public func manifest(id: Int64) throws(StatePoolError) -> StateManifest {
        let found: StateManifest?
        do { found = try store.read { try StateRepository.manifest(id: id, in: $0) } } catch {
            throw StatePoolError(kind: .io, message: "store: \(error)")
        }
        guard let found else { throw StatePoolError(kind: .notFound, message: "image #\(id) is not in the state pool \(directory)") }
        return found
    }

    /// Refuses a restore of `manifest`'s image unless the disks it restores with are as they were when it was taken
    /// (`current`: their identity now): memory and disk would disagree.
    public static func checkDisks(of manifest: StateManifest, current: String) throws(StatePoolError) {
        guard manifest.diskIdentity == current else {
            throw StatePoolError(kind: .refused, message: "refusing to restore \(manifest.vm) from the pool: its disks changed since the image of \(UTC.format(manifest.createdAt)) was taken (then: \(manifest.diskIdentity); now: \(current))")
        }
    }

    /// Rebuilds an image from its chunks into `path`, verifying every chunk's hash and the whole image's. The file
    /// appears at `path` only when complete and verified; whether its disks are still those it was taken with is the
    /// restore's to check (`checkDisks`), on the definition the image holds.
    public func materialize(_ manifest: StateManifest, to path: String) throws(StatePoolError) {
        Self.removePartials(of: path)
        // A name of this rebuild's own, made afresh: two rebuilds of one VM (its lock unusable) never write one file.
        let temp = path + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max))" + Self.partialSuffix
        let out: FileHandle
        do { out = FileHandle(fileDescriptor: try PoolFiles.createNew(temp), closeOnDealloc: true) } catch {
            throw StatePoolError(kind: error.isNoSpace ? .full : .io, message: "cannot write \(error.message)")
        }
        let whole = SHA256()
        do {
            for (index, chunk) in manifest.chunks.enumerated() {
                let hex = SHA256.hex(chunk.hash), aside = setAsidePath(hex: hex)
                func intact(_ bytes: Data) -> Bool { bytes.count == chunk.size && bytes.withUnsafeBytes { SHA256.digest($0) } == chunk.hash }
                let found = chunkFile(hex: hex)
                // A chunk a repair set aside (unreadable then) is read there once it reads again, whatever its name holds.
                var read: Data?
                if case .read(let bytes) = found, intact(bytes) { read = bytes }
                if read == nil, let bytes = FileManager.default.contents(atPath: aside), intact(bytes) { read = bytes }
                guard let data = read else {
                    let setAside = FileManager.default.fileExists(atPath: aside) ? "; set aside unreadable by a repair (\(aside)): restorable once it reads again" : ""
                    let what = switch found {
                    case .missing: "is missing from \(directory)"
                    case .unreadable: "cannot be read in \(directory) (a failing disk?)"
                    case .read: "is corrupt in \(directory): refused"
                    }
                    throw StatePoolError(kind: .corrupt, message: "chunk \(index) (\(hex)) of \(manifest.vm)'s image #\(manifest.id) " + what + setAside)
                }
                data.withUnsafeBytes { whole.update($0) }
                try out.write(contentsOf: data)
            }
            guard whole.finalizeHex() == manifest.imageSHA256 else {
                throw StatePoolError(kind: .corrupt, message: "the rebuilt image of \(manifest.vm) does not match its recorded hash: refused")
            }
            try out.synchronize()
            try out.close()
            guard rename(temp, path) == 0 else { throw StatePoolError(kind: .io, message: "cannot move the image to \(path)") }
        } catch let error as StatePoolError {
            try? out.close()
            PoolFiles.remove(temp)
            throw error
        } catch {
            try? out.close()
            PoolFiles.remove(temp)
            throw StatePoolError(kind: .io, message: "writing \(path): \(error)")
        }
    }

    /// What `verify` found.
    public struct VerifyReport: Equatable, Sendable {
        public var chunksChecked: Int
        /// Chunks whose file does not hold what was written.
        public var corrupt: [String]
        public var missing: [String]
        /// Chunks whose file is there but cannot be read (a failing disk's EIO): their bytes may come back.
        public var unreadable: [String] = []
        /// With `repair`: the damaged chunks' files removed, for the next take of an image holding them to write again.
        public var removed: [String] = []
        /// With `repair`: unreadable chunks set aside (`unreadable/` in the pool), a sleep whose copy may be all there is
        /// of its memory using them: removed, the bytes would be gone for good; left under their name, a take would
        /// reuse them by their size and never write them again. Set aside, they may read again (an I/O error that
        /// passes): a restore reads them there, and a later repair puts back each that reads whole (over a bad copy a
        /// take wrote since) and drops each whose name reads whole.
        public var setAside: [String] = []
        /// With `repair`: chunks set aside earlier that read whole again, put back.
        public var recovered: [String] = []
        /// The sleeping VMs whose image in the pool uses a damaged or missing chunk (libvirt's own image restores them).
        public var sleepingAffected: [String] = []
        /// With `repair`: the sleeping VMs whose copy used a chunk removed or missing, unlinked for the executor to take
        /// libvirt's image of their sleep again (it holds one).
        public var retaken: [String] = []
        /// With `repair`: the sleeping VMs whose copy used a chunk removed or missing while libvirt holds no image of
        /// their sleep (or could not say): left linked, the pool's copy their only one, whole again once the chunk is
        /// back or a take of another image holding it writes it again.
        public var keptLinked: [String] = []
    }

    /// Re-hashes every chunk of the pool's index. Without the pool's lock (takes go on meanwhile): a chunk whose file is
    /// gone is missing only if the index still lists it afterwards (a garbage collection removes index rows first).
    /// `repair`: each damaged chunk still damaged under the pool's lock has its file removed, an unreadable one set aside
    /// instead while a sleep that stays linked to its copy uses it (`setAside`). Left, a take that meets
    /// its content reuses it by its size and its images cannot be restored; removed, the next take holding it writes it
    /// again (as a lost chunk), and every image that uses it can be restored again. A sleep whose copy uses a chunk
    /// removed or missing is unlinked from it for the executor to take again only when `libvirtHoldsImage` (VM, host)
    /// says libvirt has its own image, whole (asked before the pool's lock is taken): unlinked, the copy could never serve the sleep again, though the chunk may come
    /// back (a disk remounted) or be written again (another image holding it), and may be all there is of its memory.
    public func verify(repair: Bool = false, libvirtHoldsImage: (String, String) -> Bool = { _, _ in false }) throws -> VerifyReport {
        /// Every chunk the index lists in this pool.
        func indexed() throws -> [StateManifest.Chunk] {
            try store.read { db in try StateRepository.manifests(pool: key, in: db).flatMap(\.chunks) + StateRepository.unreferencedChunks(pool: key, in: db) }
        }
        let hashes = try indexed()
        var report = VerifyReport(chunksChecked: 0, corrupt: [], missing: [])
        var found: [String: [UInt8]] = [:]   // the hashes of the chunks found damaged or missing, by hex
        for chunk in Set(hashes) {
            report.chunksChecked += 1
            let hex = SHA256.hex(chunk.hash)
            switch chunkFile(hex: hex) {
            case .missing: report.missing.append(hex)
            case .unreadable: report.unreadable.append(hex)
            case .read(let data):
                guard data.withUnsafeBytes({ SHA256.digest($0) }) != chunk.hash else { continue }
                report.corrupt.append(hex)
            }
            found[hex] = chunk.hash
        }
        if !report.missing.isEmpty {
            // Still listed and still without its file (a take may have written it again since).
            let stillIndexed = Set(try indexed().map { SHA256.hex($0.hash) })
            report.missing.removeAll { hex in
                !stillIndexed.contains(hex) || FileManager.default.fileExists(atPath: chunkPath(hex: hex))
            }
        }
        // The sleeps whose copy in the pool cannot be restored, found over raw hashes (never under the store's write
        // lock, which the executor's journal waits for).
        func bytes(_ hexes: [String]) -> Set<[UInt8]> { Set(hexes.compactMap { found[$0] }) }
        func sleepingUsing(_ hashes: Set<[UInt8]>) throws -> [StateManifest] {
            guard !hashes.isEmpty else { return [] }
            return try store.read { db in
                let inUse = try StateRepository.manifestIDsInUse(in: db)
                return try StateRepository.manifests(pool: key, in: db).filter { inUse.contains($0.id) && $0.chunks.contains { hashes.contains($0.hash) } }
            }
        }
        report.sleepingAffected = Set(try sleepingUsing(bytes(report.corrupt + report.unreadable + report.missing)).map(\.vm)).sorted()
        if repair && !(report.corrupt.isEmpty && report.unreadable.isEmpty && report.missing.isEmpty && setAsideChunks().isEmpty) {
            // libvirt asked before the pool's lock (a host that does not answer must not hold the takes off), of every
            // sleep the repair may unlink.
            let hosts = try store.read { try JournalRepository.power(in: $0) }.mapValues(\.host)
            let heldByLibvirt = Set(report.sleepingAffected.filter { vm in hosts[vm].map { libvirtHoldsImage(vm, $0) } ?? false })
            // Under the pool's lock, no take writes a chunk meanwhile: each damaged chunk still damaged has its file
            // removed (one may have been written whole since), and the sleeps whose copy uses a chunk gone now (removed
            // here, or still missing) are unlinked from it when libvirt holds their image, for the executor's next pass
            // to take it again (the take writes the chunk anew).
            let held = try lock(wait: true)
            defer { withExtendedLifetime(held) {} }
            report.recovered = try putBackSetAside()
            report.missing.removeAll { report.recovered.contains($0) }
            for hex in report.corrupt + report.unreadable {
                let path = chunkPath(hex: hex)
                switch chunkFile(hex: hex) {
                case .read(let data) where SHA256.hexDigest(of: data) == hex: continue   // written whole since, or read again
                case .unreadable where try sleepingUsing(bytes([hex])).contains(where: { !heldByLibvirt.contains($0.vm) }):
                    do {
                        try PoolFiles.makeDirectory(directory + "/unreadable")
                        try PoolFiles.rename(path, to: setAsidePath(hex: hex))
                    } catch {
                        throw StatePoolError(kind: .io, message: "setting the unreadable chunk \(path) aside: \(error.message)")
                    }
                    report.setAside.append(hex)
                    continue
                default: break
                }
                guard remove(path) == 0 || errno == ENOENT else {   // a file, or an empty directory in its place
                    throw StatePoolError(kind: .io, message: "removing the damaged chunk \(path): \(String(cString: strerror(errno)))")
                }
                report.removed.append(hex)
            }
            let stillMissing = report.missing.filter { if case .missing = chunkFile(hex: $0) { return true } else { return false } }
            let affected = try sleepingUsing(bytes(report.removed + stillMissing + report.setAside))
            let unlink = Set(affected.filter { heldByLibvirt.contains($0.vm) }.map(\.id))
            report.keptLinked = Set(affected.filter { !unlink.contains($0.id) }.map(\.vm)).sorted()
            if !unlink.isEmpty { report.retaken = try store.transaction { try JournalRepository.unlinkManifests(unlink, in: $0) } }
        }
        return report
    }

    /// Where `verify --repair` sets an unreadable chunk aside: out of a take's way, its bytes kept.
    private func setAsidePath(hex: String) -> String { "\(directory)/unreadable/\(hex)" }

    /// The chunks set aside, by hex (other names in the directory are not the pool's: left alone).
    private func setAsideChunks() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/unreadable")) ?? [])
            .filter { $0.count == 64 && $0.allSatisfy { "0123456789abcdef".contains($0) } }.sorted()
    }

    /// Under the pool's lock: puts back each chunk set aside that reads whole now, over whatever its name holds that does
    /// not (a take wrote it again since, and that copy went bad too), and drops those whose name reads whole. One no
    /// longer indexed stays (a store older than the pool's images would take every newer chunk for unindexed; `gc`
    /// refuses it for that). Returns those put back.
    private func putBackSetAside() throws -> [String] {
        var putBack: [String] = []
        for hex in setAsideChunks() {
            let aside = setAsidePath(hex: hex), path = chunkPath(hex: hex)
            if case .read(let data) = chunkFile(hex: hex), SHA256.hexDigest(of: data) == hex {
                _ = remove(aside)   // written whole again since: the copy set aside is not needed (a file, or an empty directory)
                continue
            }
            guard let data = FileManager.default.contents(atPath: aside), SHA256.hexDigest(of: data) == hex else { continue }
            do {
                try PoolFiles.makeDirectory((path as NSString).deletingLastPathComponent)
                if case .missing = chunkFile(hex: hex) {} else { _ = remove(path) }   // a bad file, or an empty directory, in its place
                try PoolFiles.rename(aside, to: path)
            } catch {
                throw StatePoolError(kind: .io, message: "putting the chunk set aside \(aside) back: \(error.message)")
            }
            putBack.append(hex)
        }
        return putBack
    }

    /// A chunk's file as read: gone, there but unreadable (a failing disk: EIO), or its bytes.
    enum ChunkFile { case missing, unreadable, read(Data) }

    func chunkFile(hex: String) -> ChunkFile {
        let path = chunkPath(hex: hex)
        if let data = FileManager.default.contents(atPath: path) { return .read(data) }
        return FileManager.default.fileExists(atPath: path) ? .unreadable : .missing
    }

    /// What `collectGarbage` removed.
    public struct GarbageReport: Equatable, Sendable {
        public var manifestsRemoved: Int
        public var chunksRemoved: Int
        public var bytesFreed: Int64
        /// Files in `chunks/` the store does not index, left because it indexes nothing of this pool (another store's?).
        public var straysLeft: Int = 0
        /// Images restores rebuilt in the pool's directory and left (killed mid-restore), removed after a day.
        public var leftoverImagesRemoved: Int = 0
    }

    /// Keeps the newest `keepPerVM` images of each VM, and every image a sleeping VM will be restored from; removes
    /// older manifests, then every chunk no remaining manifest references (index first, files after, so a crash in
    /// between leaves only unindexed files, removed next time), and stray files in `tmp/` and `chunks/` that the index
    /// does not list, unless the store indexes nothing of this pool (then the files are another store's, or the store
    /// is the wrong one: they are left and counted). Refused when the store has not seen the pool's newest image
    /// (`PoolFiles.recordNewest`), unless `storeIsCurrent`. Holds the pool's lock.
    public func collectGarbage(keepPerVM: Int, storeIsCurrent: Bool = false) throws -> GarbageReport {
        precondition(keepPerVM >= 1, "keep at least one image per VM")
        let held = try lock(wait: true)
        defer { withExtendedLifetime(held) {} }
        // A store that has not seen the pool's newest image (an older copy, restored or kept for a replay) would take
        // the chunks only newer images use for strays or orphans, and remove them under sleeping VMs: refused.
        // (A store that knows no image of the pool removes none of its files: left as strays, below.)
        // `storeIsCurrent`: a person says it is the store the executor uses (restored from a backup): collected, and
        // its newest image taken for the pool's.
        let newest: Int64?, storesNewest = try store.read({ try StateRepository.manifests(pool: key, in: $0) }).map(\.id).max()
        do { newest = try PoolFiles.newest(in: directory) } catch {
            guard storeIsCurrent else {
                throw StatePoolError(kind: .refused, message: "state pool \(directory): \(error.message): nothing collected (which images a newer store "
                                     + "knows cannot be told); restore the file or give --store-is-current from the store the executor uses")
            }
            // Written again from the store's newest (none: 0), and read back: a file that cannot be replaced is said.
            try? FileManager.default.removeItem(atPath: directory + "/NEWEST")
            PoolFiles.recordNewest(storesNewest ?? 0, in: directory, adopting: true)
            guard (try? PoolFiles.newest(in: directory)) == storesNewest ?? 0 else {
                throw StatePoolError(kind: .io, message: "state pool \(directory): \(error.message), and it could not be written again; nothing collected")
            }
            newest = storesNewest
        }
        if let newest, let known = storesNewest, known < newest {
            guard storeIsCurrent else {
                throw StatePoolError(kind: .refused, message: "state pool \(directory): it holds image #\(newest), newer than any this store knows (#\(known)): "
                                     + "an older copy of the store? nothing collected. Collect with the store the executor uses; if this is it "
                                     + "(restored from a backup), give --store-is-current: the images it does not know are then removed")
            }
            PoolFiles.recordNewest(known, in: directory, adopting: true)
        }
        // The index's deletions durable before the files go: a power loss must not bring back rows of chunks gone.
        let (removedManifests, orphans, known) = try store.transaction { db -> (Int, [StateManifest.Chunk], Bool) in
            let known = try StateRepository.usage(pool: key, in: db).chunks > 0
            let inUse = try StateRepository.manifestIDsInUse(in: db)
            let all = try StateRepository.manifests(pool: key, in: db)
            let old = Dictionary(grouping: all, by: \.vm).values.flatMap { $0.dropFirst(keepPerVM) }.map(\.id).filter { !inUse.contains($0) }
            try StateRepository.deleteManifests(ids: old, in: db)
            let orphans = try StateRepository.unreferencedChunks(pool: key, in: db)
            try StateRepository.deleteChunks(pool: key, hashes: orphans.map(\.hash), in: db)
            return (old.count, orphans, known)
        }
        // A file any image of the store uses stays, whatever pool name that image is filed under.
        let used = try store.read { try StateRepository.referencedChunkHashes(in: $0) }
        for chunk in orphans where !used.contains(chunk.hash) { PoolFiles.remove(chunkPath(chunk.hash)) }
        let indexed = Set(used.map(SHA256.hex))
        var report = GarbageReport(manifestsRemoved: removedManifests, chunksRemoved: orphans.count, bytesFreed: orphans.reduce(0) { $0 + Int64($1.size) })
        let fm = FileManager.default
        removeUnfinishedChunks()
        report.leftoverImagesRemoved = Self.removeLeftoverImages(in: directory, olderNames: true)
        for prefix in (try? fm.contentsOfDirectory(atPath: directory + "/chunks")) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: "\(directory)/chunks/\(prefix)")) ?? [] where !indexed.contains(name) {
                if known { PoolFiles.remove("\(directory)/chunks/\(prefix)/\(name)") } else { report.straysLeft += 1 }
            }
        }
        return report
    }

    /// What ends the name of an image a restore rebuilds (`<vm>` + it): one libvirt never gives its own images.
    public static let restoreImageSuffix = ".torpor-restore"
    /// What ends the name of an image being rebuilt (after its own name and a part of its own).
    public static let partialSuffix = ".torpor-partial"

    /// Removes the partial rebuilds of the image at `path` whose process is gone (a restore killed mid-rebuild: an
    /// executor restarted, a person's Ctrl-C), before another is written beside them: each is as large as the image,
    /// and on a filesystem they filled the next rebuild would fail for want of their room.
    static func removePartials(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent, prefix = (path as NSString).lastPathComponent + "."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(partialSuffix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "." }), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            PoolFiles.remove(directory + "/" + name)
        }
    }

    /// Removes the images restores rebuilt in `directory` and did not remove (killed mid-restore), once a day old (no
    /// restore is on them then); returns how many. `olderNames`: also `restore-*.save`, the name an earlier torpor gave
    /// them in the pool's directory (never beside libvirt's images: a VM named restore-x has its managed save there).
    @discardableResult
    public static func removeLeftoverImages(in directory: String, olderNames: Bool = false) -> Int {
        let fm = FileManager.default
        var removed = 0
        for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasSuffix(restoreImageSuffix) || name.contains(restoreImageSuffix + ".") && name.hasSuffix(partialSuffix)
            || olderNames && name.hasPrefix("restore-") && name.hasSuffix(".save") {
            let path = directory + "/" + name
            if let changed = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date, Date().timeIntervalSince(changed) > 86_400 {
                PoolFiles.remove(path)
                removed += 1
            }
        }
        return removed
    }

    /// The pool at a glance, with what deduplication saves.
    public struct Status: Codable, Equatable, Sendable {
        public var images: Int
        public var chunks: Int
        public var storedBytes: Int64
        /// Sum of the images' sizes: what the pool would hold without deduplication.
        public var logicalBytes: Int64
        /// Chunks used by images of more than one VM.
        public var sharedAcrossVMs: Int
        public var capacityBytes: Int64
    }

    public func status() throws -> Status {
        try store.read { db in
            let manifests = try StateRepository.manifests(pool: key, in: db)
            var owners: [[UInt8]: Set<String>] = [:]
            for m in manifests { for c in m.chunks { owners[c.hash, default: []].insert(m.vm) } }
            let usage = try StateRepository.usage(pool: key, in: db)
            return Status(images: manifests.count, chunks: usage.chunks, storedBytes: usage.bytes,
                          logicalBytes: manifests.reduce(0) { $0 + $1.imageBytes },
                          sharedAcrossVMs: owners.values.filter { $0.count > 1 }.count, capacityBytes: capacityBytes)
        }
    }
}

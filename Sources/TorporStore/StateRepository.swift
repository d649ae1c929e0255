import Foundation
import GRDB
import TorporCore

/// One saved memory image of a VM, as a list of content-addressed chunks in a state pool.
public struct StateManifest: Equatable, Sendable {
    public struct Chunk: Equatable, Hashable, Sendable {
        public var hash: [UInt8]   // 32 bytes
        public var size: Int

        public init(hash: [UInt8], size: Int) {
            self.hash = hash
            self.size = size
        }
    }

    public var id: Int64
    public var pool: String
    public var vm: String
    public var createdAt: EpochSeconds
    public var imageSHA256: String
    public var imageBytes: Int64
    public var writtenBytes: Int64
    public var chunks: [Chunk]
    public var diskIdentity: String

    public init(id: Int64 = 0, pool: String, vm: String, createdAt: EpochSeconds, imageSHA256: String, imageBytes: Int64,
                writtenBytes: Int64, chunks: [Chunk], diskIdentity: String) {
        self.id = id; self.pool = pool; self.vm = vm; self.createdAt = createdAt; self.imageSHA256 = imageSHA256
        self.imageBytes = imageBytes; self.writtenBytes = writtenBytes; self.chunks = chunks; self.diskIdentity = diskIdentity
    }
}

/// Reads and writes the `state_chunk` and `state_manifest` tables: which chunks a pool holds, and which images they form.
public enum StateRepository {
    /// Every chunk hash the pool's index lists.
    public static func chunkHashes(pool: String, in db: Database) throws -> Set<[UInt8]> {
        Set(try Data.fetchAll(db, sql: "SELECT hash FROM state_chunk WHERE pool = ?", arguments: [pool]).map { [UInt8]($0) })
    }

    /// Records a manifest and the new chunks it brought; returns its id.
    public static func insert(_ manifest: StateManifest, newChunks: [StateManifest.Chunk], in db: Database) throws -> Int64 {
        for chunk in newChunks {
            try db.execute(sql: "INSERT OR IGNORE INTO state_chunk (pool, hash, size) VALUES (?, ?, ?)",
                           arguments: [manifest.pool, Data(chunk.hash), chunk.size])
        }
        try db.execute(sql: """
            INSERT INTO state_manifest (pool, vm, created_at, image_sha256, image_bytes, written_bytes, chunks, disk_identity)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [manifest.pool, manifest.vm, manifest.createdAt, manifest.imageSHA256, manifest.imageBytes,
                             manifest.writtenBytes, encode(manifest.chunks), manifest.diskIdentity])
        return db.lastInsertedRowID
    }

    /// A pool's manifests, newest (last taken) first, optionally of one VM. By the order they were taken, not by their
    /// time: a replay at an earlier `--now` does not make an older image look newer.
    public static func manifests(pool: String, vm: String? = nil, in db: Database) throws -> [StateManifest] {
        try Row.fetchAll(db, sql: "SELECT * FROM state_manifest WHERE pool = ? AND (?2 IS NULL OR vm = ?2) ORDER BY id DESC",
                         arguments: [pool, vm]).map(manifest)
    }

    /// One manifest, by id (whatever name its pool is filed under: its chunks are verified where they are read).
    public static func manifest(id: Int64, in db: Database) throws -> StateManifest? {
        try Row.fetchOne(db, sql: "SELECT * FROM state_manifest WHERE id = ?", arguments: [id]).map(manifest)
    }

    /// The names pools are filed under in this store, the one of the newest image first.
    public static func poolNames(in db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT pool FROM (SELECT pool, max(id) AS newest FROM state_manifest GROUP BY pool
                              UNION ALL SELECT pool, 0 FROM state_chunk GROUP BY pool)
            GROUP BY pool ORDER BY max(newest) DESC, pool
            """)
    }

    /// Every chunk any image of the store uses, whatever its pool.
    public static func referencedChunkHashes(in db: Database) throws -> Set<[UInt8]> {
        var hashes = Set<[UInt8]>()
        for data in try Data.fetchAll(db, sql: "SELECT chunks FROM state_manifest") { for c in decode(data) { hashes.insert(c.hash) } }
        return hashes
    }

    /// The images sleeping VMs will be restored from: never collected.
    public static func manifestIDsInUse(in db: Database) throws -> Set<Int64> {
        Set(try Int64.fetchAll(db, sql: "SELECT manifest_id FROM power WHERE state = 'hibernated' AND manifest_id IS NOT NULL"))
    }

    static func manifest(_ row: Row) -> StateManifest {
        StateManifest(id: row["id"], pool: row["pool"], vm: row["vm"], createdAt: row["created_at"], imageSHA256: row["image_sha256"],
                      imageBytes: row["image_bytes"], writtenBytes: row["written_bytes"], chunks: decode(row["chunks"]),
                      diskIdentity: row["disk_identity"])
    }

    /// The bytes a new hibernation of `vm` is expected to add to its pool: the most written by any of its last five
    /// hibernations taken by `time` (the first one writes the whole image). Nil before its first hibernation.
    public static func expectedWrite(vm: String, upTo time: EpochSeconds = .max, in db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: """
            SELECT max(written_bytes) FROM (SELECT written_bytes FROM state_manifest WHERE vm = ? AND created_at <= ? ORDER BY id DESC LIMIT 5)
            """, arguments: [vm, time])
    }

    public static func deleteManifests(ids: [Int64], in db: Database) throws {
        for id in ids { try db.execute(sql: "DELETE FROM state_manifest WHERE id = ?", arguments: [id]) }
    }

    /// Chunks of the pool's index that no manifest references.
    public static func unreferencedChunks(pool: String, in db: Database) throws -> [StateManifest.Chunk] {
        var referenced = Set<Data>()
        for m in try manifests(pool: pool, in: db) { for c in m.chunks { referenced.insert(Data(c.hash)) } }
        return try Row.fetchAll(db, sql: "SELECT hash, size FROM state_chunk WHERE pool = ?", arguments: [pool]).compactMap { row in
            let hash: Data = row["hash"]
            return referenced.contains(hash) ? nil : StateManifest.Chunk(hash: Array(hash), size: row["size"])
        }
    }

    public static func deleteChunks(pool: String, hashes: [[UInt8]], in db: Database) throws {
        for h in hashes { try db.execute(sql: "DELETE FROM state_chunk WHERE pool = ? AND hash = ?", arguments: [pool, Data(h)]) }
    }

    /// Bytes and number of the pool's chunks.
    public static func usage(pool: String, in db: Database) throws -> (bytes: Int64, chunks: Int) {
        let row = try Row.fetchOne(db, sql: "SELECT coalesce(sum(size), 0) AS bytes, count(*) AS n FROM state_chunk WHERE pool = ?", arguments: [pool])!
        return (row["bytes"], row["n"])
    }

    static func encode(_ chunks: [StateManifest.Chunk]) -> Data {
        var data = Data(capacity: chunks.count * 36)
        for c in chunks {
            data.append(contentsOf: c.hash)
            withUnsafeBytes(of: UInt32(c.size).littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    static func decode(_ data: Data) -> [StateManifest.Chunk] {
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count - 35, by: 36).map { i in
            let size = Int(bytes[i + 32]) | Int(bytes[i + 33]) << 8 | Int(bytes[i + 34]) << 16 | Int(bytes[i + 35]) << 24
            return StateManifest.Chunk(hash: Array(bytes[i..<i + 32]), size: size)
        }
    }
}

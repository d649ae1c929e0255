import Foundation
import TorporCore
#if canImport(Glibc)
import Glibc
#endif

/// Room kept for the executor on the store's filesystem: a folder beside the store (`<store>.reserve`) of `files`
/// files making `size` bytes. SQLite cannot open a store on a full filesystem (its shared memory and log need room, and
/// two files: inodes run out too, the state pool's chunks being small files), nor write to one, and hibernated VMs'
/// images fill disks: without the reserve, a full disk would stop every restore and a person's wake at the store's door.
/// Made whenever the filesystem has room for it twice over (by the stages that record, an executor's pass, `check`);
/// needed by a stage that records to open the store; given back when the filesystem is full by the commands that must
/// never be refused (the executor's, and the switches that stop hibernations or free room).
public struct StoreReserve: Sendable {
    /// Enough for the store's shared memory, a checkpoint's worth of log and the journal of a fleet's restores.
    public static let size: Int64 = 16 << 20
    /// Files it is made of: the inodes of SQLite's log and shared memory, and more.
    static let files = 4

    /// What opening the store does with the reserve.
    public enum Use: Sendable {
        /// Neither made nor given back (what records nothing: a dry run, a command that only reads; tests).
        case untouched
        /// Made when missing and the filesystem has room for it twice over, and needed: without it the store is
        /// refused, since the room left is the executor's (every other stage that records).
        case kept
        /// Given back when the filesystem is full, the store opened all the same (the executor's commands, and the
        /// switches that stop hibernations or free room).
        case releasable
    }

    /// Whether the reserve is there (`keep`).
    public enum State: Sendable, Equatable {
        case held
        /// The filesystem has less room than the reserve, or no room to make it again (`available` bytes, `inodes`:
        /// `Int64.max` on a filesystem that makes them as needed).
        case short(available: Int64, inodes: Int64)
        /// It cannot be made for another cause than room (a read-only folder): a full disk would stop restores.
        case unmade(String)
        /// Missing, and this user may not make it beside the store (a reviewer, not root): root's stages make it, and
        /// root's `check` (the watch's) tells when they cannot.
        case notPermitted

        /// What a person must do, nil when the reserve is held.
        public var problem: String? {
            switch self {
            case .held, .notPermitted: nil
            case .short:
                "the store's filesystem has \(room ?? ""), too little to keep the \(StoreReserve.size >> 20) MiB kept beside the store for "
                    + "restores (making it again takes twice that): free room there (hibernated VMs' images, the state pool, old plans may "
                    + "have filled it); no new hibernation may start (its journal could not be written)"
            case .unmade(let reason):
                "the room kept beside the store for restores cannot be made (\(reason)): a full disk would stop restores"
            }
        }

        /// What a short filesystem has free, in words.
        var room: String? {
            guard case .short(let available, let inodes) = self else { return nil }
            return "\(available >> 20) MiB" + (inodes == .max ? "" : " and \(inodes) inodes") + " free"
        }
    }

    /// The folder, beside the store as SQLite finds it (symbolic links resolved: its files are on the store's filesystem).
    public let path: String

    public init(store: String) { path = resolvedPath(store) + ".reserve" }

    private func file(_ i: Int) -> String { path + "/room-\(i)" }
    private static var fileSize: Int64 { size / Int64(files) }

    /// Whether the reserve is there, each file whole and its blocks taken (a sparse copy of it would free nothing).
    public var isHeld: Bool { (0..<Self.files).allSatisfy(isHeld) }

    /// Whether file `i` of the reserve is whole, its blocks taken.
    private func isHeld(_ i: Int) -> Bool {
        var info = stat()
        return stat(file(i), &info) == 0 && Int64(info.st_size) >= Self.fileSize && Int64(info.st_blocks) * 512 >= Self.fileSize
    }

    /// The bytes and inodes this process may still take on the reserve's filesystem (root may also take those a
    /// filesystem keeps for root; a filesystem that makes inodes as it needs them, such as btrfs, counts `Int64.max`),
    /// nil when they cannot be told.
    func available() -> (bytes: Int64, inodes: Int64)? {
        var info = statvfs()
        let folder = (path as NSString).deletingLastPathComponent
        guard statvfs(folder.isEmpty ? "." : folder, &info) == 0 else { return nil }
        let root = geteuid() == 0
        let inodes = info.f_files == 0 ? Int64.max : Int64(root ? info.f_ffree : info.f_favail)
        return (Int64(root ? info.f_bfree : info.f_bavail) * Int64(info.f_frsize), inodes)
    }

    /// Whether the filesystem has less room than the reserve `times` over (1: what it gives back; 2: what making it
    /// again takes). A filesystem that cannot be asked (its folder missing) is not: what opens the store says why.
    private func short(times: Int64) -> Bool {
        guard let room = available() else { return false }
        return room.bytes < times * Self.size || room.inodes <= times * Int64(Self.files)
    }

    /// The room the filesystem has, as a shortfall.
    var shortfall: State {
        let room = available() ?? (0, 0)
        return .short(available: room.bytes, inodes: room.inodes)
    }

    /// Whether the reserve cannot be had now: there but the filesystem full, or missing and no room to make it.
    /// Told without making anything.
    var cannotBeKept: Bool { isHeld ? short(times: 1) : short(times: 2) }

    /// Makes the reserve (or completes one cut short) when the filesystem has room for it twice over, and tells whether
    /// it is held: short while the filesystem has less room than it gives, even with the reserve there. Two stages
    /// making it at once write the same files.
    public func keep() -> State {
        if cannotBeKept { return shortfall }
        if isHeld { return .held }
        /// What a failure to make it means: no room, or another cause (the files made so far given back).
        func failed(_ failure: Int32, _ what: String) -> State {
            release()
            if failure == ENOSPC || failure == EDQUOT { return shortfall }
            return (failure == EACCES || failure == EPERM) && geteuid() != 0 ? .notPermitted : .unmade("\(what): " + String(cString: strerror(failure)))
        }
        // The store's group may look (a reviewer's `check` tells it held), never write: a file it planted there (a link)
        // would be written through by root.
        if mkdir(path, 0o750) != 0 && errno != EEXIST { return failed(errno, path) }
        var folder = stat()
        guard lstat(path, &folder) == 0, folder.st_mode & S_IFMT == S_IFDIR else { return failed(ENOTDIR, path + " (not a folder of its own: a link?)") }
        // Only the files not held are written (one cut short, a sparse leftover).
        for i in 0..<Self.files where !isHeld(i) {
            let fd = open(file(i), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
            guard fd >= 0 else { return failed(errno, file(i)) }
            let failure = Self.fill(fd)
            close(fd)
            if failure != 0 { return failed(failure, file(i)) }
        }
        // Written and synced: held (a copy-on-write filesystem such as ZFS counts the blocks only once it commits them).
        return .held
    }

    /// Writes a file's worth of bytes no filesystem can leave out or compress (a sparse file, zeros on ZFS or a compressed
    /// btrfs, would hold no room that giving it back frees): the errno that stopped it, or 0.
    private static func fill(_ fd: Int32) -> Int32 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var chunk = [UInt64](repeating: 0, count: 8192)   // 64 KiB
        var written: Int64 = 0
        while written < fileSize {
            for k in chunk.indices {   // xorshift64
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                chunk[k] = state
            }
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return n < 0 ? errno : EIO }
            written += Int64(n)
        }
        return fsync(fd) == 0 ? 0 : errno
    }

    /// Whether the filesystem has less room than the reserve: full, for what the reserve is given back for.
    public var filesystemFull: Bool { short(times: 1) }

    /// Gives the reserve back when its filesystem is full, saying so on stderr.
    public func releaseIfFull() {
        guard filesystemFull, FileManager.default.fileExists(atPath: path) else { return }
        release()
        StandardError.line("torpor: the store's filesystem is full; the \(Self.size >> 20) MiB kept beside it for restores (\(path)) "
                           + "is given back so that restores and wakes go on: free room there")
    }

    private func release() {
        for i in 0..<Self.files { unlink(file(i)) }
        rmdir(path)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Room kept for the executor on the store's filesystem: a file of `size` bytes beside the store (`<store>.reserve`).
/// SQLite cannot open a store on a full filesystem (its shared memory and log need room), and hibernated VMs' images
/// fill disks: without the reserve, a full disk would stop every restore and a person's wake at the store's door. The
/// stages make it whenever there is room for it twice over; only the commands that restore give it back, and only when
/// the store will not open on a full filesystem.
public struct StoreReserve: Sendable {
    /// Enough for the store's shared memory, a checkpoint's worth of log and the journal of a fleet's restores.
    public static let size: Int64 = 16 << 20

    /// What opening the store does with the reserve.
    public enum Use: Sendable {
        /// Neither made nor given back (tests, benchmarks, tools).
        case untouched
        /// Made when missing and the filesystem has room for it twice over (every other stage); missing on a
        /// filesystem with less room than it would take, the store is refused: what is left is the executor's.
        case kept
        /// Also given back when the store will not open on a full filesystem (the commands that restore or wake).
        case releasable
    }

    /// Whether the reserve is there (`keep`).
    public enum State: Sendable, Equatable {
        case held
        /// Missing, and the filesystem has too little room to make it (`available` bytes).
        case noRoom(available: Int64)

        /// What a person must do, nil when the reserve is held.
        public var problem: String? {
            guard case .noRoom(let available) = self else { return nil }
            return "the store's filesystem has \(available >> 20) MiB free, too little for the \(StoreReserve.size >> 20) MiB kept beside the store "
                + "for restores: free room there (hibernated VMs' images may have filled it); no new hibernation may start "
                + "(its journal could not be written)"
        }
    }

    public let path: String

    public init(store: String) { path = store + ".reserve" }

    /// Whether the reserve is there at its full size.
    public var isHeld: Bool {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? nil).map { $0 >= Self.size } ?? false
    }

    /// The bytes this process may still write on the reserve's filesystem (root may also write the blocks a filesystem
    /// keeps for root), nil when it cannot be told.
    public func available() -> Int64? {
        var info = statvfs()
        let folder = (path as NSString).deletingLastPathComponent
        guard statvfs(folder.isEmpty ? "." : folder, &info) == 0 else { return nil }
        return Int64(geteuid() == 0 ? info.f_bfree : info.f_bavail) * Int64(info.f_frsize)
    }

    /// Makes the reserve (or completes one cut short) when the filesystem has room for it twice over: the held state,
    /// else how little room there is. Two stages making it at once both allocate the same blocks.
    public func keep() -> State {
        if isHeld { return .held }
        let room = available() ?? 0
        guard room >= 2 * Self.size else { return .noRoom(available: room) }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .noRoom(available: room) }
        defer { close(fd) }
        // Allocated blocks, not a sparse file: removing it must give room back.
        guard posix_fallocate(fd, 0, off_t(Self.size)) == 0 else {
            unlink(path)
            return .noRoom(available: available() ?? 0)
        }
        return .held
    }

    /// Gives the reserve back when its filesystem has less room than the reserve is: whether it did.
    func releaseIfFull() -> Bool {
        guard FileManager.default.fileExists(atPath: path), (available() ?? 0) < Self.size else { return false }
        return unlink(path) == 0
    }
}

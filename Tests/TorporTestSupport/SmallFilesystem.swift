import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted on a fresh directory, to be filled: a full disk, for real. Mounting needs root, as `make test`
/// runs; unmounted when let go (one a killed test run left mounted, by the next run: `ScratchDirectory`).
public final class SmallFilesystem {
    public let path: String
    private var filler: String { path + "/filler" }
    private var inodeFillers: String { path + "/inodes" }

    /// `inodes`: how many files it can hold at most (tmpfs's default otherwise).
    public init(megabytes: Int, inodes: Int? = nil) throws {
        path = try ScratchDirectory.make("small-fs")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(megabytes)m" + (inodes.map { ",nr_inodes=\($0)" } ?? ""), "tmpfs", path]
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSLocalizedDescriptionKey: "cannot mount a tmpfs on \(path) (root is needed, as make test runs)"])
        }
    }

    /// The bytes still free (to root, as the tools run).
    public var available: Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return Int64(info.f_bfree) * Int64(info.f_frsize)
    }

    /// The inodes still free.
    public var inodes: Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return Int64(info.f_ffree)
    }

    /// Takes all the room still free, in one file.
    public func fill() throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: filler]) }
        defer { close(fd) }
        var end = stat()
        fstat(fd, &end)
        guard available > 0 else { return }
        guard posix_fallocate(fd, off_t(end.st_size), off_t(available)) == 0 else {
            throw CocoaError(.fileWriteOutOfSpace, userInfo: [NSFilePathErrorKey: filler])
        }
    }

    /// Takes every inode still free, with empty files.
    public func fillInodes() throws {
        try FileManager.default.createDirectory(atPath: inodeFillers, withIntermediateDirectories: true)
        for i in 0... {
            let fd = open(inodeFillers + "/\(i)", O_WRONLY | O_CREAT, 0o600)
            guard fd >= 0 else { return }
            close(fd)
        }
    }

    /// Gives back the room `fill` and `fillInodes` took.
    public func empty() {
        unlink(filler)
        try? FileManager.default.removeItem(atPath: inodeFillers)
    }

    deinit { Self.unmount(path) }

    /// Unmounts the filesystem mounted on `path` (lazily: a file still open on it does not keep it).
    static func unmount(_ path: String) {
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = ["-l", path]
        try? umount.run()
        umount.waitUntilExit()
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be written whole.
public struct AtomicFileError: Error, LocalizedError, CustomStringConvertible {
    public let path: String
    /// The step that failed and the system's reason.
    public let reason: String
    public var description: String { "\(path): \(reason)" }
    public var errorDescription: String? { reason }
}

/// Files written whole or not at all, for readers that may read at any moment (a scrape of the metrics, a reviewer's
/// plan): the bytes go to a temporary file of its own beside the target (`.<name>.torpor-<pid>-<random>.tmp`, which no
/// reader's pattern such as `*.prom` takes), synced, then renamed over it. A file already there keeps its mode, owner
/// and group (an administrator's `chmod`/`chown` for its reader); a temporary file a killed writer left is removed by a
/// later write (once its process is gone and it is 10 minutes old: a writer in another PID namespace, or on another
/// machine sharing the folder, may have the same pid). A symbolic link the writer or root owns is followed: its target
/// is written, the link kept (an administrator's link from the textfile collector's folder to the metrics).
public enum AtomicFile {
    /// `newMode`: the mode of a file not there yet, whatever the umask (nil: what the umask leaves of 0666).
    public static func write(_ data: Data, to path: String, newMode: mode_t? = nil) throws(AtomicFileError) {
        let path = try target(of: path)
        let parent = (path as NSString).deletingLastPathComponent, directory = parent.isEmpty ? "." : parent
        let prefix = "." + (path as NSString).lastPathComponent + ".torpor-"
        removeLeftovers(in: directory, prefix: prefix)
        func failure(_ step: String) -> AtomicFileError { AtomicFileError(path: path, reason: "\(step): " + String(cString: strerror(errno))) }
        var temp = "", fd: Int32 = -1
        repeat {   // a name no other writer has: made here, or the open fails
            temp = (directory as NSString).appendingPathComponent(prefix + "\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + ".tmp")
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        } while fd < 0 && errno == EEXIST
        guard fd >= 0 else { throw failure("cannot create \(temp)") }
        var renamed = false
        defer { if !renamed { unlink(temp) } }
        let wrote: AtomicFileError? = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return failure("cannot write \(temp)") }
                offset += n
            }
            var existing = stat()
            if stat(path, &existing) == 0 {
                _ = fchown(fd, existing.st_uid, existing.st_gid)   // kept when the writer may (root, or its own file)
                guard fchmod(fd, existing.st_mode & 0o7777) == 0 else { return failure("cannot give \(temp) the file's mode") }
            } else if let newMode, fchmod(fd, newMode) != 0 {
                return failure("cannot give \(temp) its mode")
            }
            guard fsync(fd) == 0 else { return failure("cannot sync \(temp)") }
            return nil
        }
        close(fd)
        if let wrote { throw wrote }
        guard rename(temp, path) == 0 else { throw failure("cannot rename \(temp) over it") }
        renamed = true
        // The rename itself on disk, so that a crash leaves the old file or the new one. A filesystem that cannot flush
        // a folder (EINVAL, ENOTSUP, ENOSYS: some FUSE and network ones; EROFS) has nothing to lose to it, and a folder
        // this writer may write but not read (EACCES) cannot be flushed by it; any other failure is the caller's to
        // hear: the file is whole in place (a caller that must not leave it removes it), but a power cut may bring the
        // old one back.
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder < 0 && errno == EACCES { return }
        guard folder >= 0 else { throw failure("its folder \(directory) cannot be opened to flush the rename") }
        defer { close(folder) }
        guard fsync(folder) == 0 || [EINVAL, ENOTSUP, ENOSYS, EROFS].contains(errno) else {
            throw failure("its folder \(directory) could not be flushed after the rename (a power cut may bring the old file back)")
        }
    }

    /// The file a path names once its symbolic links are followed (the path itself when it is none, or names nothing
    /// yet); a link to a link is followed too, a relative one from its own folder. Only a link the writer or root owns
    /// is followed: one another user made (in a folder it may write, such as the textfile collector's) is replaced, as a
    /// file would be, never written through (a root watch would write wherever it points). A loop of links is refused.
    static func target(of path: String) throws(AtomicFileError) -> String {
        var current = path
        for _ in 0..<40 {
            var link = stat()
            guard lstat(current, &link) == 0, link.st_mode & S_IFMT == S_IFLNK, link.st_uid == geteuid() || link.st_uid == 0,
                  let destination = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else { return current }
            current = destination.hasPrefix("/") ? destination
                : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(destination)
        }
        throw AtomicFileError(path: path, reason: "a loop of symbolic links")
    }

    /// Removes the temporary files `prefix` names in `directory` whose writer is gone (killed while it wrote): no
    /// process here has its pid, and it was last written over `leftoverAge` seconds ago.
    private static func removeLeftovers(in directory: String, prefix: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let path = (directory as NSString).appendingPathComponent(name)
            var info = stat()
            guard let pid = pid_t(name.dropFirst(prefix.count).prefix { $0 != "-" }), kill(pid, 0) != 0, errno == ESRCH,
                  stat(path, &info) == 0, time(nil) - info.st_mtim.tv_sec > leftoverAge else { continue }
            unlink(path)
        }
    }

    /// How old a temporary file whose writer's pid is gone must be to be removed.
    static let leftoverAge = 600
}

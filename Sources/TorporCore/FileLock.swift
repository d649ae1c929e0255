import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `flock` on a file, exclusive or shared, held until the lock is released or its holder dies (the kernel drops it
/// then, even after SIGKILL, so a dead holder is never in the way). An exclusive holder writes its pid into the file
/// (shared holders leave it empty), for the message of whoever finds it held.
public final class FileLock {
    public let path: String
    let descriptor: Int32
    let shared: Bool

    /// Why a lock could not be taken.
    public enum Failure: Error, CustomStringConvertible {
        /// Another process holds it (its pid when it holds it alone).
        case held(path: String, holder: String?)
        case cannotOpen(path: String, reason: String)

        public var description: String {
            switch self {
            case .held(let path, let holder): "\(path) is held" + (holder.map { " by pid \($0)" } ?? "")
            case .cannotOpen(let path, let reason): "\(path): cannot open the lock file: \(reason)"
            }
        }
    }

    /// Takes the lock on `path` (created if missing): `shared` with other shared holders, else alone; `wait` blocks
    /// until it is free, else a held lock throws `Failure.held` at once.
    public init(path: String, shared: Bool = false, wait: Bool) throws(Failure) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)   // its owner's alone, as what it guards; never through a link
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var result: Int32
        repeat {
            result = flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB))
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let failure = errno
            close(fd)
            // Only "someone holds it" is held; any other failure (ENOLCK on a network file system) is the file's.
            guard failure == EWOULDBLOCK else { throw .cannotOpen(path: path, reason: "flock: " + String(cString: strerror(failure))) }
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .held(path: path, holder: holder.flatMap { $0.isEmpty ? nil : $0 })
        }
        descriptor = fd
        self.shared = shared
        _ = ftruncate(fd, 0)
        if !shared {
            let pid = "\(getpid())\n"
            _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        }
    }

    deinit {
        if !shared { _ = ftruncate(descriptor, 0) }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps two executors off the same hosts: an exclusive `flock` on a lock file beside the store, one per host set.
/// The kernel drops the lock when its holder dies, even by SIGKILL, so a lock left by a dead executor is never in the
/// way; the file holds the holder's pid only for the message.
public final class ExecutionLock {
    let descriptor: Int32
    public let path: String

    public init(path: String) throws(ExecuteError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ExecuteError(.runtime, "\(path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw ExecuteError(.runtime, "another torpor-execute (pid \(holder)) works on these hosts (\(path)); try again when it ends")
        }
        descriptor = fd
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The lock file for a set of hosts (all hosts: `nil`), beside the store.
    public static func path(store: String, hosts: Set<String>?) -> String {
        let tag = hosts.map { $0.sorted().joined(separator: ",").map { $0.isLetter || $0.isNumber ? $0 : "_" } }.map { "-" + String($0) } ?? ""
        return store + ".execute\(tag).lock"
    }
}

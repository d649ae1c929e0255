import Foundation
import TorporCore

/// Keeps two executors off one host: a `flock` per host on a file beside the store, held while a pass works on that
/// host (reconciles, restores, pools and hibernates its VMs) and let go as that host's part of the pass ends. So
/// executors of different hosts run side by side, and so do a new run and an earlier one still held up on one host
/// (a long save, or a libvirtd that answers keepalives but not calls): the new run serves every other host. Never two
/// on one host. Locks die with their holder, even by SIGKILL.
public struct HostLocks: Sendable {
    /// The store the locks sit beside.
    public let store: String

    public init(store: String) { self.store = store }

    /// Takes `host`'s lock, or throws `.held` at once (naming the holder's pid) when another executor holds it.
    func take(_ host: String) throws(FileLock.Failure) -> FileLock {
        try FileLock(path: Self.path(store: store, host: host), wait: false)
    }

    /// The lock file of one host, beside the store.
    static func path(store: String, host: String) -> String {
        store + ".execute-" + String(host.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + ".lock"
    }
}

import Foundation
import TorporCore

/// Keeps two executors off the same hosts, with `flock`s on files beside the store: an executor of every host holds
/// the store's lock alone; an executor of some hosts (`--host`) holds it shared, and each of its hosts' locks alone.
/// So executors of different hosts run side by side, and never two on one host (an executor reconciles and acts on
/// every VM of the hosts it covers). Locks die with their holder, even by SIGKILL.
public final class ExecutionLock {
    let locks: [FileLock]

    /// Takes the locks for `hosts` (every host: nil) of the store at `store`, or throws at once if another executor
    /// holds one.
    public init(store: String, hosts: Set<String>?) throws(ExecuteError) {
        var locks: [FileLock] = []
        do {
            locks.append(try FileLock(path: store + ".execute.lock", shared: hosts != nil, wait: false))
            for host in (hosts ?? []).sorted() {
                locks.append(try FileLock(path: Self.path(store: store, host: host), wait: false))
            }
        } catch {
            switch error {
            case .held(let path, let holder):
                throw ExecuteError(.runtime, "another torpor-execute\(holder.map { " (pid \($0))" } ?? "") works on these hosts (\(path)); try again when it ends")
            case .cannotOpen:
                throw ExecuteError(.runtime, "\(error)")
            }
        }
        self.locks = locks
    }

    /// The lock file of one host, beside the store.
    static func path(store: String, host: String) -> String {
        store + ".execute-" + String(host.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + ".lock"
    }
}

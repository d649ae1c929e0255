import Foundation
import TorporCore
import TorporHash

/// Keeps two executors off one VM: a `flock` per VM on a file in a folder beside the store, held while an executor
/// reconciles, restores, pools or hibernates that VM and let go as soon as it is done. So executors of different hosts
/// run side by side, and so do a new run and an earlier one held up on one VM (a save whose QEMU stopped answering,
/// which no timeout ends): the new run serves every other VM, on that host too. Locks die with their holder, even by
/// SIGKILL.
public struct VMLocks: Sendable {
    /// The store the locks' folder sits beside, its path with symbolic links resolved: one store reached by two paths
    /// has one folder of locks.
    public let store: String

    public init(store: String) { self.store = resolvedPath(store) }

    /// The lock held while an executor counts the fleet guardrails and journals a hibernation's intent (a name no VM
    /// has: libvirt names have no '/').
    static let guardrails = "/guardrails"

    /// Takes `vm`'s lock, or throws `.held` (naming the holder's pid) when another process holds it: at once, or after
    /// trying again for `patience` seconds (an executor's: a probe, `heldByAnother`, holds it for an instant only).
    func take(_ vm: String, patience: Double = 0.2) throws(FileLock.Failure) -> FileLock {
        let folder = store + ".execute-locks"
        if !FileManager.default.fileExists(atPath: folder) { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let giveUp = Date().addingTimeInterval(patience)
        var pause = 0.02
        while true {
            do {
                return try FileLock(path: folder + "/" + Self.fileName(vm), wait: false)
            } catch {
                guard case .held = error, Date() < giveUp else { throw error }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 1.5, 1)   // a save of minutes is not asked after 50 times a second
            }
        }
    }

    /// Whether another process holds `vm`'s lock now (a lock that cannot be used counts as not held). Takes it for an
    /// instant to tell.
    func heldByAnother(_ vm: String) -> Bool {
        do { _ = try take(vm, patience: 0) } catch {
            if case .held = error { return true }
        }
        return false
    }

    /// A VM's lock file name: its name with anything but letters, digits, '-' and '.' spelled as `_XX` (hex), so that
    /// two names never share a file; a name too long for a file name (255 bytes) is cut and followed by its SHA-256.
    static func fileName(_ vm: String) -> String {
        let spelled = vm.utf8.map { b in
            let c = Character(Unicode.Scalar(b))
            return (c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == ".")) ? String(c) : String(format: "_%02X", b)
        }.joined()
        guard spelled.utf8.count > 180 else { return spelled + ".lock" }
        return String(spelled.prefix(100)) + "~" + SHA256.hexDigest(of: Data(vm.utf8)) + ".lock"
    }
}

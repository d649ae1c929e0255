import Foundation

/// Fresh directories for tests. Each lies under one directory of this test process, removed when the process exits;
/// one a killed run left behind is removed by the next run.
public enum ScratchDirectory {
    /// Creates a new empty directory whose name starts with `prefix` and returns its path.
    public static func make(_ prefix: String) throws -> String {
        let path = root + "/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private static let rootPrefix = "torpor-tests-"

    private static let root: String = {
        let base = FileManager.default.temporaryDirectory.path
        removeLeftovers(in: base)
        atexit { try? FileManager.default.removeItem(atPath: ScratchDirectory.root) }
        return base + "/\(rootPrefix)\(getpid())"
    }()

    /// Removes the directories of test processes that are no longer running, unmounting first what they left mounted
    /// there (`SmallFilesystem`).
    private static func removeLeftovers(in base: String) {
        let mounts = ((try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            line.split(separator: " ").dropFirst().first.map(String.init)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix(rootPrefix) {
            guard let pid = pid_t(name.dropFirst(rootPrefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            for mount in mounts where mount.hasPrefix(base + "/" + name + "/") { SmallFilesystem.unmount(mount) }
            try? FileManager.default.removeItem(atPath: base + "/" + name)
        }
    }
}

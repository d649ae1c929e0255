import Foundation
import TorporCore

/// When a file last changed, by the wall clock.
enum FileChange {
    /// The modification time of the file at `path` (through a symbolic link, of what it names); nil when it cannot be
    /// read.
    static func time(of path: String) -> EpochSeconds? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return EpochSeconds(info.st_mtim.tv_sec)
    }
}

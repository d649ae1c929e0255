import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `path` with its symbolic links resolved (one file reached by two paths gives one answer), or as given when it cannot
/// be (a file not there yet).
public func resolvedPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

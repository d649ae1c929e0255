import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The file operations of the state pool, each through one function so errors carry the path and `errno`:
/// a chunk is written to a temporary file, flushed to disk (`fsync`), then renamed into place, so a crash or a full
/// disk never leaves a partial chunk under its final name.
enum PoolFiles {
    struct Failure: Error {
        let path: String
        let code: Int32
        var message: String { "\(path): \(String(cString: strerror(code)))" }
        var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    }

    /// Writes `bytes` to `path` atomically and durably (temp file + fsync + rename).
    static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String, temporaryDirectory: String) throws(Failure) {
        let temp = temporaryDirectory + "/" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(path: temp, code: errno) }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                close(fd); unlink(temp)
                throw Failure(path: temp, code: code)
            }
            done += n
        }
        if fsync(fd) != 0 { let code = errno; close(fd); unlink(temp); throw Failure(path: temp, code: code) }
        close(fd)
        if rename(temp, path) != 0 { let code = errno; unlink(temp); throw Failure(path: path, code: code) }
    }

    /// Flushes a directory's entries (after renames into it).
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    static func makeDirectory(_ path: String) throws(Failure) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw Failure(path: path, code: (error as NSError).code == NSFileWriteOutOfSpaceError ? ENOSPC : EIO)
        }
    }

    static func remove(_ path: String) { unlink(path) }
}

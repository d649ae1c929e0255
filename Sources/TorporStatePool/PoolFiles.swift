import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Linux `syncfs(2)`, which Glibc's Swift module does not export (it is a GNU extension).
@_silgen_name("syncfs")
private func linuxSyncfs(_ fd: Int32) -> Int32

/// The file operations of the state pool, each through one function so errors carry the path and `errno`. What they
/// make is its owner's alone (files 0600, directories 0700): the images are guests' memory (keys, passwords).
/// Chunks are written to temporary files, flushed to disk together (`syncfs`, one call for the whole image instead of
/// one `fsync` per chunk), then renamed into place, so a crash or a full disk never leaves a partial chunk under its
/// final name.
enum PoolFiles {
    struct Failure: Error {
        let path: String
        let code: Int32
        /// What is wrong, when `errno`'s words do not say it.
        var detail: String?
        var message: String { "\(path): \(detail ?? String(cString: strerror(code)))" }
        var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    }

    /// Creates the file `path`, which must not exist yet, for writing: its descriptor.
    static func createNew(_ path: String) throws(Failure) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: path, code: errno) }
        return fd
    }

    /// Writes `bytes` to a new file at `temp`, flushed to disk when `synced` (else see `syncFilesystem`).
    static func writeNew(_ bytes: UnsafeRawBufferPointer, to temp: String, synced: Bool = false) throws(Failure) {
        let fd = try createNew(temp)
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
        if synced, fsync(fd) != 0 { let code = errno; close(fd); unlink(temp); throw Failure(path: temp, code: code) }
        if close(fd) != 0 { let code = errno; unlink(temp); throw Failure(path: temp, code: code) }
    }

    /// Flushes every file of the filesystem holding `path` to disk (`syncfs`).
    static func syncFilesystem(_ path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, code: errno) }
        defer { close(fd) }
        if linuxSyncfs(fd) != 0 { throw Failure(path: path, code: errno) }
    }

    static func rename(_ from: String, to: String) throws(Failure) {
        if Glibc.rename(from, to) != 0 { throw Failure(path: to, code: errno) }
    }

    /// Flushes a directory's entries to disk (after renames or directories made in it): until then a power cut may
    /// lose them, and with them files already flushed.
    static func syncDirectory(_ path: String) throws(Failure) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, code: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw Failure(path: path, code: errno) }
    }

    /// Makes the directory `path` and its missing parents, each one made flushed into its parent (`syncDirectory`), so
    /// that a chunk renamed into a new directory is not lost with the directory's entry.
    static func makeDirectory(_ path: String) throws(Failure) {
        var missing: [String] = []
        var isDirectory: ObjCBool = false
        var next = path
        while !next.isEmpty, next != "/", !FileManager.default.fileExists(atPath: next, isDirectory: &isDirectory) {
            missing.append(next)
            next = (next as NSString).deletingLastPathComponent
        }
        for directory in missing.reversed() {
            if mkdir(directory, 0o700) != 0, errno != EEXIST { throw Failure(path: directory, code: errno) }
            try syncDirectory((directory as NSString).deletingLastPathComponent)
        }
    }

    static func remove(_ path: String) { unlink(path) }

    /// Takes group's and others' access off the directory `path` (a pool made before what it holds was kept to its
    /// owner), when this user owns it; its files are then out of their reach whatever their own modes.
    static func keepToOwner(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 != 0 else { return }
        _ = chmod(path, info.st_mode & 0o700)
    }

    /// The size of the file at `path`; nil when there is none (or it cannot be asked).
    static func size(of path: String) -> Int64? {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : nil
    }

    /// Records in `directory`'s file `NEWEST` the id the store gave the pool's newest image, best-effort (written
    /// aside and flushed, then renamed into place): a garbage collection by a store that has not seen it is refused. Never lowered
    /// (a take by an older copy of the store must not open the way to its collection), unless `adopting` (a person
    /// said the store is the current one).
    static func recordNewest(_ id: Int64, in directory: String, adopting: Bool = false) {
        if !adopting {
            // One that cannot be read now (an I/O error, a permission) is left: taken for none, it would be lowered.
            do {
                if let recorded = try newest(in: directory), recorded >= id { return }
            } catch {
                return
            }
        }
        let path = directory + "/NEWEST", temp = path + ".\(getpid()).new"
        remove(temp)   // one a killed process of the same id left
        do {
            // Flushed, then renamed and the rename flushed: after a power cut the guard is the id written, not an empty
            // file that would let an older store's collection through.
            try Array("\(id)\n".utf8).withUnsafeBytes { try writeNew($0, to: temp, synced: true) }
            try rename(temp, to: path)
            try syncDirectory(directory)
        } catch {
            remove(temp)
        }
    }

    /// The id `recordNewest` last recorded in `directory`, nil when none was (a pool from before it); throws when the
    /// file is there but cannot be read or holds no id.
    static func newest(in directory: String) throws(Failure) -> Int64? {
        let path = directory + "/NEWEST"
        guard let text = try readIfPresent(path) else { return nil }
        guard let id = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure(path: path, code: EINVAL, detail: "holds no image id ('\(text.prefix(40))'): the newest image the pool holds is unknown")
        }
        return id
    }

    /// A small file's text, nil when there is none at `path`; throws when one is there but cannot be read (a damaged
    /// disk, a permission): a reader must not take that for a file that is not there.
    static func readIfPresent(_ path: String) throws(Failure) -> String? {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            var info = stat()
            if stat(path, &info) != 0 && errno == ENOENT { return nil }
            throw Failure(path: path, code: EIO, detail: "cannot be read (\(error.localizedDescription))")
        }
    }

    /// The pool's key as the file at `path` records it; a pool without one records `default` there first (a pool
    /// that cannot be written, such as a read-only mount, is known by `default`).
    static func poolKey(_ path: String, default key: String) throws(Failure) -> String {
        if let recorded = try readIfPresent(path) {   // one that cannot be read is said: never taken for none (another key)
            let line = recorded.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty else {
                throw Failure(path: path, code: EINVAL, detail: "empty: it names the pool in the store; write the pool's directory into it as the "
                              + "store's images name it (the pool's first path)")
            }
            return line
        }
        // Written aside and flushed, then linked into place (the link flushed too: a power cut leaves no empty POOL):
        // of two processes creating it at once, one wins and both read its key.
        let temp = path + ".\(getpid()).new"
        remove(temp)   // one a killed process of the same id left
        do { try Array((key + "\n").utf8).withUnsafeBytes { try writeNew($0, to: temp, synced: true) } } catch { return key }
        _ = link(temp, path)
        remove(temp)
        try? syncDirectory((path as NSString).deletingLastPathComponent)
        guard let recorded = try? String(contentsOfFile: path, encoding: .utf8) else { return key }
        return recorded.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

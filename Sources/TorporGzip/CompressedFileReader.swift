import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// An error reading a file through zlib, naming the file.
public struct GzipError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// Reads a file that may be gzip-compressed (detected from its content, not its name), in chunks.
/// Plain files pass through unchanged. A truncated or corrupt gzip stream is an error, never a silent end of file.
/// Wraps zlib's `gzopen`, `gzread`, `gzerror` and `gzclose`.
public final class CompressedFileReader {
    public let path: String
    private var file: gzFile?
    /// Uncompressed bytes handed out so far.
    public private(set) var offset: Int = 0

    public init(path: String, bufferSize: Int = 1 << 18) throws(GzipError) {
        self.path = path
        guard let file = gzopen(path, "rb") else {
            throw GzipError(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        gzbuffer(file, UInt32(bufferSize))
        self.file = file
    }

    deinit {
        if let file { gzclose_r(file) }
    }

    /// Whether the file is not compressed (valid once a first read happened).
    public var isPlain: Bool { file.map { gzdirect($0) != 0 } ?? true }

    /// Fills `buffer` with the next bytes; returns 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int {
        guard let file, let base = buffer.baseAddress else { return 0 }
        let count = gzread(file, base, UInt32(buffer.count))
        if count < 0 || (count == 0 && lastErrorCode(file) != Z_OK) {
            throw GzipError(path: path, message: "corrupt or truncated gzip data after \(offset) uncompressed bytes (zlib: \(lastErrorMessage(file)))")
        }
        offset += Int(count)
        return Int(count)
    }

    private func lastErrorCode(_ file: gzFile) -> Int32 {
        var code: Int32 = Z_OK
        _ = gzerror(file, &code)
        return code
    }

    private func lastErrorMessage(_ file: gzFile) -> String {
        var code: Int32 = Z_OK
        guard let message = gzerror(file, &code) else { return "error \(code)" }
        return code == Z_ERRNO ? String(cString: strerror(errno)) : String(cString: message)
    }
}

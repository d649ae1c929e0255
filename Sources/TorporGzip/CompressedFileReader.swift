import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// An error reading a file through zlib, naming the file.
public struct GzipError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    /// The bytes were read but are not whole gzip data (truncated, corrupt, followed by junk): reading again gives the
    /// same; otherwise the file could not be opened or read, which may pass.
    public var corrupt = false
    /// The file ends inside a compressed stream: cut short, or still being written.
    public var truncated = false
    public var description: String { "\(path): \(message)" }
}

/// Reads a file that may be gzip-compressed (detected from its first bytes, not its name), in chunks.
/// Plain files pass through unchanged. A gzip file may hold several members one after another (`cat a.gz b.gz`); a
/// truncated or corrupt member, or bytes after the last member that are not a gzip member (zero padding aside), are an
/// error naming the position, never a silent end of file. Wraps zlib's `inflateInit2_`, `inflate`, `inflateReset` and
/// `inflateEnd`.
public final class CompressedFileReader {
    public let path: String
    private let descriptor: Int32
    /// zlib's state for a gzip file (at a fixed address: zlib keeps a pointer to it); nil for a plain file.
    private var stream: UnsafeMutablePointer<z_stream>?
    /// Compressed bytes read from the file and not yet handed to zlib: `input[inputStart..<inputEnd]`.
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity: Int
    private var inputStart = 0, inputEnd = 0
    /// Bytes of the file read so far (compressed, for a gzip file).
    private var fileOffset = 0
    private var atEnd = false
    /// Uncompressed bytes handed out so far.
    public private(set) var offset: Int = 0

    public init(path: String, bufferSize: Int = 1 << 18) throws(GzipError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw GzipError(path: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        inputCapacity = max(bufferSize, 64)
        input = .allocate(capacity: inputCapacity)
        // Every stored property is set from here: a throw runs `deinit`, which closes the file and frees the buffer.
        try fill(atLeast: 2)
        guard inputEnd - inputStart >= 2 && input[inputStart] == 0x1f && input[inputStart + 1] == 0x8b else { return }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a 32 KiB window, gzip headers and trailers (checked: CRC-32 and length).
        guard inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw GzipError(path: path, message: "zlib cannot start inflating")
        }
        self.stream = stream
    }

    deinit {
        if let stream {
            inflateEnd(stream)
            stream.deallocate()
        }
        close(descriptor)
        input.deallocate()
    }

    /// Fills `buffer` with the next bytes; returns 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let count = if let stream { try inflate(stream, into: base, count: buffer.count) } else { try readPlain(into: base, count: buffer.count) }
        offset += count
        return count
    }

    /// A plain file: first what `init` read to look at, then straight from the file.
    private func readPlain(into base: UnsafeMutableRawPointer, count: Int) throws(GzipError) -> Int {
        if inputStart < inputEnd {
            let n = min(count, inputEnd - inputStart)
            base.copyMemory(from: input + inputStart, byteCount: n)
            inputStart += n
            return n
        }
        return try readFile(into: base, count: count)
    }

    private func inflate(_ s: UnsafeMutablePointer<z_stream>, into base: UnsafeMutableRawPointer, count: Int) throws(GzipError) -> Int {
        while !atEnd {
            if inputStart == inputEnd {
                try fill(atLeast: 1)
                if inputStart == inputEnd {
                    throw GzipError(path: path, message: "truncated gzip data: the file ends inside a compressed stream after \(offset) uncompressed bytes", corrupt: true, truncated: true)
                }
            }
            s.pointee.next_in = input + inputStart
            s.pointee.avail_in = UInt32(inputEnd - inputStart)
            s.pointee.next_out = base.assumingMemoryBound(to: UInt8.self)
            s.pointee.avail_out = UInt32(count)
            let result = CZlib.inflate(s, Z_NO_FLUSH)
            inputStart = inputEnd - Int(s.pointee.avail_in)
            let produced = count - Int(s.pointee.avail_out)
            switch result {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: try nextMember(s)
            default:
                let why = s.pointee.msg.map { String(cString: $0) } ?? "error \(result)"
                throw GzipError(path: path, message: "corrupt gzip data after \(offset + produced) uncompressed bytes, near compressed byte \(fileOffset - (inputEnd - inputStart)) (zlib: \(why))", corrupt: true)
            }
            if produced > 0 { return produced }
        }
        return 0
    }

    /// After a member's end: another member follows, or the file ends (zero padding allowed), or it is an error.
    private func nextMember(_ s: UnsafeMutablePointer<z_stream>) throws(GzipError) {
        try fill(atLeast: 2)
        if inputEnd - inputStart >= 2, input[inputStart] == 0x1f, input[inputStart + 1] == 0x8b {
            inflateReset(s)
            return
        }
        let at = fileOffset - (inputEnd - inputStart)
        if inputEnd - inputStart == 1, input[inputStart] == 0x1f {   // the first byte of a member being appended
            throw GzipError(path: path, message: "truncated gzip data: the file ends inside a gzip header after \(offset) uncompressed bytes", corrupt: true, truncated: true)
        }
        while inputStart < inputEnd {
            guard input[inputStart] == 0 else {
                throw GzipError(path: path, message: "data after the end of the gzip stream at compressed byte \(at) (after \(offset) uncompressed bytes) is not gzip: a damaged or wrongly joined file", corrupt: true)
            }
            inputStart += 1
            if inputStart == inputEnd { try fill(atLeast: 1) }
        }
        atEnd = true
    }

    /// Reads from the file until at least `n` bytes are buffered or the file ends (moving what is left to the front).
    private func fill(atLeast n: Int) throws(GzipError) {
        if inputStart > 0 {
            memmove(input, input + inputStart, inputEnd - inputStart)
            inputEnd -= inputStart
            inputStart = 0
        }
        while inputEnd < n {
            let got = try readFile(into: input + inputEnd, count: inputCapacity - inputEnd)
            if got == 0 { return }
            inputEnd += got
        }
    }

    private func readFile(into base: UnsafeMutableRawPointer, count: Int) throws(GzipError) -> Int {
        while true {
            let got = Glibc.read(descriptor, base, count)
            if got >= 0 {
                fileOffset += got
                return got
            }
            guard errno == EINTR else { throw GzipError(path: path, message: "cannot read after byte \(fileOffset): \(String(cString: strerror(errno)))") }
        }
    }
}

import CCSV
#if canImport(Glibc)
import Glibc
#endif

/// One parsed record. Its fields point into the parser's buffer and are valid only inside the record handler.
public struct CSVRecord {
    fileprivate let bytes: UnsafeMutablePointer<UInt8>
    fileprivate let ends: UnsafeBufferPointer<Int>
    /// The 1-based line of the input the record starts on (blank lines and line breaks inside quoted fields counted).
    public let line: Int
    /// Blank lines (libcsv skips them) right before the record: `line - blankLinesBefore` is the first of them. Line
    /// breaks inside a quoted field are none.
    public let blankLinesBefore: Int

    /// Number of fields.
    public var count: Int { ends.count }

    /// The bytes of field `index` (without its terminating NUL, which is present at `field(index).endIndex`).
    public func field(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        let start = index == 0 ? 0 : ends[index - 1] + 1
        return UnsafeBufferPointer(start: bytes + start, count: ends[index] - start)
    }

    /// Field `index` as a NUL-terminated C string, for `strtod` and friends.
    public func cString(_ index: Int) -> UnsafePointer<CChar> {
        let start = index == 0 ? 0 : ends[index - 1] + 1
        return UnsafeRawPointer(bytes + start).assumingMemoryBound(to: CChar.self)
    }

    public func string(_ index: Int) -> String { String(decoding: field(index), as: UTF8.self) }
}

/// An error of the CSV layer (libcsv's own), with the line of the input it is on.
public struct CSVError: Error, CustomStringConvertible {
    /// The 1-based line of the input.
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// A streaming CSV parser over libcsv (`csv_init`, `csv_parse`, `csv_fini`, `csv_free`): bytes go in by chunks,
/// records come out to a handler, and memory stays flat whatever the input size.
/// Leading and trailing spaces and tabs of unquoted fields are trimmed (libcsv's default), so `;` + tab
/// separated files read with `;` as the delimiter. Empty lines are skipped (but counted: each record knows its line).
public final class CSVParser {
    private var parser = csv_parser()
    /// The current record's fields, each followed by a NUL; grown by doubling, never shrunk.
    private var fieldBytes: UnsafeMutablePointer<UInt8>
    private var fieldBytesCount = 0
    private var fieldBytesCapacity = 4096
    private var fieldEnds: UnsafeMutablePointer<Int>
    private var fieldCount = 0
    private var fieldEndsCapacity = 64
    /// Line breaks inside the current record's fields (quoted): lines of the input libcsv does not report.
    private var fieldNewlines = 0
    private var handler: ((CSVRecord) throws -> Void)?
    private var failure: Error?
    /// Line breaks read so far (`\n`, `\r\n` or a lone `\r`): libcsv reports those outside quoted fields
    /// (`CSV_REPALL_NL`), a blank line's too; those inside are counted in the fields.
    private var newlinesRead = 0
    /// Whether the last thing libcsv reported was a `\r` ending a line: a `\n` right after it is the same line break.
    private var afterCarriageReturn = false
    /// Blank lines since the last record.
    private var blankLines = 0

    /// The 1-based line of the input being read.
    public var line: Int { newlinesRead + 1 }

    public init(delimiter: UInt8) {
        csv_init(&parser, UInt8(CSV_REPALL_NL))
        csv_set_delim(&parser, delimiter)
        if delimiter == UInt8(CSV_TAB) {
            csv_set_space_func(&parser) { $0 == UInt8(CSV_SPACE) ? 1 : 0 }
        }
        fieldBytes = .allocate(capacity: fieldBytesCapacity)
        fieldEnds = .allocate(capacity: fieldEndsCapacity)
    }

    deinit {
        csv_free(&parser)
        fieldBytes.deallocate()
        fieldEnds.deallocate()
    }

    /// Parses a chunk, calling `onRecord` for every complete record in it. The first error thrown by the
    /// handler stops delivery and is rethrown, wrapped with its record's line.
    public func parse(_ chunk: UnsafeRawBufferPointer, onRecord: (CSVRecord) throws -> Void) throws {
        try withoutActuallyEscaping(onRecord) { handler in
            self.handler = handler
            defer { self.handler = nil }
            let me = Unmanaged.passUnretained(self).toOpaque()
            let used = csv_parse(&parser, chunk.baseAddress, chunk.count, fieldCallback, recordCallback, me)
            try rethrowFailure()
            if used != chunk.count { throw CSVError(line: line, message: String(cString: csv_strerror(csv_error(&parser)))) }
        }
    }

    /// Flushes the last record when the input does not end with a line break; a last field whose quote is never
    /// closed (a truncated file) is an error.
    public func finish(onRecord: (CSVRecord) throws -> Void) throws {
        try withoutActuallyEscaping(onRecord) { handler in
            self.handler = handler
            defer { self.handler = nil }
            // libcsv's CSV_STRICT_FINI only works with CSV_STRICT, which would also refuse stray quotes inside fields that
            // torpor reads today; so the parser's own state says it: inside a quoted field whose closing quote never came
            // (pstate FIELD_BEGUN, 2 in libcsv.c, with `quoted` set).
            if parser.quoted != 0 && parser.pstate == 2 {
                throw CSVError(line: line, message: "a quoted field is never closed: the file ends inside it (truncated?)")
            }
            let me = Unmanaged.passUnretained(self).toOpaque()
            csv_fini(&parser, fieldCallback, recordCallback, me)
            try rethrowFailure()
        }
    }

    private func rethrowFailure() throws {
        guard let failure else { return }
        self.failure = nil
        throw failure
    }

    fileprivate func appendField(_ bytes: UnsafeRawPointer?, _ count: Int) {
        afterCarriageReturn = false
        if fieldBytesCount + count + 1 > fieldBytesCapacity {
            fieldBytesCapacity = max(fieldBytesCapacity * 2, fieldBytesCount + count + 1)
            fieldBytes = grow(fieldBytes, used: fieldBytesCount, to: fieldBytesCapacity)
        }
        if fieldCount == fieldEndsCapacity {
            fieldEndsCapacity *= 2
            fieldEnds = grow(fieldEnds, used: fieldCount, to: fieldEndsCapacity)
        }
        if let bytes, count > 0 {
            (fieldBytes + fieldBytesCount).update(from: bytes.assumingMemoryBound(to: UInt8.self), count: count)
            fieldNewlines += Self.lineBreaks(in: UnsafeRawBufferPointer(start: bytes, count: count))
        }
        fieldBytesCount += count
        fieldEnds[fieldCount] = fieldBytesCount
        fieldCount += 1
        fieldBytes[fieldBytesCount] = 0
        fieldBytesCount += 1
    }

    /// Line breaks in `bytes` (a quoted field, blank lines): `\n`, `\r\n` or a lone `\r`, each once.
    public static func lineBreaks(in bytes: UnsafeRawBufferPointer) -> Int {
        // Most fields have none: two fast scans decide.
        guard let base = bytes.baseAddress, memchr(base, 10, bytes.count) != nil || memchr(base, 13, bytes.count) != nil else { return 0 }
        var breaks = 0
        for i in bytes.indices where bytes[i] == 10 || (bytes[i] == 13 && (i + 1 == bytes.count || bytes[i + 1] != 10)) { breaks += 1 }
        return breaks
    }

    private func grow<T>(_ old: UnsafeMutablePointer<T>, used: Int, to capacity: Int) -> UnsafeMutablePointer<T> {
        let new = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        new.moveInitialize(from: old, count: used)
        old.deallocate()
        return new
    }

    /// The end of a record, or a line break outside one (`terminator`: the byte that ended it, -1 at the end of input).
    fileprivate func endRecord(terminator: Int32) {
        let crlf = terminator == 10 && afterCarriageReturn   // a field in between would have reset it
        let lineBreak = (terminator == 10 && !crlf) || terminator == 13
        defer {
            fieldBytesCount = 0
            fieldCount = 0
            newlinesRead += fieldNewlines + (lineBreak ? 1 : 0)
            afterCarriageReturn = terminator == 13
            fieldNewlines = 0
        }
        // No field: a blank line, or the `\n` of a `\r\n` whose `\r` ended the record.
        guard fieldCount > 0 else {
            if lineBreak { blankLines += 1 }
            return
        }
        defer { blankLines = 0 }
        guard failure == nil, let handler else { return }
        let record = CSVRecord(bytes: fieldBytes, ends: UnsafeBufferPointer(start: fieldEnds, count: fieldCount), line: line, blankLinesBefore: blankLines)
        do {
            try handler(record)
        } catch let error as CSVError {
            failure = error
        } catch {
            failure = CSVRecordError(line: record.line, underlying: error)
        }
    }
}

/// An error thrown by a record handler, with the line of the record it was thrown for.
public struct CSVRecordError: Error, CustomStringConvertible {
    public let line: Int
    public let underlying: Error
    public var description: String { "line \(line): \(underlying)" }
}

private func fieldCallback(_ bytes: UnsafeMutableRawPointer?, _ count: Int, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<CSVParser>.fromOpaque(context!).takeUnretainedValue().appendField(bytes, count)
}

private func recordCallback(_ terminator: Int32, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<CSVParser>.fromOpaque(context!).takeUnretainedValue().endRecord(terminator: terminator)
}

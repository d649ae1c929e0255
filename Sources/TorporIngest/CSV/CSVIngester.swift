import Foundation
import TorporCore
import TorporCSV
import TorporGzip
import TorporHash
import TorporStore

/// Ingests CSV files (plain or gzip) into the store, one transaction per file: a file with bad input adds nothing.
/// Re-ingesting a file with the same content, read the same way, adds nothing; overlapping files deduplicate by (vm, metric, time),
/// the first stored value winning (see `SampleWriter`).
public struct CSVIngester {
    public let store: Store
    /// Samples later than `now` + this are bad input (clock or unit errors); earlier ones more than a few minutes of clock
    /// skew after `now` are not stored, and counted in a warning (a replay stores nothing of its future).
    public var futureTolerance: Int64 = 86_400

    public init(store: Store) { self.store = store }

    public func ingest(path: String, mapping: CSVMapping, now: EpochSeconds) throws(IngestError) -> IngestReport {
        try mapping.validate(source: path)
        let content: String
        do { content = try SHA256.hexDigest(ofFile: path) } catch {
            throw .badInput(source: path, line: nil, message: "cannot read: \(error.message)")
        }
        // A file whose VM or metric its name gives is another source under another name, whatever its content.
        let namedByFile = mapping.vm?.from == "filename" || mapping.metric?.name == CSVMapping.metricFromFilename
            || (mapping.metrics ?? []).contains { $0.metric == CSVMapping.metricFromFilename }
        let fileName = namedByFile ? URL(fileURLWithPath: path).lastPathComponent : nil
        let readsLocalTimes = mapping.time.zone.map { $0 != "UTC" } == true && [.iso8601, .auto].contains(mapping.time.format)
        let sha256 = readsLocalTimes
            ? SourceTransaction.identity(contentSHA256: content, readWith: LocalTimeReading(mapping: mapping), fileName: fileName)
            : SourceTransaction.identity(contentSHA256: content, readWith: mapping, fileName: fileName)
        return try SourceTransaction.run(store: store, kind: "csv", source: path, location: URL(fileURLWithPath: path).standardizedFileURL.path,
                                         sha256: sha256, now: now, futureTolerance: futureTolerance) { session in
            session.report.format = mapping.layout.rawValue
            try CSVFileReader(mapping: mapping, session: session).readAll()
        }
    }
}

/// How a file of local times is read: its mapping, and both passes of an hour its zone's clock repeats (a file read
/// before they were, its second pass lost, is another reading: read again, not taken as unchanged).
private struct LocalTimeReading: Encodable {
    let mapping: CSVMapping
    let repeatedHour = "both passes"
}

/// Streams one CSV file through libcsv into a sample session.
final class CSVFileReader {
    let mapping: CSVMapping
    let session: SampleSession
    private var path: String { session.source }
    private var rows: CSVRowReader?

    init(mapping: CSVMapping, session: SampleSession) {
        self.mapping = mapping
        self.session = session
    }

    private func fail(_ message: String, line: Int?) -> IngestError { session.fail(message, line: line) }

    /// Streams the whole file through libcsv.
    func readAll() throws {
        let reader: CompressedFileReader
        do { reader = try CompressedFileReader(path: path) } catch { throw IngestError.badInput(source: path, line: nil, message: error.message) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { buffer.deallocate() }
        var parser: CSVParser?
        var lastByte: UInt8?
        // Seconds since the file changed, if that is under `settlingSeconds`: asked once the read is over (a writer
        // may have added to the file while it was read).
        func recentChange() -> Int? { Self.secondsSinceChange(path).flatMap { $0 < Self.settlingSeconds ? $0 : nil } }
        var streamCut: Int?   // a gzip stream that ends in a file changed a moment ago (this many seconds): its writer is still at it
        while true {
            let count: Int
            do { count = try reader.read(into: buffer) } catch {
                guard error.truncated, let age = recentChange() else { throw IngestError.badInput(source: path, line: parser?.line, message: error.message) }
                streamCut = age
                break
            }
            if count == 0 { break }
            lastByte = buffer[count - 1]
            var chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if parser == nil {
                if chunk.starts(with: [0xEF, 0xBB, 0xBF]) { chunk = UnsafeRawBufferPointer(rebasing: chunk[3...]) }
                let delimiter = try chooseDelimiter(firstBytes: chunk)
                parser = CSVParser(delimiter: delimiter)
            }
            try parse(chunk, with: parser!)
        }
        if let streamCut, parser == nil {   // not even a line decompressed yet: read on a later run
            session.holdBack("the gzip data ends inside its compressed stream before any line", changedSecondsAgo: streamCut)
            return
        }
        guard let parser else { throw fail("empty file: no header and no data", line: nil) }
        // A last line without a line end in a file changed a moment ago may be a record its writer is still writing
        // ("8" of "87.5"): it is left for a later run rather than stored cut (the first value stored is kept).
        let unterminated = lastByte.map { $0 != 0x0A && $0 != 0x0D } ?? false
        if let age = streamCut ?? (unterminated ? recentChange() : nil) {
            session.holdBack(streamCut != nil ? "the gzip data ends inside its compressed stream after \(reader.offset) bytes, "
                             + (unterminated ? "in line \(parser.line)," : "after line \(parser.line - 1),") : "line \(parser.line) has no line end",
                             changedSecondsAgo: age)
            if rows == nil { return }   // nothing whole yet (a header being written): read on a later run
        } else {
            do { try parser.finish(onRecord: handle) } catch { throw unwrap(error, parser: parser) }
        }
        if rows == nil { throw fail("empty file: no header and no data", line: nil) }
        if session.report.rows == 0 { session.warn("no data rows after the header") }
    }

    /// How recently a file must have changed for its unterminated last line to be left unread.
    static let settlingSeconds = 60

    /// Whole seconds since the file at `path` (through a symbolic link, to what it names) last changed, by the wall
    /// clock (a writer works now, whatever `--now` replays).
    static func secondsSinceChange(_ path: String) -> Int? {
        FileChange.time(of: path).map { max(0, Int(time(nil)) - Int($0)) }
    }

    private func parse(_ chunk: UnsafeRawBufferPointer, with parser: CSVParser) throws {
        do { try parser.parse(chunk, onRecord: handle) } catch { throw unwrap(error, parser: parser) }
    }

    private func unwrap(_ error: Error, parser: CSVParser) -> Error {
        if let error = error as? CSVRecordError { return error.underlying }
        if let error = error as? CSVError { return fail("CSV syntax: \(error.message)", line: error.line) }
        return error
    }

    /// The delimiter from the mapping, or the most frequent of `,` `;` tab `|` on the first line that is not blank (`;`
    /// wins over tab, which libcsv trims as space: Bitbrains separates with `;` + tab).
    private func chooseDelimiter(firstBytes: UnsafeRawBufferPointer) throws -> UInt8 {
        let blank = firstBytes.prefix { $0 == 10 || $0 == 13 }
        let firstLine = firstBytes.dropFirst(blank.count).prefix { $0 != 10 && $0 != 13 }
        let firstLineNumber = 1 + CSVParser.lineBreaks(in: UnsafeRawBufferPointer(rebasing: firstBytes[..<blank.count]))
        var counts: [UInt8: Int] = [44: 0, 59: 0, 9: 0, 124: 0]
        var quoted = false
        for byte in firstLine {
            if byte == 34 { quoted.toggle() } else if !quoted, counts[byte] != nil { counts[byte]! += 1 }
        }
        let detected = [UInt8(59), 44, 9, 124].max { (counts[$0]!, -order($0)) < (counts[$1]!, -order($1)) }!
        let chosen: UInt8
        if let forced = mapping.delimiter, forced != "auto" {
            chosen = CSVMapping.delimiterByte(forced)!
            if counts[chosen]! == 0, counts[detected]! > 0 {
                throw fail("the first line has no '\(name(chosen))' but \(counts[detected]!) '\(name(detected))': wrong delimiter? (use delimiter: auto or '\(name(detected))')", line: firstLineNumber)
            }
        } else {
            chosen = counts[detected]! > 0 ? detected : 44
        }
        session.report.delimiter = chosen == 59 && counts[9]! > 0 ? "; (+tab)" : name(chosen)
        return chosen
    }

    private func order(_ byte: UInt8) -> Int { [UInt8(59), 44, 9, 124].firstIndex(of: byte)! }
    private func name(_ byte: UInt8) -> String { byte == 9 ? "tab" : String(UnicodeScalar(byte)) }

    private func handle(_ record: CSVRecord) throws {
        session.line = record.line
        if let rows {
            try rows.read(record, run: session)
            return
        }
        let header: [String]
        let firstIsData = mapping.header == false
        if firstIsData {
            header = (1...record.count).map(String.init)
        } else {
            header = (0..<record.count).map { record.string($0) }
        }
        rows = try CSVRowReader(mapping: mapping, header: header, run: session)
        if firstIsData { try rows!.read(record, run: session) }
    }
}

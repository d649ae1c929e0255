import Foundation
import GRDB
import TorporCore
import TorporCSV
import TorporGzip
import TorporHash
import TorporStore

/// Ingests CSV files (plain or gzip) into the store, one transaction per file: a file with bad input adds nothing.
/// Re-ingesting a file with the same content adds nothing; overlapping files deduplicate by (vm, metric, time),
/// the first stored value winning (see `SampleWriter`).
public struct CSVIngester {
    public let store: Store
    /// Samples later than `now` + this are bad input (clock or unit errors).
    public var futureTolerance: Int64 = 86_400

    public init(store: Store) { self.store = store }

    public func ingest(path: String, mapping: CSVMapping, now: EpochSeconds) throws(IngestError) -> CSVIngestReport {
        try mapping.validate(source: path)
        let sha256: String
        do { sha256 = try SHA256.hexDigest(ofFile: path) } catch {
            throw .badInput(source: path, line: nil, message: "cannot read: \(error.message)")
        }
        let location = URL(fileURLWithPath: path).standardizedFileURL.path
        do {
            return try store.transaction { db in
                var report = CSVIngestReport(path: path, sha256: sha256)
                if let earlier = try SourceRepository.find(kind: "csv", contentSHA256: sha256, in: db) {
                    report.outcome = .unchanged
                    report.sourceID = earlier.id
                    return report
                }
                let run = try CSVFileRun(path: path, mapping: mapping, db: db, now: now, futureTolerance: futureTolerance, report: report)
                try run.readAll()
                return try run.commit(location: location)
            }
        } catch let error as IngestError {
            throw error
        } catch let error as StoreError {
            throw .badInput(source: path, line: nil, message: error.message)
        } catch {
            throw .failure(source: path, message: "store: \(error)")
        }
    }
}

/// The state of ingesting one file, inside its transaction.
final class CSVFileRun {
    let path: String
    let mapping: CSVMapping
    let db: Database
    let writer: SampleWriter
    let now: EpochSeconds
    let latestAllowed: EpochSeconds
    var report: CSVIngestReport

    private var rows: CSVRowReader?
    private var line = 0
    private var lastTimeOfSeries: [Int64: EpochSeconds] = [:]
    private var currentSeries: (key: Int64, lastTime: EpochSeconds) = (-1, 0)
    private var contributions: [Int64: SourceVMContribution] = [:]
    /// The contribution of the VM of the latest samples, kept out of the dictionary while that VM lasts.
    private var current: (vm: Int64, contribution: SourceVMContribution)?
    private var allocation: [Int64: (time: EpochSeconds, vcpus: Int?, memory: Int64?)] = [:]
    private var vmNames: [Int64: String] = [:]
    private var metricNames: [Int64: String] = [:]
    private var allocationMetrics: (vcpus: Int64?, memory: Int64?) = (nil, nil)
    private var conflictExamples = 0

    init(path: String, mapping: CSVMapping, db: Database, now: EpochSeconds, futureTolerance: Int64, report: CSVIngestReport) throws {
        self.path = path
        self.mapping = mapping
        self.db = db
        self.now = now
        self.latestAllowed = now + futureTolerance
        self.report = report
        writer = try SampleWriter(db: db)
        self.report.layout = mapping.layout.rawValue
    }

    /// Bad input at the current line.
    func fail(_ message: String) -> IngestError { fail(message, line: line) }

    /// Bad input at `line`, or about the whole file when nil.
    func fail(_ message: String, line: Int?) -> IngestError {
        .badInput(source: path, line: line, message: message)
    }

    /// Streams the whole file through libcsv.
    func readAll() throws {
        let reader: CompressedFileReader
        do { reader = try CompressedFileReader(path: path) } catch { throw IngestError.badInput(source: path, line: nil, message: error.message) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { buffer.deallocate() }
        var parser: CSVParser?
        while true {
            let count: Int
            do { count = try reader.read(into: buffer) } catch {
                throw IngestError.badInput(source: path, line: parser.map { $0.recordCount + 1 }, message: error.message)
            }
            if count == 0 { break }
            var chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if parser == nil {
                if chunk.starts(with: [0xEF, 0xBB, 0xBF]) { chunk = UnsafeRawBufferPointer(rebasing: chunk[3...]) }
                let delimiter = try chooseDelimiter(firstBytes: chunk)
                parser = CSVParser(delimiter: delimiter)
            }
            try parse(chunk, with: parser!)
        }
        guard let parser else { throw fail("empty file: no header and no data", line: nil) }
        do { try parser.finish(onRecord: handle) } catch { throw unwrap(error, parser: parser) }
        if rows == nil { throw fail("empty file: no header and no data", line: nil) }
        if report.rows == 0 { report.warnings.append("no data rows after the header") }
    }

    private func parse(_ chunk: UnsafeRawBufferPointer, with parser: CSVParser) throws {
        do { try parser.parse(chunk, onRecord: handle) } catch { throw unwrap(error, parser: parser) }
    }

    private func unwrap(_ error: Error, parser: CSVParser) -> Error {
        if let error = error as? CSVRecordError { return error.underlying }
        if let error = error as? CSVError { return fail("CSV syntax: \(error.message)", line: error.record) }
        return error
    }

    /// The delimiter from the mapping, or the most frequent of `,` `;` tab `|` on the first line (`;` wins over tab,
    /// which libcsv trims as space: Bitbrains separates with `;` + tab).
    private func chooseDelimiter(firstBytes: UnsafeRawBufferPointer) throws -> UInt8 {
        let firstLine = firstBytes.prefix { $0 != 10 }
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
                throw fail("the first line has no '\(name(chosen))' but \(counts[detected]!) '\(name(detected))': wrong delimiter? (use delimiter: auto or '\(name(detected))')", line: 1)
            }
        } else {
            chosen = counts[detected]! > 0 ? detected : 44
        }
        report.delimiter = chosen == 59 && counts[9]! > 0 ? "; (+tab)" : name(chosen)
        return chosen
    }

    private func order(_ byte: UInt8) -> Int { [UInt8(59), 44, 9, 124].firstIndex(of: byte)! }
    private func name(_ byte: UInt8) -> String { byte == 9 ? "tab" : String(UnicodeScalar(byte)) }

    private func handle(_ record: CSVRecord) throws {
        line += 1
        if let rows {
            try rows.read(record, run: self)
            return
        }
        let header: [String]
        let firstIsData = mapping.header == false
        if firstIsData {
            header = (1...record.count).map(String.init)
        } else {
            header = (0..<record.count).map { record.string($0) }
        }
        rows = try CSVRowReader(mapping: mapping, header: header, run: self)
        if firstIsData { try rows!.read(record, run: self) }
    }

    // MARK: called by the row reader

    func vmID(_ name: String) throws -> Int64 {
        guard !name.isEmpty, name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw fail("VM name '\(name)' is empty, too long or has control characters")
        }
        let id = try VMRepository.id(of: name, in: db, now: now)
        vmNames[id] = name
        return id
    }

    func metricID(_ binding: MetricBinding) throws -> Int64 {
        let id = try writer.metricID(binding)
        metricNames[id] = binding.metric
        if binding.metric == "vcpus" { allocationMetrics.vcpus = id }
        if binding.metric == "mem_capacity" { allocationMetrics.memory = id }
        return id
    }

    func checkTime(_ time: EpochSeconds, column: String) throws {
        if time > latestAllowed {
            throw fail("time \(UTC.format(time)) in column '\(column)' is after now (\(UTC.format(now))) + 1 day: wrong time unit or clock? (set --now when replaying history)")
        }
        if time < 0 { throw fail("time \(time) in column '\(column)' is before 1970") }
    }

    /// Notes one data row's time for a series, counting rows that go back in time.
    func noteRow(series: Int64, time: EpochSeconds) {
        if series != currentSeries.key {
            if currentSeries.key >= 0 { lastTimeOfSeries[currentSeries.key] = currentSeries.lastTime }
            currentSeries = (series, lastTimeOfSeries[series] ?? time)
        }
        if time < currentSeries.lastTime { report.outOfOrder += 1 }
        currentSeries.lastTime = time
    }

    func countRow() { report.rows += 1 }

    func countMissing() { report.missing += 1 }

    func countOutOfRange() { report.outOfRange += 1 }

    func emit(vm: Int64, metric: Int64, time: EpochSeconds, value: Double) throws {
        report.values += 1
        switch try writer.add(vm: vm, metric: metric, time: time, value: value) {
        case .inserted:
            report.inserted += 1
            if current?.vm != vm {
                if let current { contributions[current.vm] = current.contribution }
                current = (vm, contributions[vm] ?? SourceVMContribution(samples: 0, firstTime: time, lastTime: time))
            }
            current!.contribution.samples += 1
            current!.contribution.firstTime = min(current!.contribution.firstTime, time)
            current!.contribution.lastTime = max(current!.contribution.lastTime, time)
        case .duplicate:
            report.duplicates += 1
        case .conflict(let kept):
            report.conflicts += 1
            if conflictExamples < 5 {
                conflictExamples += 1
                report.warnings.append("line \(line): \(vmNames[vm] ?? "?") \(metricNames[metric] ?? "?") at \(UTC.format(time)): \(value) differs from the stored \(kept), which is kept")
            }
        }
        report.firstTime = min(report.firstTime ?? time, time)
        report.lastTime = max(report.lastTime ?? time, time)
        if value > 0, metric == allocationMetrics.vcpus || metric == allocationMetrics.memory {
            var a = allocation[vm] ?? (time: time, vcpus: nil, memory: nil)
            if time >= a.time {
                a.time = time
                if metric == allocationMetrics.vcpus { a.vcpus = Int(value) } else { a.memory = Int64(value) }
                allocation[vm] = a
            }
        }
    }

    func commit(location: String) throws -> CSVIngestReport {
        if let current { contributions[current.vm] = current.contribution }
        if report.conflicts > conflictExamples {
            report.warnings.append("\(report.conflicts - conflictExamples) more conflicting values (stored values kept)")
        }
        for (vm, a) in allocation {
            try VMRepository.setAllocation(vm: vm, vcpus: a.vcpus, memoryBytes: a.memory, observedAt: a.time, in: db)
        }
        report.vms = Set(vmNames.values).sorted()
        report.metrics = Set(metricNames.values).sorted()
        let record = SourceRecord(id: 0, kind: "csv", location: location, contentSHA256: report.sha256, rows: report.rows,
                                  inserted: report.inserted, duplicates: report.duplicates + report.conflicts,
                                  firstTime: report.firstTime, lastTime: report.lastTime, warnings: report.warnings,
                                  ingestedAt: now)
        report.sourceID = try SourceRepository.insert(record, report: report, contributions: contributions, in: db)
        return report
    }
}

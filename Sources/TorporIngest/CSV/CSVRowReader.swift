#if canImport(Glibc)
import Glibc
#endif
import TorporCore
import TorporCSV

/// Turns the data rows of one CSV file into samples, following a mapping resolved against the file's header.
final class CSVRowReader {
    private enum Plan {
        case long(vm: Int, metric: Int, value: Int, vmPrefix: String)
        case wideMetrics(vm: VMSource, columns: [(index: Int, metric: Int64, factor: Double, valid: ClosedRange<Double>)])
        case wideVMs(columns: [(index: Int, vm: Int64)], metric: Int64, factor: Double)
    }

    private enum VMSource {
        case fixed(Int64)
        case column(Int, prefix: String)
    }

    private let header: [String]
    private let plan: Plan
    private var time: TimeReader
    private var vmCache = NameCache<Int64>()
    private var metricCache = NameCache<(id: Int64, factor: Double)>()
    private let units: [String: String]

    init(mapping: CSVMapping, header: [String], run: SampleSession) throws {
        self.header = header
        units = mapping.units ?? [:]
        func column(_ name: String, _ role: String) throws -> Int {
            var matches = header.indices.filter { header[$0] == name }
            if matches.isEmpty { matches = header.indices.filter { header[$0].lowercased() == name.lowercased() } }
            // Two columns of one name: reading either would be a guess (two VMs' columns merged into one VM, say).
            guard matches.count < 2 else {
                throw run.fail("the header has \(matches.count) columns named '\(name)' (columns \(matches.map { String($0 + 1) }.joined(separator: ", "))): "
                               + "which one is the \(role) column is ambiguous; rename them in the file or map them by position (`header: false`)")
            }
            if let i = matches.first { return i }
            var message = "the header has no \(role) column '\(name)'; its columns are: " + header.map { "'\($0)'" }.joined(separator: ", ")
            if header.count == 1, let other = [";", ",", "\t"].first(where: { header[0].contains($0) }) {
                message += ". The header has only one column but contains '\(other == "\t" ? "tab" : other)': wrong delimiter?"
            }
            throw run.fail(message)   // the header's line
        }
        let timeIndex = try mapping.time.format == .implicit ? nil : column(mapping.time.column ?? "time", "time")
        time = try TimeReader(spec: mapping.time, index: timeIndex, columnName: mapping.time.column ?? "time", source: run.source)
        func binding(_ metric: String, _ unit: String?) throws -> MetricBinding {
            switch MetricBinding.make(metric: metric, unit: unit) {
            case .success(let b): return b
            case .failure(let e): throw run.fail("\(e)", line: nil)
            }
        }
        // `{filename}`: the metric is named by the file (e.g. a folder per VM with cpu_util.csv, mem_used.csv).
        func metricName(_ metric: String) -> String {
            metric == CSVMapping.metricFromFilename ? CSVRowReader.stem(of: run.source).lowercased() : metric
        }
        switch mapping.layout {
        case .long:
            let names = mapping.columns
            plan = .long(vm: try column(names?.vm ?? "vm", "VM"), metric: try column(names?.metric ?? "metric", "metric"),
                         value: try column(names?.value ?? "value", "value"), vmPrefix: mapping.vmPrefix ?? "")
        case .wideMetrics:
            let spec = mapping.vm!
            let vm: VMSource
            if let name = spec.name {
                vm = .fixed(try run.vmID(name))
            } else if let col = spec.column {
                vm = .column(try column(col, "VM"), prefix: spec.prefix ?? "")
            } else {
                vm = .fixed(try run.vmID(CSVRowReader.stem(of: run.source), prefix: spec.prefix ?? ""))
            }
            var columns: [(Int, Int64, Double, ClosedRange<Double>)] = []
            for m in mapping.metrics! {
                let b = try binding(metricName(m.metric), m.unit)
                let valid = m.valid.map { $0[0]...$0[1] } ?? -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
                columns.append((try column(m.column, "metric"), try run.metricID(b), b.unit.factor, valid))
            }
            plan = .wideMetrics(vm: vm, columns: columns)
        case .wideVMs:
            let b = try binding(metricName(mapping.metric!.name), mapping.metric!.unit)
            let names = mapping.vmColumns ?? header.enumerated().filter { $0.offset != timeIndex }.map(\.element)
            guard !names.isEmpty else { throw run.fail("no VM columns besides the time column") }
            var columns: [(Int, Int64)] = []
            for name in names {
                columns.append((try column(name, "VM"), try run.vmID(name, prefix: mapping.vmPrefix ?? "")))
            }
            plan = .wideVMs(columns: columns, metric: try run.metricID(b), factor: b.unit.factor)
        }
    }

    /// The file name without directories, `.gz` and one extension: `2013-7/1.csv.gz` → `1`.
    static func stem(of path: String) -> String {
        var name = Substring(path.split(separator: "/").last ?? Substring(path))
        if name.hasSuffix(".gz") { name = name.dropLast(3) }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = name[..<dot] }
        return String(name)
    }

    func read(_ record: CSVRecord, run: SampleSession) throws {
        guard record.count == header.count else {
            throw run.fail("\(record.count) field(s), but the header has \(header.count)")
        }
        // The row's time, read for its series (a local time in an hour the clock repeats: the pass its series is on).
        func rowTime(series: Int64) throws -> EpochSeconds {
            let t = try self.time.read(record, series: series, run: run)
            run.countRow()
            run.noteRow(series: series, time: t)
            return t
        }
        switch plan {
        case .long(let vmIndex, let metricIndex, let valueIndex, let prefix):
            let vm = try vmCache.value(record.field(vmIndex)) { try run.vmID($0, prefix: prefix) }
            let metric = try metricCache.value(record.field(metricIndex)) { try metricID($0, run: run) }
            let t = try rowTime(series: vm << 24 | metric.id)
            if let v = try value(record, valueIndex, run: run) { try run.emit(vm: vm, metric: metric.id, time: t, value: v * metric.factor) }
        case .wideMetrics(let source, let columns):
            let vm: Int64
            switch source {
            case .fixed(let id): vm = id
            case .column(let i, let prefix): vm = try vmCache.value(record.field(i)) { try run.vmID($0, prefix: prefix) }
            }
            let t = try rowTime(series: vm)
            for c in columns {
                guard let v = try value(record, c.index, run: run) else { continue }
                if c.valid.contains(v) {
                    try run.emit(vm: vm, metric: c.metric, time: t, value: v * c.factor)
                } else {
                    run.countOutOfRange()
                }
            }
        case .wideVMs(let columns, let metric, let factor):
            let t = try rowTime(series: 0)
            for c in columns {
                if let v = try value(record, c.index, run: run) { try run.emit(vm: c.vm, metric: metric, time: t, value: v * factor) }
            }
        }
    }

    private func metricID(_ name: String, run: SampleSession) throws -> (id: Int64, factor: Double) {
        switch MetricBinding.make(metric: name, unit: units[name]) {
        case .success(let b):
            return (try run.metricID(b), b.unit.factor)
        case .failure(let e):
            throw run.fail("\(e) (add it to the mapping's 'units')")
        }
    }

    /// The cell's number; nil when the cell is missing (empty, NaN, NA, null). Anything else is bad input.
    private func value(_ record: CSVRecord, _ index: Int, run: SampleSession) throws -> Double? {
        switch NumberCell(record, index) {
        case .number(let v): return v
        case .missing:
            run.countMissing()
            return nil
        case .invalid:
            throw run.fail("column '\(header[index])': '\(record.string(index))' is not a number")
        }
    }
}

/// A CSV cell read as a number.
enum NumberCell {
    case number(Double), missing, invalid

    static let missingTokens: Set<String> = ["nan", "na", "n/a", "null", "none", "-"]

    init(_ record: CSVRecord, _ index: Int) {
        let field = record.field(index)
        if field.isEmpty { self = .missing; return }
        let start = record.cString(index)
        var end: UnsafeMutablePointer<CChar>?
        let v = strtod(start, &end)
        // strtod also reads hexadecimal (0x10 as 16): no monitoring export writes it, so it is a corrupt cell.
        if let end, UnsafePointer(end) == start + field.count, !field.contains(where: { $0 | 0x20 == UInt8(ascii: "x") }) {
            self = v.isNaN ? .missing : v.isInfinite ? .invalid : .number(v)
        } else {
            self = NumberCell.missingTokens.contains(String(decoding: field, as: UTF8.self).lowercased()) ? .missing : .invalid
        }
    }
}

/// Remembers what the last name seen maps to, so sorted files cost one comparison per row instead of a lookup.
struct NameCache<Value> {
    private var lastBytes: [UInt8] = []
    private var last: Value?
    private var values: [String: Value] = [:]

    mutating func value(_ bytes: UnsafeBufferPointer<UInt8>, create: (String) throws -> Value) rethrows -> Value {
        if let last, bytes.count == lastBytes.count,
           bytes.count == 0 || memcmp(bytes.baseAddress!, lastBytes, bytes.count) == 0 {
            return last
        }
        let name = String(decoding: bytes, as: UTF8.self)
        let value = try values[name] ?? create(name)
        values[name] = value
        lastBytes = Array(bytes)
        last = value
        return value
    }
}

/// Reads the time of a data row as the mapping says: epoch, ISO-8601, offset from a base, or implicit.
struct TimeReader {
    private let format: CSVMapping.TimeFormat
    private let index: Int?
    private let columnName: String
    private var secondsPerUnit: Double?
    /// The unit is read from the values (`unit: auto`, the default for epoch times).
    private let autoUnit: Bool
    private let base: EpochSeconds
    private let step: Int64
    private var dataRow: Int64 = 0
    /// Whether a time without a UTC offset was said (once a file).
    private var saidNoOffset = false
    /// The zone times without a UTC offset are local times of (`TimeSpec.zone`), nil for UTC.
    private let zone: WeekClock?
    /// Whether the mapping said such times are UTC (nothing to say of them).
    private let utcSaid: Bool
    /// The warning that `start` or `base` has no UTC offset and is read as UTC, said at the first row.
    private var originWithoutOffset: String?
    /// Each series' previous row as read on `zone`'s clock.
    private var previousLocal: [Int64: LocalRow] = [:]
    /// Whether the file's series go forward in time (the last step a series took outside an hour the clock repeats):
    /// the way a series met first inside such an hour is read.
    private var forwardInTime: Bool?

    /// A series' previous row on `zone`'s clock: its local time; the step its rows last took (outside an hour the
    /// clock repeats); and, when it fell in such an hour, its UTC time, whether on the hour's second pass, and whether
    /// the series goes forward in time (nil: not known yet, a series met first inside the hour in a file whose order
    /// is not known yet).
    private struct LocalRow {
        var local: EpochSeconds
        var step: EpochSeconds?
        var repeated: (at: EpochSeconds, second: Bool, forward: Bool?)?
    }

    init(spec: CSVMapping.TimeSpec, index: Int?, columnName: String, source: String) throws {
        format = spec.format
        self.index = index
        self.columnName = columnName
        secondsPerUnit = (spec.unit ?? (spec.format == .offset ? .s : .auto)).secondsPerUnit
        autoUnit = secondsPerUnit == nil
        step = spec.step.flatMap(DurationText.seconds) ?? 0
        zone = spec.zone.flatMap { $0 == "UTC" ? nil : WeekClock(zone: $0) }
        utcSaid = spec.zone == "UTC"
        // `start` or `base` without a UTC offset is a local time of `zone` too, else UTC, said as the column's are.
        let (key, origin) = spec.format == .offset ? ("base", spec.base) : ("start", spec.start)
        let written = origin.flatMap(UTC.parseISO8601) ?? 0
        let local = [.implicit, .offset].contains(format) && origin.map { !Array($0.utf8).withUnsafeBufferPointer(Self.hasOffset) } == true
        base = local ? zone?.utc(ofLocal: written) ?? written : written
        originWithoutOffset = local && zone == nil && !utcSaid
            ? "time.\(key) '\(origin ?? "")' has no UTC offset: it is read as UTC (give time.zone, --time-zone, if it is a local time; UTC to say it is UTC)" : nil
    }

    /// The time of a row of `series` (the rows whose times follow one another: a VM's metric, a VM, or every row).
    mutating func read(_ record: CSVRecord, series: Int64, run: SampleSession) throws -> EpochSeconds {
        defer { dataRow += 1 }
        if let warning = originWithoutOffset {
            run.warn(warning)
            originWithoutOffset = nil
        }
        let t: EpochSeconds
        switch format {
        case .implicit:
            // A row's time is its place among the rows: libcsv skips a blank line, so every later row would come a step
            // early. A line break inside a quoted field is none.
            if record.blankLinesBefore > 0 {
                let blank = record.line - record.blankLinesBefore
                throw run.fail("line \(blank) is blank, in a file whose times are implicit (start + row × step): every line is a row, "
                               + "and without it each later row would be placed a step early. Write a missing row's values as NaN, or remove the line if it stands for no time", line: blank)
            }
            t = base + dataRow * step
        case .iso8601:
            t = try iso(record, series: series, run)
        case .epoch:
            t = try number(record, run)
        case .offset:
            t = base + (try number(record, run))
        case .auto:
            if case .number = NumberCell(record, index!) {
                t = try number(record, run)
                // A number taken for epoch time that falls before 2000 is most likely something else: an offset from a
                // trace's start, a date written as digits (20240101). Stored in 1970, its VM would read as missing.
                guard t >= Self.earliestGuessedEpoch else {
                    throw run.fail("time '\(record.string(index!))' in column '\(columnName)' read as epoch time is \(UTC.format(t)), before 2000: "
                                   + "an offset from a trace's start needs time.format: offset (with time.base), a date needs an ISO-8601 form "
                                   + "(2024-01-01); time.format: epoch takes it as it is")
                }
            } else {
                t = try iso(record, series: series, run)
            }
        }
        try run.checkTime(t, what: "in column '\(columnName)'")
        return t
    }

    /// 2000-01-01: numbers `auto` takes for epoch time must not fall before it.
    static let earliestGuessedEpoch: EpochSeconds = 946_684_800

    private mutating func iso(_ record: CSVRecord, series: Int64, _ run: SampleSession) throws -> EpochSeconds {
        guard let t = UTC.parseISO8601(record.field(index!)) else {
            throw run.fail("time '\(record.string(index!))' in column '\(columnName)' is not an ISO-8601 time (YYYY-MM-DD[ HH:MM[:SS]][Z|±HH:MM], hours 00–23, seconds 00–59)")
        }
        // No UTC offset: a local time of `zone`, else read as UTC and said once (a local-time export read as UTC is
        // shifted by the zone's offset against the calendars, which keep theirs).
        guard zone != nil || !(utcSaid || saidNoOffset), !Self.hasOffset(record.field(index!)) else { return t }
        if let zone { return utc(ofLocal: t, on: zone, series: series) }
        saidNoOffset = true
        run.warn("line \(record.line): time '\(record.string(index!))' in column '\(columnName)' has no UTC offset: it and every such time are read as UTC "
                 + "(give time.zone, --time-zone, if they are local times; UTC to say they are UTC)")
        return t
    }

    /// The UTC time of a row's local time. In an hour the clock repeats (the autumn change), a series that comes into it
    /// forward in time is on its first pass, and on its second once it goes back within it (a row before its previous
    /// one, or, for rows an hour or more apart, at the same time again); a series newest first, the other way round.
    /// One met first inside the hour goes as the file's other series went, else starts on the first pass and goes the
    /// way its next row does. A file that lists that hour twice keeps both passes (the second had been read onto the
    /// first: conflicts, and the hour after the change missing), each series on its own (several VMs' rows at each
    /// time, or a VM's rows after another's).
    private mutating func utc(ofLocal local: EpochSeconds, on zone: WeekClock, series: Int64) -> EpochSeconds {
        let times = zone.utcTimes(ofLocal: local)
        var row = LocalRow(local: local, step: previousLocal[series]?.step)
        if let previous = previousLocal[series], previous.repeated == nil, local != previous.local {
            row.step = abs(local - previous.local)
            forwardInTime = local > previous.local
        }
        defer { previousLocal[series] = row }
        guard times.count == 2 else { return times[0] }
        let previous = previousLocal[series]
        var forward: Bool?, second: Bool
        if let previous, let hour = previous.repeated {
            (forward, second) = (hour.forward, hour.second)
            let again = (row.step ?? 0) >= 3600   // the same local time again: hourly rows' second pass, else a repeat
            switch (hour.forward, hour.second) {
            case (true, false): second = times[0] < hour.at || times[0] == hour.at && again
            case (false, true): second = !(times[1] > hour.at || times[1] == hour.at && again)
            case (nil, _): forward = local == previous.local ? nil : local > previous.local
            default: break
            }
        } else {
            forward = previous.map { local > $0.local } ?? forwardInTime
            second = forward == false
        }
        row.repeated = (second ? times[1] : times[0], second, forward)
        return second ? times[1] : times[0]
    }

    /// Whether an ISO-8601 time (as `UTC.parseISO8601` read it) ends in `Z` or an offset (`+`/`-` after its date).
    static func hasOffset(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let last = text.last else { return false }
        return last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") || text.dropFirst(10).contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
    }

    private mutating func number(_ record: CSVRecord, _ run: SampleSession) throws -> EpochSeconds {
        guard case .number(let v) = NumberCell(record, index!) else {
            throw run.fail("time '\(record.string(index!))' in column '\(columnName)' is not a number")
        }
        // auto: decided from the first value's magnitude; a later value of another magnitude is bad input (a file
        // mixing seconds and milliseconds would otherwise put rows in 1970).
        let implied = abs(v) >= 1e14 ? 1e-6 : abs(v) >= 1e11 ? 1e-3 : 1.0
        if autoUnit {
            if secondsPerUnit == nil { secondsPerUnit = implied }
            guard implied == secondsPerUnit else {
                func name(_ unit: Double) -> String { unit == 1 ? "seconds" : unit == 1e-3 ? "milliseconds" : "microseconds" }
                throw run.fail("time '\(record.string(index!))' in column '\(columnName)' reads as \(name(implied)), the file's first time as \(name(secondsPerUnit!)) (set time.unit)")
            }
        }
        guard let time = UTC.instant(seconds: v * secondsPerUnit!) else {
            throw run.fail("time '\(record.string(index!))' in column '\(columnName)' is out of range (years 1 to 9999)")
        }
        return time
    }
}

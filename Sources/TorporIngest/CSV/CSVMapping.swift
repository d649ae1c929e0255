import Foundation
import TorporYAML
import TorporCore

/// How the columns of a CSV file become samples: a small YAML file (see `sample-data/mappings/`) or flags.
public struct CSVMapping: Codable, Equatable, Sendable {
    public enum Layout: String, Codable, Sendable {
        /// One sample per row: `vm, metric, time, value` columns.
        case long
        /// One row per time, one column per metric of one VM (the VM from a column, the file name or a fixed name).
        case wideMetrics = "wide-metrics"
        /// One row per time, one column per VM of one metric.
        case wideVMs = "wide-vms"
    }

    public var layout: Layout
    /// `auto` (default), `,`, `;`, `tab`.
    public var delimiter: String?
    /// Whether the first row names the columns (default true). Without it, columns are named `1`, `2`, …
    public var header: Bool?
    public var time: TimeSpec
    /// wide-metrics: where the VM name comes from.
    public var vm: NameSpec?
    /// wide-metrics: the columns to store and the metric each becomes.
    public var metrics: [MetricColumn]?
    /// wide-vms: the one metric of the file.
    public var metric: MetricSpec?
    /// wide-vms: the columns that are VMs (default: every column except the time column).
    public var vmColumns: [String]?
    /// long and wide-vms: prefix added to the VM names read from the `vm` column (long) or the VM columns' names
    /// (wide-vms). A wide-metrics file's VM takes `vm.prefix`.
    public var vmPrefix: String?
    /// long: the column names (default `vm`, `metric`, `value`; the time column is `time.column`, default `time`).
    public var columns: LongColumns?
    /// long: the source unit of each metric name; known metrics default to their canonical unit.
    public var units: [String: String]?

    public struct TimeSpec: Codable, Equatable, Sendable {
        public var column: String?
        public var format: TimeFormat
        /// epoch and offset: `s`, `ms`, `us` or `auto` (by magnitude, the default for epoch).
        public var unit: TimeUnit?
        /// offset: the time that offset 0 stands for (ISO-8601).
        public var base: String?
        /// implicit: the time of the first data row (ISO-8601).
        public var start: String?
        /// implicit: the step between rows, e.g. `300`, `5m`.
        public var step: String?
        /// ISO-8601 times without a UTC offset: the zone they are local times of (`UTC`, or an IANA name such as
        /// `Europe/Amsterdam`). Without it they are read as UTC, and the first of them in a file is said.
        public var zone: String?

        public init(column: String? = nil, format: TimeFormat, unit: TimeUnit? = nil, base: String? = nil, start: String? = nil, step: String? = nil,
                    zone: String? = nil) {
            self.column = column; self.format = format; self.unit = unit; self.base = base; self.start = start; self.step = step; self.zone = zone
        }
    }

    public enum TimeFormat: String, Codable, Sendable {
        /// A number: epoch seconds/ms/µs; otherwise ISO-8601.
        case auto
        case epoch, iso8601, offset, implicit
    }

    public enum TimeUnit: String, Codable, Sendable {
        case s, ms, us, auto
        var secondsPerUnit: Double? {
            switch self {
            case .s: 1
            case .ms: 1e-3
            case .us: 1e-6
            case .auto: nil
            }
        }
    }

    public struct NameSpec: Codable, Equatable, Sendable {
        /// A column holding the VM name.
        public var column: String?
        /// A fixed name.
        public var name: String?
        /// `filename`: the file's name without `.gz` and its extension.
        public var from: String?
        /// Prepended to a name taken from a column or the file name.
        public var prefix: String?

        public init(column: String? = nil, name: String? = nil, from: String? = nil, prefix: String? = nil) {
            self.column = column; self.name = name; self.from = from; self.prefix = prefix
        }
    }

    /// A metric column's `metric` that takes the metric's name from the file name (without `.gz` and extension).
    public static let metricFromFilename = "{filename}"

    public struct MetricColumn: Codable, Equatable, Sendable {
        public var column: String
        /// The torpor metric, or `{filename}` for the file's name.
        public var metric: String
        public var unit: String?
        /// `[min, max]` in the source unit: values outside are the source's markers for bad readings,
        /// counted and treated as missing.
        public var valid: [Double]?

        public init(column: String, metric: String, unit: String? = nil, valid: [Double]? = nil) {
            self.column = column; self.metric = metric; self.unit = unit; self.valid = valid
        }
    }

    public struct MetricSpec: Codable, Equatable, Sendable {
        public var name: String
        public var unit: String?

        public init(name: String, unit: String? = nil) {
            self.name = name; self.unit = unit
        }
    }

    public struct LongColumns: Codable, Equatable, Sendable {
        public var vm: String?
        public var metric: String?
        public var value: String?
    }

    enum CodingKeys: String, CodingKey {
        case layout, delimiter, header, time, vm, metrics, metric, units, columns
        case vmColumns = "vm_columns"
        case vmPrefix = "vm_prefix"
    }

    public init(layout: Layout, delimiter: String? = nil, header: Bool? = nil, time: TimeSpec, vm: NameSpec? = nil,
                metrics: [MetricColumn]? = nil, metric: MetricSpec? = nil, vmColumns: [String]? = nil, vmPrefix: String? = nil,
                columns: LongColumns? = nil, units: [String: String]? = nil) {
        self.layout = layout; self.delimiter = delimiter; self.header = header; self.time = time; self.vm = vm
        self.metrics = metrics; self.metric = metric; self.vmColumns = vmColumns; self.vmPrefix = vmPrefix
        self.columns = columns; self.units = units
    }

    /// The mapping used without a file: long layout, columns `vm, metric, time, value`, time auto-detected.
    public static let defaultLong = CSVMapping(layout: .long, time: TimeSpec(column: "time", format: .auto))

    /// The keys a mapping file may hold (a misspelt `valid` would otherwise let marker values in unnoticed).
    static let shape = YAMLShape.keys([
        "layout": .any, "delimiter": .any, "header": .any, "time": .flat("column", "format", "unit", "base", "start", "step", "zone"),
        "vm": .flat("column", "name", "from", "prefix"), "metrics": .list(.flat("column", "metric", "unit", "valid")),
        "metric": .flat("name", "unit"), "vm_columns": .any, "vm_prefix": .any, "columns": .flat("vm", "metric", "value"), "units": .any,
    ])

    /// Reads a mapping file; errors name the file and, where YAML knows it, the line. `checked` false: its keys and
    /// values read, but not what its layout and time format need (flags may complete it: `validate` once they have).
    public static func load(path: String, checked: Bool = true) throws(IngestError) -> CSVMapping {
        let mapping = try decodeMappingFile(CSVMapping.self, path: path, shape: shape)
        if checked { try mapping.validate(source: path) }
        return mapping
    }

    /// Checks the parts each layout and time format needs.
    public func validate(source: String) throws(IngestError) {
        func bad(_ message: String) -> IngestError { .badInput(source: source, line: nil, message: message) }
        switch time.format {
        case .implicit:
            guard time.start.flatMap(UTC.parseISO8601) != nil else { throw bad("time format 'implicit' needs 'start' as an ISO-8601 time") }
            guard let step = time.step.flatMap(DurationText.seconds), step > 0 else { throw bad("time format 'implicit' needs a positive 'step' such as 300 or 5m") }
        case .offset:
            guard time.base.flatMap(UTC.parseISO8601) != nil else { throw bad("time format 'offset' needs 'base' as an ISO-8601 time") }
            guard time.column != nil else { throw bad("time format 'offset' needs the time 'column'") }
        case .auto, .epoch, .iso8601:
            if layout != .long { guard time.column != nil else { throw bad("time format '\(time.format.rawValue)' needs the time 'column'") } }
        }
        // A key the time format or the layout does not read is refused, not ignored: whoever gave it meant it to place the
        // times (`--start` with epoch times), or to name the VMs or metrics (`--vm` on a long file had stored its rows
        // under their own VMs).
        func unread(_ key: String, _ flags: String, by kind: String, _ readers: [String], not current: String, hint: String = "") -> IngestError {
            bad("'\(key)'\(flags.isEmpty ? "" : " (\(flags))") is for \(kind) \(readers.map { "'\($0)'" }.joined(separator: " or ")) only, "
                + "not '\(current)'\(hint): remove it or change the \(kind == "layout" ? "layout" : "format")")
        }
        for (key, value, format) in [("base", time.base, TimeFormat.offset), ("start", time.start, .implicit), ("step", time.step, .implicit)]
        where value != nil && format != time.format {
            throw unread("time.\(key)", "--\(key)", by: "time format", [format.rawValue], not: time.format.rawValue)
        }
        if let zone = time.zone {
            guard time.format != .epoch else {
                throw unread("time.zone", "--time-zone", by: "time format", [TimeFormat.iso8601.rawValue, TimeFormat.auto.rawValue, TimeFormat.implicit.rawValue,
                                                                             TimeFormat.offset.rawValue], not: time.format.rawValue)
            }
            guard WeekClock(zone: zone) != nil else { throw bad(WeekClock.unknownZone("time.zone", zone)) }
        }
        let layoutKeys: [(key: String, given: Bool, flags: String, readers: [Layout])] = [
            ("vm", vm != nil, "--vm, --vm-from-filename", [.wideMetrics]), ("metrics", metrics != nil, "", [.wideMetrics]),
            ("metric", metric != nil, "--metric", [.wideVMs]), ("vm_columns", vmColumns != nil, "", [.wideVMs]),
            ("vm_prefix", vmPrefix != nil, "--vm-prefix", [.long, .wideVMs]), ("columns", columns != nil, "", [.long]), ("units", units != nil, "", [.long]),
        ]
        for k in layoutKeys where k.given && !k.readers.contains(layout) {
            throw unread(k.key, k.flags, by: "layout", k.readers.map(\.rawValue), not: layout.rawValue,
                         hint: k.key == "vm_prefix" ? " (a wide-metrics file's VM takes vm.prefix)" : "")
        }
        switch layout {
        case .long:
            break
        case .wideMetrics:
            guard let metrics, !metrics.isEmpty else { throw bad("layout 'wide-metrics' needs 'metrics': a list of {column, metric, unit}") }
            guard let vm, [vm.column != nil, vm.name != nil, vm.from != nil].filter({ $0 }).count == 1 else {
                throw bad("layout 'wide-metrics' needs exactly one of vm.column, vm.name or vm.from: filename")
            }
            if let from = vm.from, from != "filename" { throw bad("vm.from must be 'filename', not '\(from)'") }
            if let name = vm.name, vm.prefix != nil {
                throw bad("'vm.prefix' (--vm-prefix) is for a VM name taken from a column or the file name, not the fixed vm.name '\(name)': write the whole name")
            }
            for m in metrics where m.valid != nil {
                guard let v = m.valid, v.count == 2, v[0] <= v[1] else { throw bad("metric column '\(m.column)': valid must be [min, max]") }
            }
            // A VM's metric takes one value per time: a second column of it would be stored as conflicts, its values dropped.
            for (i, m) in metrics.enumerated() {
                if let first = metrics[..<i].first(where: { $0.metric == m.metric }) {
                    throw bad("metric columns '\(first.column)' and '\(m.column)' both map to the metric '\(m.metric)': a VM's metric takes one value per time "
                              + "(the second column's values would be dropped as conflicts); map each column to its own metric")
                }
            }
        case .wideVMs:
            guard metric != nil else { throw bad("layout 'wide-vms' needs 'metric': {name, unit}") }
        }
        // Each unit given is checked here, so that a wrong one is said of the mapping, not of the file being read (a
        // metric named by the file's name is checked when it is known).
        let bound = (metrics ?? []).map { ("metric column '\($0.column)'", $0.metric, $0.unit) } + (metric.map { [("metric", $0.name, $0.unit)] } ?? [])
            + (units ?? [:]).sorted { $0.key < $1.key }.map { ("units", $0.key, Optional($0.value)) }
        for (place, name, unit) in bound where name != Self.metricFromFilename && unit != nil {
            if case .failure(let e) = MetricBinding.make(metric: name, unit: unit) { throw bad("\(place): \(e)") }
        }
        if let delimiter, Self.delimiterByte(delimiter) == nil, delimiter != "auto" {
            throw bad("delimiter must be auto, ',', ';' or tab, not '\(delimiter)'")
        }
    }

    static func delimiterByte(_ text: String) -> UInt8? {
        switch text {
        case ",": UInt8(ascii: ",")
        case ";": UInt8(ascii: ";")
        case "tab", "\t", "\\t": 9
        case "|": UInt8(ascii: "|")
        default: nil
        }
    }
}


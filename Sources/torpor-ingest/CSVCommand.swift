import ArgumentParser
import Foundation
import Logging
import TorporCore
import TorporIngest

struct CSVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "Ingest CSV files (plain or gzip) of utilization samples.",
        discussion: """
            Without --mapping, files are long format with columns vm, metric, time, value. A mapping file (YAML, see
            sample-data/mappings/) describes other layouts; the flags below override it.
            Time formats: epoch (unit s, ms, us or auto by magnitude), iso8601 (UTC unless an offset is given),
            offset (number of --time-unit from --base), implicit (--start + row × --step), auto (epoch if numeric).
            Duplicate (vm, metric, time): the first stored value wins; repeats and conflicts are counted.
            Each file is one transaction. With several files, every file is tried; the exit code is the worst.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag

    @Option(help: "A mapping file (YAML).")
    var mapping: String?

    @Option(help: "long, wide-metrics or wide-vms (overrides the mapping).")
    var layout: String?

    @Option(help: "auto, ',', ';', '|', tab.")
    var delimiter: String?

    @Option(help: "The VM all rows belong to (wide-metrics; another layout refuses it).")
    var vm: String?

    @Flag(help: "Take the VM name from the file name (wide-metrics; another layout refuses it).")
    var vmFromFilename = false

    @Option(help: "Prefix for VM names taken from the file name or columns (long: the vm column; wide-vms: the column names).")
    var vmPrefix: String?

    @Option(help: "NAME[:UNIT]: the metric of a wide-vms file, or of the only value column of a wide-metrics mapping (a long file names its own); NAME '{filename}' takes it from the file name.")
    var metric: String?

    @Option(help: "The name of the time column.")
    var timeColumn: String?

    @Option(help: "auto, epoch, iso8601, offset or implicit.")
    var timeFormat: String?

    @Option(help: "s, ms, us or auto: the unit of epoch or offset times (Bitbrains' 'Timestamp [ms]' holds seconds).")
    var timeUnit: String?

    @Option(help: "offset format: the time of offset 0 (ISO-8601).")
    var base: String?

    @Option(help: "implicit format: the time of the first row (ISO-8601).")
    var start: String?

    @Option(help: "implicit format: the step between rows (300, 5m).")
    var step: String?

    @Option(help: "ISO-8601 times without a UTC offset (in the time column, --start or --base) are local times of this zone (UTC, or an IANA name such as Europe/Amsterdam); without it they are read as UTC, and said.")
    var timeZone: String?

    @Flag(help: "Print one JSON report per file on stdout (a file that failed: its path, outcome bad-input or failed, line and error).")
    var json = false

    @Argument(help: "CSV files, plain or .gz.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one CSV file") }
        if let layout, CSVMapping.Layout(rawValue: layout) == nil { throw ValidationError("--layout must be long, wide-metrics or wide-vms") }
        if let timeFormat, CSVMapping.TimeFormat(rawValue: timeFormat) == nil { throw ValidationError("--time-format must be auto, epoch, iso8601, offset or implicit") }
        if let timeUnit, CSVMapping.TimeUnit(rawValue: timeUnit) == nil { throw ValidationError("--time-unit must be s, ms, us or auto") }
        if vm != nil && vmFromFilename { throw ValidationError("--vm and --vm-from-filename exclude each other") }
    }

    /// The mapping file (or the default) with the flags applied.
    func effectiveMapping() throws(IngestError) -> CSVMapping {
        var m = try mapping.map { path throws(IngestError) in try CSVMapping.load(path: path, checked: false) } ?? .defaultLong
        if let layout { m.layout = CSVMapping.Layout(rawValue: layout)! }
        if let delimiter { m.delimiter = delimiter }
        if let vm { m.vm = .init(name: vm) }
        if vmFromFilename { m.vm = .init(from: "filename", prefix: m.vm?.prefix) }
        if let vmPrefix {
            if m.layout == .wideMetrics { m.vm = m.vm ?? .init(from: "filename"); m.vm!.prefix = vmPrefix } else { m.vmPrefix = vmPrefix }
        }
        if let metric {
            let parts = metric.split(separator: ":", maxSplits: 1).map(String.init)
            let spec = CSVMapping.MetricSpec(name: parts[0], unit: parts.count > 1 ? parts[1] : nil)
            if m.layout == .wideMetrics {
                guard let columns = m.metrics, columns.count == 1 else {
                    throw .badInput(source: "--metric", line: nil, message: "applies to a wide-metrics mapping with exactly one metric column")
                }
                // Renamed only: the column's values are read as the mapping says (its unit unless one is given, its `valid`).
                // A `valid` range is in the column's unit: another unit would read it wrongly.
                if let unit = spec.unit, let valid = columns[0].valid {
                    // The column's unit: the mapping's, else its metric's canonical one.
                    let mapped = try? MetricBinding.make(metric: columns[0].metric, unit: columns[0].unit).get().unit
                    let given = SourceUnit.named(unit)
                    guard let mapped, let given, mapped.factor == given.factor, mapped.dimension == given.dimension else {
                        throw .badInput(source: "--metric", line: nil, message: "'\(metric)' reads column \(columns[0].column) in \(unit), but the mapping's valid range "
                                        + "\(valid) is in \(mapped?.name ?? columns[0].unit ?? "the column's unit"): give the mapping's unit, or change the mapping")
                    }
                }
                m.metrics = [.init(column: columns[0].column, metric: spec.name, unit: spec.unit ?? columns[0].unit, valid: columns[0].valid)]
            } else {
                m.metric = spec
            }
        }
        if let timeColumn { m.time.column = timeColumn }
        if let timeFormat { m.time.format = CSVMapping.TimeFormat(rawValue: timeFormat)! }
        if let timeUnit { m.time.unit = CSVMapping.TimeUnit(rawValue: timeUnit)! }
        if let base { m.time.base = base }
        if let start { m.time.start = start }
        if let step { m.time.step = step }
        if let timeZone { m.time.zone = timeZone }
        // Checked once, naming what is at fault, before any file is read (each file's ingest would blame itself).
        try m.validate(source: mapping.map { "\($0) with the flags given" } ?? "the flags given")
        return m
    }

    func run() throws {
        try store.refuseAheadOfTheClock(replay)
        let mapping: CSVMapping
        do { mapping = try effectiveMapping() } catch { throw reportFailure(error) }
        let ingester = CSVIngester(store: try store.openStore())
        let now = store.nowSeconds
        try runEach(files.map { file in { try ingester.ingest(path: file, mapping: mapping, now: now) } },
                    json: json, logger: store.logger("torpor.ingest.csv"))
    }
}

import TorporCore

/// What ingesting one source (file, URL, host) did, printed for the operator and kept in the store's `source.report`.
public struct IngestReport: Codable, Equatable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        case ingested
        /// The same content was ingested before; nothing was added.
        case unchanged
    }

    /// The path or URL.
    public var path: String
    /// `csv`, `prometheus`, `icalendar`, `libvirt`.
    public var kind: String
    /// What was read, e.g. `wide-metrics`, `query_range`, `openmetrics`.
    public var format = ""
    public var sha256: String
    public var outcome: Outcome = .ingested
    /// The id of the source record (the earlier one when unchanged).
    public var sourceID: Int64?
    /// CSV only: the delimiter used.
    public var delimiter: String?
    /// Data rows (CSV, header excluded), series (Prometheus) or events (calendars) read.
    public var rows = 0
    /// Cells that held a value.
    public var values = 0
    public var inserted = 0
    /// Values already stored with the same (vm, metric, time) and the same value, or repeated in the file.
    public var duplicates = 0
    /// Values already stored with the same (vm, metric, time) and another value: the stored one is kept.
    public var conflicts = 0
    /// Empty, `NaN`, `NA` or `null` cells: missing data, not stored (never read as zero).
    public var missing = 0
    /// Values outside a mapping's `valid` range: treated as missing.
    public var outOfRange = 0
    /// Rows whose time is earlier than the previous row of the same series.
    public var outOfOrder = 0
    public var firstTime: EpochSeconds?
    public var lastTime: EpochSeconds?
    public var vms: [String] = []
    public var metrics: [String] = []
    public var warnings: [String] = []

    public init(path: String, kind: String, sha256: String) {
        self.path = path
        self.kind = kind
        self.sha256 = sha256
    }

    /// One line for logs and the terminal.
    public var summary: String {
        switch outcome {
        case .unchanged:
            return "\(path): unchanged (same content as source #\(sourceID ?? 0)), nothing added"
        case .ingested where kind == "icalendar":
            // Occurrences in the window none of whose categories torpor knows are skipped (named in a warning): not
            // said as "none in the window".
            let range = firstTime.map { "\(UTC.format($0)) … \(UTC.format(lastTime ?? $0))" } ?? (rows == 0 ? "none in the window" : "none stored")
            let kinds = !format.isEmpty ? format : rows > inserted ? "none with a known category: see the warning" : "no categories"
            return "\(path): \(rows) occurrences, \(inserted) stored (\(kinds)), \(range)"
        case .ingested:
            let range = firstTime.map { "\(UTC.format($0)) … \(UTC.format(lastTime ?? $0))" } ?? "no samples"
            let noun = ["prometheus": "series", "icalendar": "events", "libvirt": "domains"][kind] ?? "rows"
            var text = "\(path): \(rows) \(noun), \(inserted) samples stored for \(vms.count) VM(s) × \(metrics.count) metric(s), \(range)"
            var extras: [String] = []
            if duplicates > 0 { extras.append("\(duplicates) duplicates") }
            if conflicts > 0 { extras.append("\(conflicts) conflicts (first value kept)") }
            if missing > 0 { extras.append("\(missing) missing cells") }
            if outOfRange > 0 { extras.append("\(outOfRange) values out of their valid range, not stored") }
            if outOfOrder > 0 { extras.append("\(outOfOrder) rows out of order") }
            if !extras.isEmpty { text += " (" + extras.joined(separator: ", ") + ")" }
            return text
        }
    }
}

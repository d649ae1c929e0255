/// What a metric measures; values of one dimension are stored in its canonical unit.
public enum Dimension: String, Sendable, Codable, CaseIterable {
    case percent          // 0–100
    case count
    case bytes
    case bytesPerSecond = "bytes/s"
    case perSecond = "1/s"
    case seconds
    case megahertz = "MHz"
    case raw              // a number without a declared physical unit

    /// The unit in which the store keeps values of this dimension.
    public var canonicalUnit: String {
        switch self {
        case .percent: "percent"
        case .count: "count"
        case .bytes: "bytes"
        case .bytesPerSecond: "bytes/s"
        case .perSecond: "1/s"
        case .seconds: "s"
        case .megahertz: "MHz"
        case .raw: "raw"
        }
    }
}

/// A unit a source may use, and how to convert its values to the canonical unit of its dimension.
public struct SourceUnit: Sendable, Equatable {
    public let name: String
    public let dimension: Dimension
    /// canonical value = source value × factor
    public let factor: Double

    /// Every unit a mapping may name. Decimal prefixes are powers of 1000, binary (`Ki`, `Mi`) of 1024.
    public static let all: [SourceUnit] = [
        .init(name: "percent", dimension: .percent, factor: 1),
        .init(name: "%", dimension: .percent, factor: 1),
        .init(name: "fraction", dimension: .percent, factor: 100),
        .init(name: "count", dimension: .count, factor: 1),
        .init(name: "bytes", dimension: .bytes, factor: 1),
        .init(name: "B", dimension: .bytes, factor: 1),
        .init(name: "kB", dimension: .bytes, factor: 1e3),
        .init(name: "KiB", dimension: .bytes, factor: 1024),
        .init(name: "MB", dimension: .bytes, factor: 1e6),
        .init(name: "MiB", dimension: .bytes, factor: 1_048_576),
        .init(name: "GiB", dimension: .bytes, factor: 1_073_741_824),
        .init(name: "bytes/s", dimension: .bytesPerSecond, factor: 1),
        .init(name: "B/s", dimension: .bytesPerSecond, factor: 1),
        .init(name: "kB/s", dimension: .bytesPerSecond, factor: 1e3),
        .init(name: "KiB/s", dimension: .bytesPerSecond, factor: 1024),
        .init(name: "MiB/s", dimension: .bytesPerSecond, factor: 1_048_576),
        .init(name: "bit/s", dimension: .bytesPerSecond, factor: 0.125),
        .init(name: "bytes/min", dimension: .bytesPerSecond, factor: 1.0 / 60),
        .init(name: "bytes/5min", dimension: .bytesPerSecond, factor: 1.0 / 300),
        .init(name: "1/s", dimension: .perSecond, factor: 1),
        .init(name: "1/min", dimension: .perSecond, factor: 1.0 / 60),
        .init(name: "1/5min", dimension: .perSecond, factor: 1.0 / 300),
        .init(name: "s", dimension: .seconds, factor: 1),
        .init(name: "ms", dimension: .seconds, factor: 1e-3),
        .init(name: "MHz", dimension: .megahertz, factor: 1),
        .init(name: "raw", dimension: .raw, factor: 1),
    ]

    public static func named(_ name: String) -> SourceUnit? { all.first { $0.name == name } }
}

/// A metric torpor knows by name, with the dimension its values must have.
public struct MetricKind: Sendable, Equatable {
    public let name: String
    public let dimension: Dimension
    public let summary: String

    /// The metrics the planner understands. Other names are accepted as extra metrics of the unit their source declares.
    public static let known: [MetricKind] = [
        .init(name: "cpu_util", dimension: .percent, summary: "CPU utilization of the allocated vCPUs, 0–100"),
        .init(name: "vcpus", dimension: .count, summary: "allocated vCPUs (0 means the VM was absent)"),
        .init(name: "cpu_mhz", dimension: .megahertz, summary: "CPU used, MHz"),
        .init(name: "cpu_capacity_mhz", dimension: .megahertz, summary: "CPU provisioned, MHz"),
        .init(name: "mem_used", dimension: .bytes, summary: "memory in use"),
        .init(name: "mem_capacity", dimension: .bytes, summary: "memory allocated (0 means the VM was absent)"),
        .init(name: "mem_util", dimension: .percent, summary: "memory in use as a share of its allocation"),
        .init(name: "disk_read", dimension: .bytesPerSecond, summary: "disk read rate"),
        .init(name: "disk_write", dimension: .bytesPerSecond, summary: "disk write rate"),
        .init(name: "disk_util", dimension: .percent, summary: "disk I/O utilization"),
        .init(name: "net_rx", dimension: .bytesPerSecond, summary: "network receive rate"),
        .init(name: "net_tx", dimension: .bytesPerSecond, summary: "network transmit rate"),
        .init(name: "net_rx_util", dimension: .percent, summary: "network receive, normalized 0–100"),
        .init(name: "net_tx_util", dimension: .percent, summary: "network transmit, normalized 0–100"),
        .init(name: "requests", dimension: .perSecond, summary: "requests served per second"),
        .init(name: "latency", dimension: .seconds, summary: "request latency"),
    ]

    public static func named(_ name: String) -> MetricKind? { known.first { $0.name == name } }

    /// Metric names are lower-case identifiers: letters, digits, `_` and `.`, starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 97, first <= 122 else { return false }
        return name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 46 }
    }
}

/// How one source's metric is converted and stored: the stored name, its canonical unit and the conversion factor.
public struct MetricBinding: Sendable, Equatable {
    public let metric: String
    public let unit: SourceUnit

    public var dimension: Dimension { unit.dimension }

    /// Checks that `unit` exists and fits the metric's dimension when the metric is a known one.
    public static func make(metric: String, unit unitName: String?) -> Result<MetricBinding, MetricBindingError> {
        guard MetricKind.isValidName(metric) else { return .failure(.invalidName(metric)) }
        let known = MetricKind.named(metric)
        let name = unitName ?? known?.dimension.canonicalUnit
        guard let name else { return .failure(.unitRequired(metric)) }
        guard let unit = SourceUnit.named(name) else { return .failure(.unknownUnit(metric: metric, unit: name)) }
        if let known, known.dimension != unit.dimension {
            return .failure(.wrongDimension(metric: metric, unit: name, expected: known.dimension))
        }
        return .success(MetricBinding(metric: metric, unit: unit))
    }
}

public enum MetricBindingError: Error, Equatable, CustomStringConvertible {
    case invalidName(String)
    case unitRequired(String)
    case unknownUnit(metric: String, unit: String)
    case wrongDimension(metric: String, unit: String, expected: Dimension)

    public var description: String {
        switch self {
        case .invalidName(let n):
            "metric name '\(n)' is not valid: use lower-case letters, digits, '_' or '.', starting with a letter"
        case .unitRequired(let m):
            "metric '\(m)' is not one torpor knows; give its unit (known metrics: \(MetricKind.known.map(\.name).joined(separator: ", ")))"
        case .unknownUnit(let m, let u):
            "unit '\(u)' of metric '\(m)' is unknown; units: \(SourceUnit.all.map(\.name).joined(separator: ", "))"
        case .wrongDimension(let m, let u, let d):
            "metric '\(m)' is measured in \(d.rawValue), but its unit '\(u)' is not"
        }
    }
}

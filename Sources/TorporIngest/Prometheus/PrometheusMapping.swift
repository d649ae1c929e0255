import Foundation
import TorporCore
import Yams

/// Which Prometheus series become which torpor samples: a small YAML file (see `sample-data/mappings/prometheus.yaml`)
/// or flags. A series' VM is the value of the first of `vm_labels` it carries (e.g. libvirt exporters' `domain`,
/// node exporters' `instance`); its metric is looked up by Prometheus metric name (or, for the HTTP source, by query).
public struct PrometheusMapping: Codable, Equatable, Sendable {
    public var vmLabels: [String]
    public var vmPrefix: String?
    /// Prometheus metric name, or query text → torpor metric.
    public var metrics: [String: Target]

    public struct Target: Codable, Equatable, Sendable {
        public var metric: String
        public var unit: String?

        public init(metric: String, unit: String? = nil) {
            self.metric = metric
            self.unit = unit
        }
    }

    enum CodingKeys: String, CodingKey {
        case vmLabels = "vm_labels"
        case vmPrefix = "vm_prefix"
        case metrics
    }

    public init(vmLabels: [String] = ["domain", "instance"], vmPrefix: String? = nil, metrics: [String: Target] = [:]) {
        self.vmLabels = vmLabels
        self.vmPrefix = vmPrefix
        self.metrics = metrics
    }

    public static func load(path: String) throws(IngestError) -> PrometheusMapping {
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let mapping = try YAMLDecoder().decode(PrometheusMapping.self, from: text)
            for (name, target) in mapping.metrics {
                if case .failure(let e) = MetricBinding.make(metric: target.metric, unit: target.unit) {
                    throw IngestError.badInput(source: path, line: nil, message: "metrics.\(name): \(e)")
                }
            }
            guard !mapping.vmLabels.isEmpty else { throw IngestError.badInput(source: path, line: nil, message: "vm_labels must name at least one label") }
            return mapping
        } catch let error as IngestError {
            throw error
        } catch {
            throw .badInput(source: path, line: nil, message: "not a valid Prometheus mapping: \(error)")
        }
    }
}

/// Turns labelled Prometheus series into samples of a session, applying a mapping and, for files and queries
/// without a metric name, a fixed metric. Series it cannot place are skipped and summarized in warnings.
final class PrometheusSeriesWriter {
    let session: SampleSession
    let mapping: PrometheusMapping
    /// The VM of every series, when the source has no VM label (flag `--vm`).
    let fixedVM: String?
    /// The metric of series whose name the mapping does not know (flag `--metric`).
    let fixedMetric: MetricBinding?

    private var bindings: [String: (id: Int64, factor: Double)?] = [:]
    private var skippedNames: Set<String> = []
    private var seriesWithoutVM = 0
    private var nonFinite = 0
    private var seriesCount = 0

    init(session: SampleSession, mapping: PrometheusMapping, fixedVM: String?, fixedMetric: MetricBinding?) {
        self.session = session
        self.mapping = mapping
        self.fixedVM = fixedVM
        self.fixedMetric = fixedMetric
    }

    /// The torpor metric of a Prometheus metric name: mapped, else the fixed metric, else a known torpor name.
    private func metric(for name: String?) throws -> (id: Int64, factor: Double)? {
        let key = name ?? ""
        if let cached = bindings[key] { return cached }
        var binding: MetricBinding?
        if let name, let target = mapping.metrics[name] {
            binding = try MetricBinding.make(metric: target.metric, unit: target.unit).get()
        } else if let fixedMetric {
            binding = fixedMetric
        } else if let name, MetricKind.named(name) != nil {
            binding = try MetricBinding.make(metric: name, unit: nil).get()
        }
        let resolved = try binding.map { (try session.metricID($0), $0.unit.factor) }
        bindings[key] = resolved
        return resolved
    }

    /// The VM of a series, or nil when it has none of the VM labels and no fixed VM was given.
    private func vm(for labels: [String: String]) throws -> Int64? {
        if let label = mapping.vmLabels.first(where: { labels[$0] != nil }) {
            return try session.vmID((mapping.vmPrefix ?? "") + labels[label]!)
        }
        return try fixedVM.map { try session.vmID($0) }
    }

    /// Stores one series' points (time in seconds, value). NaN is missing; ±Inf is counted and not stored. `position`:
    /// where the series is in a source without lines (JSON: `result[3]`), for error messages.
    func add(name: String?, labels: [String: String], points: [(time: Double, value: Double)], position: String? = nil) throws {
        seriesCount += 1
        session.countRow()
        session.position = position
        defer { session.position = nil }
        guard let metric = try metric(for: name) else {
            skippedNames.insert(name ?? "(no metric name)")
            return
        }
        guard let vm = try vm(for: labels) else {
            seriesWithoutVM += 1
            return
        }
        let series = "series " + (name.map { $0 + " " } ?? "") + PrometheusSeriesWriter.describe(labels)
        for (k, point) in points.enumerated() {
            session.position = position.map { "\($0).values[\(k)]" }
            guard let time = UTC.instant(seconds: point.time) else {
                throw session.fail("time \(point.time) of \(series) is out of range (years 1 to 9999)")
            }
            try session.checkTime(time, what: "of \(series)")
            session.noteRow(series: vm << 24 | metric.id, time: time)
            if point.value.isNaN {
                session.countMissing()
            } else if point.value.isInfinite {
                nonFinite += 1
                session.countOutOfRange()
            } else {
                try session.emit(vm: vm, metric: metric.id, time: time, value: point.value * metric.factor)
            }
        }
    }

    /// Adds the summary warnings; call once after the last series.
    func finish() {
        if !skippedNames.isEmpty {
            let names = skippedNames.sorted()
            session.warn("\(names.count) metric name(s) not mapped, their series skipped: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : "")")
        }
        if seriesWithoutVM > 0 {
            session.warn("\(seriesWithoutVM) series carry none of the VM labels \(mapping.vmLabels.joined(separator: ", ")) and were skipped (give --vm or vm_labels)")
        }
        if nonFinite > 0 { session.warn("\(nonFinite) infinite values not stored") }
    }

    static func describe(_ labels: [String: String]) -> String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }
}

import Foundation
import TorporCore
import TorporYAML

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

    /// The keys a mapping file may hold (the keys of `metrics` are metric names or queries).
    static let shape = YAMLShape.keys(["vm_labels": .any, "vm_prefix": .any, "metrics": .named(.flat("metric", "unit"))])

    /// Reads a mapping file; a key it does not know is refused with its line.
    public static func load(path: String) throws(IngestError) -> PrometheusMapping {
        let mapping = try decodeMappingFile(PrometheusMapping.self, path: path, shape: shape)
        for (name, target) in mapping.metrics {
            if case .failure(let e) = MetricBinding.make(metric: target.metric, unit: target.unit) {
                throw IngestError.badInput(source: path, line: nil, message: "metrics.\(name): \(e)")
            }
        }
        guard !mapping.vmLabels.isEmpty else { throw IngestError.badInput(source: path, line: nil, message: "vm_labels must name at least one label") }
        return mapping
    }
}

/// Turns labelled Prometheus series into samples of a session, applying a mapping and, for files and queries
/// without a metric name, a fixed metric. Series it cannot place are skipped and summarized in warnings. Two series
/// that would land on one VM and metric (a domain of that name on two hosts, two metric names mapped alike) are bad
/// input: their values would be merged, the first stored winning.
final class PrometheusSeriesWriter {
    let session: SampleSession
    let mapping: PrometheusMapping
    /// The VM of every series, when the source has no VM label (flag `--vm`).
    let fixedVM: String?
    /// The metric of series whose name the mapping does not know (flag `--metric`), for a source where those series
    /// carry one metric name (or none): a second such name is bad input.
    let fixedMetric: MetricBinding?

    private var bindings: [String: Binding?] = [:]
    /// A torpor metric as stored: its id, the factor to its canonical unit, its name, and whether it is a percentage.
    private typealias Binding = (id: Int64, factor: Double, name: String, percent: Bool)
    /// The metric name `fixedMetric` was given to, and where it was first seen.
    private var nameWithFixedMetric: (name: String?, position: String)?
    /// The series stored on each VM and metric (`vm << 24 | metric`), in the order first met: their labels with
    /// `__name__`, where each first is, and their times. Two with other labels whose stretches of time overlap (a domain
    /// of one name on two hosts) would be merged into one series; one after the other (a VM that migrated, and back)
    /// they are one VM's. Checked once all are read (`finish`): a series' stretches need all of its times.
    private var seriesSeen: [Int64: [SeenSeries]] = [:]

    private struct SeenSeries {
        var labels: [String: String]
        var vm: String, metric: String
        /// Where it was first met: as said in messages, and the reader's line or place then.
        var here: String, line: Int?, position: String?
        var times: [EpochSeconds] = []
    }
    private var skippedNames: Set<String> = []
    private var seriesWithoutVM = 0
    private var nonFinite = 0
    /// Values under zero of a physical metric, and the first of them in words; percentages read as 0 %.
    private var negative = 0, firstNegative: String?, nearZero = 0
    /// How far under 0 % (exclusive: -1, an exporter's marker, is no reading) a percentage is read as 0 %: the arithmetic
    /// of a query on an idle VM.
    static let percentSlack = 1.0
    /// Every series met (name and labels): the report counts series, though an exposition file gives each sample alone.
    private var seriesMet: Set<[String: String]> = []

    init(session: SampleSession, mapping: PrometheusMapping, fixedVM: String?, fixedMetric: MetricBinding?) {
        self.session = session
        self.mapping = mapping
        self.fixedVM = fixedVM
        self.fixedMetric = fixedMetric
    }

    /// Where the series being read is: its line (exposition text) or its place (JSON: `result[3]`).
    private var here: String { session.line.map { "line \($0)" } ?? session.position ?? "the source" }

    /// The torpor metric of a Prometheus metric name: mapped, else the fixed metric, else a known torpor name. The fixed
    /// metric goes to one name only: given to a second, it would merge two metrics into one (an exporter's info gauge
    /// of 1 read as 1 % CPU).
    private func metric(for name: String?) throws -> Binding? {
        let key = name ?? ""
        if let cached = bindings[key] { return cached }
        var binding: MetricBinding?
        if let name, let target = mapping.metrics[name] {
            binding = try MetricBinding.make(metric: target.metric, unit: target.unit).get()
        } else if let fixedMetric {
            if let first = nameWithFixedMetric {
                throw session.fail("--metric \(fixedMetric.metric) is for a source of one metric, but \(Self.describe(name: name)) and "
                                   + "\(Self.describe(name: first.name)) (\(first.position)) both have no mapping: map each name to its metric "
                                   + "(`metrics:` of a mapping file), or read a file or query of one metric")
            }
            nameWithFixedMetric = (name, here)
            binding = fixedMetric
        } else if let name, MetricKind.named(name) != nil {
            binding = try MetricBinding.make(metric: name, unit: nil).get()
        }
        let resolved = try binding.map { (id: try session.metricID($0), factor: $0.unit.factor, name: $0.metric, percent: $0.dimension == .percent) }
        bindings[key] = resolved
        return resolved
    }

    /// The VM of a series, or nil when it has none of the VM labels and no fixed VM was given. A label with an empty
    /// value is absent, as Prometheus has it.
    private func vm(for labels: [String: String]) throws -> (id: Int64, name: String)? {
        let prefix = mapping.vmPrefix ?? ""
        if let label = mapping.vmLabels.first(where: { labels[$0]?.isEmpty == false }), let raw = labels[label] {
            return (id: try session.vmID(raw, prefix: prefix), name: prefix + raw)
        }
        return try fixedVM.map { (id: try session.vmID($0), name: $0) }
    }

    /// Whether a metric name is one Prometheus' conventions give a running total: `_total` (counters), `_count`, `_sum`
    /// and `_bucket` (histograms' and summaries' parts), `_created`.
    static func namedAsRunningTotal(_ name: String?) -> Bool {
        guard let name else { return false }
        return ["_total", "_count", "_sum", "_bucket", "_created"].contains { name.hasSuffix($0) }
    }

    /// Stores one series' points (time in seconds, value). NaN is missing; ±Inf is counted and not stored. `position`:
    /// where the series is in a source without lines (JSON: `result[3]`), for error messages. `type`: the family's type
    /// the exposition text gave (nil: a query's answer). A counter, a running total, is bad input once mapped (stored as a
    /// level, 10^6 CPU-seconds would read as a load; a query's `rate()` of it is a level); without a type (a query's
    /// answer, an untyped family) a name of a running total (`namedAsRunningTotal`) says it is one.
    func add(name: String?, labels: [String: String], points: [(time: Double, value: Double)], position: String? = nil, type: String? = nil) throws {
        var identity = labels
        if let name { identity["__name__"] = name }
        if seriesMet.insert(identity).inserted { session.countRow() }
        session.position = position
        defer { session.position = nil }
        guard let metric = try metric(for: name) else {
            skippedNames.insert(name ?? "(no metric name)")
            return
        }
        // A query's answer carries no TYPE: a series still named as a running total is one (rate() and other functions
        // drop the name).
        let typed = type.map { !["untyped", "unknown"].contains($0) } ?? false
        if type == "counter" || (!typed && Self.namedAsRunningTotal(name)) {
            throw session.fail("\(Self.describe(name: name)) is a counter (a running total, not a level\(typed ? "" : ", by its name")), mapped to \(metric.name): "
                               + "ingest a query's rate() of it instead (torpor-ingest prometheus --query 'rate(\(name ?? "")[5m])'), or leave it unmapped")
        }
        guard let vm = try vm(for: labels) else {
            seriesWithoutVM += 1
            return
        }
        let key = vm.id << 24 | metric.id
        // One entry per series, whose times grow with every add of it: an exposition file gives each sample alone, and
        // two hosts' series scraped at other seconds meet only as stretches of time.
        let seen: Int
        if let index = seriesSeen[key]?.firstIndex(where: { $0.labels == identity }) {
            seen = index
        } else {
            seriesSeen[key, default: []].append(SeenSeries(labels: identity, vm: vm.name, metric: metric.name, here: here,
                                                           line: session.line, position: session.position))
            seen = seriesSeen[key]!.count - 1
        }
        let series = "series " + (name.map { $0 + " " } ?? "") + PrometheusSeriesWriter.describe(labels)
        for (k, point) in points.enumerated() {
            session.position = position.map { "\($0).values[\(k)]" }
            guard let time = UTC.instant(seconds: point.time) else {
                throw session.fail("time \(point.time) of \(series) is out of range (years 1 to 9999)")
            }
            seriesSeen[key]![seen].times.append(time)
            try session.checkTime(time, what: "of \(series)")
            session.noteRow(series: vm.id << 24 | metric.id, time: time)
            let value = point.value * metric.factor   // in the metric's canonical unit
            if point.value.isNaN {
                session.countMissing()
            } else if point.value.isInfinite {
                nonFinite += 1
                session.countOutOfRange()
            } else if metric.percent && value > -Self.percentSlack && value < 0 {
                // A query's arithmetic on an idle VM (rate()'s extrapolation: 100 * (1 - idle) at -0.03): a reading of 0 %.
                nearZero += 1
                try session.emit(vm: vm.id, metric: metric.id, time: time, value: 0)
            } else if session.isImpossiblyNegative(value, metric: metric.id) {
                // Further under zero: no reading, not stored (missing, never idle), where a CSV's negative marker is bad input.
                negative += 1
                firstNegative = firstNegative ?? "\(String(format: "%g", point.value)) of \(series) at \(UTC.format(time))"
                session.countOutOfRange()
            } else {
                try session.emit(vm: vm.id, metric: metric.id, time: time, value: value)
            }
        }
    }

    /// Bad input: a series (`labels` with `__name__`) that lands on the VM and metric of an earlier, different one. The
    /// label sets come last: a long message is cut short.
    private func seriesMergeError(_ labels: [String: String], first: (labels: [String: String], position: String), vm: String, metric: String) -> IngestError {
        let differing = Set(labels.keys).union(first.labels.keys).filter { labels[$0] != first.labels[$0] }.sorted()
        return session.fail("this series and the one at \(first.position) both map to VM \(vm), metric \(metric), over the same time, and differ in "
                            + "\(differing.count == 1 ? "label" : "labels") \(differing.map { "'\($0)'" }.joined(separator: ", ")): their values "
                            + "would be merged. Give a mapping that tells them apart (vm_labels naming that label, another "
                            + "metric per name) or select one in the query: \(Self.describe(labels)) and \(Self.describe(first.labels))")
    }

    /// Checks that no two series of one VM and metric overlap in time, then adds the summary warnings; call once after
    /// the last series.
    func finish() throws {
        var handoffs: [String] = []
        for series in seriesSeen.values where series.count > 1 {
            let stretches = series.map { Self.stretches(of: $0.times) }
            for i in 1..<series.count {
                for j in 0..<i where stretches[i].contains(where: { a in stretches[j].contains { Self.overlap($0, series[j].times, a, series[i].times) } }) {
                    (session.line, session.position) = (series[i].line, series[i].position)
                    throw seriesMergeError(series[i].labels, first: (series[j].labels, series[j].here), vm: series[i].vm, metric: series[i].metric)
                }
                for j in 0..<i where stretches[i].contains(where: { a in stretches[j].contains { $0.overlaps(a) } }) {
                    handoffs.append("\(series[i].vm) \(series[i].metric) (\(series[j].here) and \(series[i].here))")
                }
            }
        }
        if !handoffs.isEmpty {
            handoffs.sort()
            session.warn("\(handoffs.count) VM metric(s) of two series that share up to \(Self.handoffReach / 60) minutes where one ends and the other "
                         + "begins (a migration: a rate() goes on for its window after the switch), the first value stored kept there: "
                         + handoffs.prefix(5).joined(separator: "; ") + (handoffs.count > 5 ? "; …" : ""))
        }
        if !skippedNames.isEmpty {
            let names = skippedNames.sorted()
            session.warn("\(names.count) metric name(s) not mapped, their series skipped: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : "")")
        }
        if seriesWithoutVM > 0 {
            session.warn("\(seriesWithoutVM) series carry none of the VM labels \(mapping.vmLabels.joined(separator: ", ")) and were skipped (give --vm or vm_labels)")
        }
        if nonFinite > 0 { session.warn("\(nonFinite) infinite values not stored") }
        if nearZero > 0 {
            session.warn("\(nearZero) percentage\(nearZero == 1 ? "" : "s") under 0 % by less than \(Self.percentSlack) point read as 0 % (a query's arithmetic on an idle VM: rate()'s extrapolation)")
        }
        if let firstNegative {
            session.warn("\(negative) negative value\(negative == 1 ? "" : "s") of a metric that cannot be under zero not stored (missing, not idle), "
                         + "the first \(firstNegative): a query's arithmetic (rate()'s extrapolation), or a wrong query?")
        }
    }

    /// A series' times as stretches: sorted, a time within twice the series' closest spacing of the one before
    /// continues a stretch, a later one starts another (a VM that left this host and came back has two stretches, not
    /// one over its time elsewhere).
    static func stretches(of times: [EpochSeconds]) -> [ClosedRange<EpochSeconds>] {
        let sorted = Array(Set(times)).sorted()
        guard let first = sorted.first else { return [] }
        let closest = zip(sorted, sorted.dropFirst()).map { $1 - $0 }.min() ?? 0
        var result = [first...first]
        for t in sorted.dropFirst() {
            if t - result[result.count - 1].upperBound <= 2 * closest {
                result[result.count - 1] = result[result.count - 1].lowerBound...t
            } else {
                result.append(t...t)
            }
        }
        return result
    }

    /// Whether two stretches of two series overlap: share a time, or are two lone scrapes (a series of one time each)
    /// less than `scrapeReach` apart (two hosts' scrapes seconds apart). A lone scrape after another series' stretch (a
    /// VM that moved in a query's last step) does not, nor a handoff (`isHandoff`). `aTimes`, `bTimes`: each series'
    /// times.
    static func overlap(_ a: ClosedRange<EpochSeconds>, _ aTimes: [EpochSeconds], _ b: ClosedRange<EpochSeconds>, _ bTimes: [EpochSeconds]) -> Bool {
        a.overlaps(b) && !isHandoff(a, aTimes, b, bTimes)
            || a.lowerBound == a.upperBound && b.lowerBound == b.upperBound && abs(a.lowerBound - b.lowerBound) < scrapeReach
    }

    /// Whether two stretches that share times are a migration's handoff: one began before the other and ended at most
    /// `handoffReach` after the other began, which goes on after it (a rate() of the source host's series goes on for
    /// its window after the switch, while the destination's has begun), each with two times or more alone (a few
    /// scrapes of two hosts interleaved are two copies read together). Its shared times keep the first value stored,
    /// said: the whole fleet's ingest is not refused each hour for a day (the range) after every migration.
    static func isHandoff(_ a: ClosedRange<EpochSeconds>, _ aTimes: [EpochSeconds], _ b: ClosedRange<EpochSeconds>, _ bTimes: [EpochSeconds]) -> Bool {
        let ((first, firstTimes), (second, secondTimes)) = a.lowerBound <= b.lowerBound ? ((a, aTimes), (b, bTimes)) : ((b, bTimes), (a, aTimes))
        guard first.lowerBound < second.lowerBound, first.upperBound < second.upperBound, first.upperBound - second.lowerBound <= handoffReach else { return false }
        return Set(firstTimes.filter { first.contains($0) && $0 < second.lowerBound }).count >= 2
            && Set(secondTimes.filter { second.contains($0) && $0 > first.upperBound }).count >= 2
    }

    /// How close two lone scrapes of one VM and metric must be to be one scrape of two series: a scrape interval.
    static let scrapeReach: EpochSeconds = 60
    /// How long a migration's two series may share: a 5-minute rate() window and a scrape interval more.
    static let handoffReach: EpochSeconds = 6 * 60

    /// A metric name for messages, quoted; series without one say so.
    static func describe(name: String?) -> String { name.map { "'\($0)'" } ?? "series without a metric name" }

    static func describe(_ labels: [String: String]) -> String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }
}

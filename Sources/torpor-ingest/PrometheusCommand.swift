import ArgumentParser
import Foundation
import TorporCore
import TorporIngest

struct PrometheusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prometheus",
        abstract: "Ingest Prometheus data: query_range JSON files, exposition / OpenMetrics files, or the live HTTP API.",
        discussion: """
            Files: JSON query results (full response or the bare result array) or text exposition / OpenMetrics
            (detected from the content). NaN is missing data (not stored); ±Inf is counted and not stored;
            histograms and summaries are skipped with a warning. Exposition samples without a timestamp are taken
            when the file last changed (the scrape that wrote it; at --now when a replay's is earlier).
            Live: --prometheus-url URL --query Q [--query Q …] --range 7d --step 5m reads [end − range, end], end the
            last step a minute before now (a point on scrapes still arriving reads low), split into chunks within the server's 11,000-point limit; a server that is down, slow or answers an
            error gives an error and nothing is stored.
            A series' VM is the value of its first --vm-label (default: domain, then instance); its metric comes from
            the mapping (Prometheus metric name or query → torpor metric), else --metric, else a torpor metric of
            the same name. Other series are skipped and listed in a warning. --metric is for a source of one metric
            name: unmapped series of a second name are bad input. Two series landing on one VM and metric (a domain
            name on two hosts) are bad input naming the label that tells them apart: their values would be merged.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag

    @Option(help: "A mapping file (YAML): vm_labels, vm_prefix, metrics.")
    var mapping: String?

    @Option(name: .customLong("vm-label"), help: "A label naming the VM (repeatable; first present wins).")
    var vmLabels: [String] = []

    @Option(help: "The VM of series that carry none of the VM labels.")
    var vm: String?

    @Option(help: "NAME[:UNIT]: the metric of series the mapping does not name (a source of one metric name).")
    var metric: String?

    @Option(help: "The base URL of a Prometheus server, e.g. http://127.0.0.1:9090.")
    var prometheusURL: String?

    @Option(help: "A PromQL query (repeatable), with --prometheus-url.")
    var query: [String] = []

    @Option(help: "How far back from --now to read, e.g. 1h, 7d.")
    var range = "1h"

    @Option(help: "The resolution, e.g. 5m.")
    var step = "5m"

    @Option(help: "Seconds to wait for each HTTP answer.")
    var timeout: Double = 30

    @Flag(help: "Print one JSON report per source on stdout (a source that failed: its path, outcome bad-input or failed, line and error).")
    var json = false

    @Argument(help: "Files: .json query results, .prom / .txt exposition or OpenMetrics.")
    var files: [String] = []

    func validate() throws {
        if prometheusURL == nil {
            guard !files.isEmpty else { throw ValidationError("give files, or --prometheus-url with --query") }
            guard query.isEmpty else { throw ValidationError("--query needs --prometheus-url") }
        } else {
            guard !query.isEmpty else { throw ValidationError("--prometheus-url needs at least one --query") }
            guard files.isEmpty else { throw ValidationError("give files or --prometheus-url, not both") }
            guard prometheusURL.flatMap(URL.init(string:))?.scheme?.hasPrefix("http") == true else {
                throw ValidationError("--prometheus-url must be an http(s) URL")
            }
        }
        guard let r = DurationText.seconds(range), r > 0 else { throw ValidationError("--range '\(range)' is not a duration such as 7d") }
        guard let s = DurationText.seconds(step), s > 0, s <= r else { throw ValidationError("--step '\(step)' must be a duration no longer than --range") }
        if let metric, case .failure(let e) = binding(metric) { throw ValidationError("--metric: \(e)") }
    }

    private func binding(_ text: String) -> Result<MetricBinding, MetricBindingError> {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        return MetricBinding.make(metric: parts[0], unit: parts.count > 1 ? parts[1] : nil)
    }

    /// The mapping file (or the default) with the flags applied.
    func effectiveMapping() throws(IngestError) -> PrometheusMapping {
        var m = try mapping.map { path throws(IngestError) in try PrometheusMapping.load(path: path) } ?? PrometheusMapping()
        if !vmLabels.isEmpty { m.vmLabels = vmLabels }
        return m
    }

    func run() throws {
        try store.refuseAheadOfTheClock(replay)
        let mapping: PrometheusMapping
        do { mapping = try effectiveMapping() } catch { throw reportFailure(error) }
        var ingester = PrometheusIngester(store: try store.openStore(), mapping: mapping)
        ingester.fixedVM = vm
        ingester.fixedMetric = try? metric.map(binding)?.get()
        let logger = store.logger("torpor.ingest.prometheus")
        let now = store.nowSeconds
        var sources: [() throws -> IngestReport] = files.map { file in { try ingester.ingestFile(path: file, now: now) } }
        if let prometheusURL {
            var client = PrometheusClient(baseURL: URL(string: prometheusURL)!)
            client.timeout = timeout
            sources = query.map { q in {
                try ingester.ingestQuery(client: client, query: q, range: DurationText.seconds(range)!, step: DurationText.seconds(step)!, now: now)
            } }
        }
        try runEach(sources, json: json, logger: logger)
    }
}

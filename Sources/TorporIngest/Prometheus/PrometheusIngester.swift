import Foundation
import TorporCore
import TorporHash
import TorporStore

/// Ingests Prometheus data: `/api/v1/query_range` JSON files, text exposition / OpenMetrics files, and the live
/// HTTP API. One transaction per file or per query run; the same content twice adds nothing.
public struct PrometheusIngester {
    public let store: Store
    public let mapping: PrometheusMapping
    /// The VM of every series that carries none of the VM labels.
    public var fixedVM: String?
    /// The metric of series whose name the mapping does not know (e.g. `rate(...)` results have none), for a source
    /// whose unmapped series carry one metric name: a second unmapped name is bad input (it would merge two metrics).
    public var fixedMetric: MetricBinding?
    /// As `CSVIngester.futureTolerance`: later samples are bad input, those after `now` and its clock skew are not stored.
    public var futureTolerance: Int64 = 86_400

    /// `fixedVM` and `fixedMetric` as a source's identity reads them: read with other flags, the same content is new.
    private var flags: String { "\(fixedVM ?? "") \(fixedMetric.map { "\($0)" } ?? "")" }

    public init(store: Store, mapping: PrometheusMapping = PrometheusMapping()) {
        self.store = store
        self.mapping = mapping
    }

    /// A file: JSON query results (detected by a leading `{` or `[`) or exposition text (OpenMetrics when it ends
    /// with `# EOF`). Exposition samples without a timestamp are taken when the file last changed (the scrape that
    /// wrote it), or at `now` when a replay's now is earlier: the same text written again is another scrape, not
    /// "unchanged", and a textfile whose writer stopped is not read as new scrapes of its old values.
    public func ingestFile(path: String, now: EpochSeconds) throws(IngestError) -> IngestReport {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .badInput(source: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        let isJSON = PrometheusIngester.looksLikeJSON(data)
        let takenAt = !isJSON && PrometheusIngester.hasUndatedSample(data) ? min(now, FileChange.time(of: path) ?? now) : nil
        let sha256 = SourceTransaction.identity(contentSHA256: SHA256.hexDigest(of: data), readWith: mapping,
                                                fileName: flags, takenAt: takenAt)
        return try SourceTransaction.run(store: store, kind: "prometheus", source: path,
                                         location: URL(fileURLWithPath: path).standardizedFileURL.path, sha256: sha256,
                                         now: now, futureTolerance: futureTolerance) { session in
            let writer = PrometheusSeriesWriter(session: session, mapping: mapping, fixedVM: fixedVM, fixedMetric: fixedMetric)
            if isJSON {
                session.report.format = "query_range"
                let answer = try QueryResultReader.read(from: data, fail: { session.fail($0, line: nil) })
                try Self.checkComplete(answer.warnings, session: session, live: false)
                for (i, s) in answer.series.enumerated() {
                    try writer.add(name: s.name, labels: s.labels, points: s.points, position: "result[\(i)]")
                }
            } else {
                if let takenAt, now - takenAt > Self.staleScrape {
                    session.warn("its samples without a timestamp are taken when the file last changed, \(UTC.format(takenAt)), "
                                 + DurationText.format(now - takenAt) + " before now: has its writer stopped?")
                }
                try readExposition(data, session: session, writer: writer, takenAt: takenAt ?? now)
            }
            try writer.finish()
        }
    }

    /// Checks the `warnings` of a successful answer. PromQL's own annotations ("PromQL info: …", "PromQL warning: …":
    /// a query that may not mean what it says) are said. Any other warning is a partial answer (Thanos, Cortex or Mimir
    /// when a store or replica did not answer): refused, nothing stored, since an aggregate over the series that did
    /// answer reads lower than it is and the first value stored is kept: a file is bad input (export it again), a live
    /// query a failure (tried again by the next run; until then the hours are missing, never idle).
    static func checkComplete(_ warnings: [String], session: SampleSession, live: Bool, at position: String? = nil) throws {
        let annotations = warnings.filter { $0.hasPrefix("PromQL info:") || $0.hasPrefix("PromQL warning:") }
        if !annotations.isEmpty { session.warn((position.map { "\($0): " } ?? "") + "Prometheus says: " + annotations.joined(separator: "; ")) }
        let partial = warnings.filter { !annotations.contains($0) }
        guard !partial.isEmpty else { return }
        let message = (position.map { "\($0): " } ?? "") + "the answer may be partial (\(partial.count) warning(s): "
            + partial.prefix(3).joined(separator: "; ") + (partial.count > 3 ? "; …" : "")
            + "): not stored, as an aggregate of the series that answered reads lower than it is"
        if live { throw IngestError.failure(source: session.source, message: message + "; the next run asks again") }
        throw session.fail(message + "; export the query again once the answer is whole", line: nil)
    }

    /// Whether exposition text has a sample without a timestamp, which is taken when the file last changed: the same
    /// text written again (the next scrape of an unchanged textfile) is new data. Stops at the first such sample; text that
    /// does not parse says no, its ingest fails anyway.
    static func hasUndatedSample(_ data: Data) -> Bool {
        struct Undated: Error {}
        guard let text = String(data: data, encoding: .utf8) else { return false }
        var parser = ExpositionParser(format: ExpositionParser.detect(Substring(text)))
        do {
            try parser.parse(text) { if $0.timestamp == nil { throw Undated() } }
        } catch {
            return error is Undated
        }
        return false
    }

    /// Whether a text-format time (its milliseconds read as seconds) is before 2000 but would be after it in seconds:
    /// OpenMetrics' unit, so a cut OpenMetrics file (no `# EOF`, read as text) would file its samples in 1970.
    static func readsAsSeconds(_ time: Double) -> Bool {
        let y2000 = 946_684_800.0
        return time < y2000 && time * 1000 >= y2000
    }

    /// JSON starts with `[`, or `{` followed by `"` or `}`; exposition text may start with `{label="…"}`.
    static func looksLikeJSON(_ data: Data) -> Bool {
        let body = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]   // a UTF-8 BOM is not content
        let significant = body.lazy.filter { ![9, 10, 13, 32].contains($0) }.prefix(2)
        guard let first = significant.first else { return false }
        if first == UInt8(ascii: "[") { return true }
        return first == UInt8(ascii: "{") && [UInt8(ascii: "\""), UInt8(ascii: "}")].contains(significant.dropFirst().first ?? 0)
    }

    /// How long a live query's newest point waits for its scrapes to arrive.
    static let querySettle: Int64 = 60

    /// How long before now an undated scrape's file may have last changed without a warning.
    static let staleScrape: Int64 = 15 * 60

    /// Exposition text into `writer`; samples without a timestamp are taken at `takenAt`.
    private func readExposition(_ data: Data, session: SampleSession, writer: PrometheusSeriesWriter, takenAt: EpochSeconds) throws {
        guard let text = String(data: data, encoding: .utf8) else { throw session.fail("not UTF-8 text", line: nil) }
        var parser = ExpositionParser(format: ExpositionParser.detect(Substring(text)))
        let format = parser.format
        session.report.format = format.rawValue
        var skippedFamilies: [String: String] = [:]
        do {
            try parser.parse(text) { sample in
                session.line = sample.line
                if ["histogram", "summary", "gaugehistogram", "gauge_histogram"].contains(sample.type) {
                    skippedFamilies[sample.family] = sample.type
                    return
                }
                if format == .text, let t = sample.timestamp, Self.readsAsSeconds(t) {
                    throw ExpositionError(line: sample.line, message: "timestamp \(Int64((t * 1000).rounded())) is \(UTC.format(Int64(t.rounded(.down)))) in "
                        + "milliseconds, the text format's unit; if it is seconds, this is OpenMetrics cut before its '# EOF'")
                }
                try writer.add(name: sample.name, labels: Dictionary(sample.labels, uniquingKeysWith: { a, _ in a }),
                               points: [(sample.timestamp ?? Double(takenAt), sample.value)], type: sample.type)
            }
        } catch let error as ExpositionError {
            throw session.fail(error.message, line: error.line)
        }
        if session.report.rows == 0 && skippedFamilies.isEmpty { session.warn("no samples: the file is empty or has only comments") }
        if !skippedFamilies.isEmpty {
            session.warn("histograms and summaries are not demand signals and were skipped: " +
                         skippedFamilies.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))
        }
    }

    /// A live query over [now − range, now] at `step`, chunked within the server's point limit; all chunks are fetched
    /// before anything is written, so a server that fails mid-way leaves nothing behind.
    public func ingestQuery(client: PrometheusClient, query: String, range: Int64, step: Int64, now: EpochSeconds) throws(IngestError) -> IngestReport {
        // The newest step `querySettle` back: a point evaluated on scrapes still arriving (remote write, a federation's
        // lag) could read low, and the first value stored is kept; the next run takes it once settled.
        let settled = now - Self.querySettle, end = settled - settled % step
        let answer = try client.queryRange(query, start: end - range, end: end, step: step)
        let chunks = answer.chunks
        let source = "\(client.baseURL.absoluteString) query=\(query)"
        let hash = SHA256()
        hash.update(Array(source.utf8))
        for chunk in chunks { hash.update(Array(chunk.body)) }
        // Read with another mapping or VM or metric flag (a corrected --vm-prefix), the same answer is a new source.
        let sha256 = SourceTransaction.identity(contentSHA256: hash.finalizeHex(), readWith: mapping,
                                                fileName: flags)
        return try SourceTransaction.run(store: store, kind: "prometheus", source: source, location: source,
                                         sha256: sha256, now: now, futureTolerance: futureTolerance) { session in
            session.report.format = "query_range (\(chunks.count) chunk(s))"
            if let narrowed = answer.narrowed { session.warn(narrowed + ": raise its limit if every run needs this") }
            // A query the mapping names decides the metric of all its series, whatever their names.
            let byQuery = try mapping.metrics[query].map { try MetricBinding.make(metric: $0.metric, unit: $0.unit).get() }
            let writer = PrometheusSeriesWriter(session: session, mapping: mapping, fixedVM: fixedVM, fixedMetric: byQuery ?? fixedMetric)
            for chunk in chunks {
                // An answer that cannot be read (cut short, a proxy's page) is the server's fault, not the query's: a
                // failure (exit 1) the next run asks again, not bad input.
                let answer = try QueryResultReader.read(from: chunk.body, fail: {
                    IngestError.failure(source: source, message: "chunk \(UTC.format(chunk.start)): the server's answer cannot be read: \($0)")
                })
                try Self.checkComplete(answer.warnings, session: session, live: true, at: "chunk \(UTC.format(chunk.start))")
                for (i, s) in answer.series.enumerated() {
                    try writer.add(name: byQuery == nil ? s.name : nil, labels: s.labels, points: s.points,
                                   position: "chunk \(UTC.format(chunk.start)): result[\(i)]")
                }
            }
            try writer.finish()
        }
    }
}

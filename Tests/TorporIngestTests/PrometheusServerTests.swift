import Foundation
import Testing
import TorporCore
import TorporExecute
@testable import TorporIngest
import TorporStore
import TorporTestSupport

/// A real Prometheus server on 127.0.0.1, backfilled with a real NAB series through
/// `promtool tsdb create-blocks-from openmetrics`, queried through the live HTTP source.
final class PrometheusServer {
    let url: URL
    let dir: String
    private let process: Process

    /// The series each test compares with: ec2_cpu_utilization_24ae8d (14 days at 5 minutes).
    static let series = Paths.traces + "/nab/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"

    /// `limits`: more of the server's flags, e.g. its `--query.max-samples`.
    init(limits: [String] = []) throws {
        dir = try ScratchDirectory.make("torpor-prom")
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        var openMetrics = "# TYPE cpu_util gauge\n"
        for line in try sourceLines(Self.series).dropFirst() {
            let parts = line.split(separator: ",")
            openMetrics += "cpu_util{domain=\"nab-24ae8d\",job=\"libvirt\"} \(parts[1]) \(UTC.parseISO8601(String(parts[0]))!)\n"
        }
        openMetrics += Self.libvirtExporter
        openMetrics += "# EOF\n"
        try openMetrics.write(toFile: dir + "/series.om", atomically: true, encoding: .utf8)
        try Self.run("/usr/bin/promtool", ["tsdb", "create-blocks-from", "openmetrics", dir + "/series.om", dir + "/data"])
        try "global: {scrape_interval: 1h}\n".write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = try freePort()
        url = URL(string: "http://127.0.0.1:\(port)")!
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                             "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"] + limits
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        try waitUntilReady()
    }

    /// The libvirt exporter's series (github.com/inovex/prometheus-libvirt-exporter: every domain listed, running or
    /// not) over the trace's last two hours, a minute apart: `web-on` running, 2 vCPUs using one second of CPU a second
    /// (50 %); `web-off` shut off (state 5), its CPU time 0 and still.
    static var libvirtExporter: String {
        let end = PrometheusServerTests.end - 60, times = stride(from: end - 7200, through: end, by: 60)
        var text = "# TYPE libvirt_domain_info_cpu_time_seconds counter\n"
        for (domain, perSecond) in [("web-on", 1.0), ("web-off", 0.0)] {
            for t in times { text += "libvirt_domain_info_cpu_time_seconds_total{domain=\"\(domain)\",instance=\"kvm1:9177\"} \(Double(t - end + 7200) * perSecond + 1000 * perSecond) \(t)\n" }
        }
        for (family, values) in [("libvirt_domain_info_virtual_cpus", [("web-on", 2), ("web-off", 2)]), ("libvirt_domain_info_state", [("web-on", 1), ("web-off", 5)])] {
            text += "# TYPE \(family) gauge\n"
            for (domain, value) in values { for t in times { text += "\(family){domain=\"\(domain)\",instance=\"kvm1:9177\"} \(value) \(t)\n" } }
        }
        return text
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func waitUntilReady() throws {
        for _ in 0..<100 {
            if let data = try? Data(contentsOf: url.appendingPathComponent("-/ready")), String(decoding: data, as: UTF8.self).contains("Ready") { return }
            guard process.isRunning else { throw ServerError("prometheus exited with status \(process.terminationStatus)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw ServerError("prometheus did not become ready at \(url)")
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ServerError("\(tool) \(arguments.joined(separator: " ")) failed: \(p.terminationStatus)") }
    }

    struct ServerError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let listener = try Listener()
    return listener.port
}

/// A socket that accepts connections into its backlog and never answers: a server that hangs.
final class Listener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 8) == 0 else { close(fd); throw PrometheusServer.ServerError("cannot listen on 127.0.0.1") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// Answers each of the next `count` requests with `body` (HTTP 200, JSON), on a thread of its own: a server that
    /// says what a real one may (a Thanos partial answer) but the test's Prometheus does not.
    func answer(_ count: Int, with body: String) {
        let fd = self.fd
        Thread.detachNewThread {
            for _ in 0..<count {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                var request = [UInt8](repeating: 0, count: 65_536), received = 0
                while received < request.count, !String(decoding: request[..<received], as: UTF8.self).contains("\r\n\r\n") {
                    let n = request.withUnsafeMutableBytes { read(connection, $0.baseAddress! + received, $0.count - received) }
                    if n <= 0 { break }
                    received += n
                }
                let response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
                _ = response.withUnsafeBytes { write(connection, $0.baseAddress!, $0.count) }
                close(connection)
            }
        }
    }
}

@Suite(.serialized) struct PrometheusServerTests {
    /// A minute after the trace's last point (14:25): a live query's newest point is a minute settled.
    static let end = UTC.epoch(year: 2014, month: 2, day: 28, hour: 14, minute: 26)

    @Test func storedValuesEqualTheSourceAcrossChunks() throws {
        let server = try PrometheusServer()
        let s = try Scratch()
        var client = PrometheusClient(baseURL: server.url)
        client.maxPointsPerChunk = 1000   // 4,032 points → 5 chunks
        let report = try PrometheusIngester(store: s.store)
            .ingestQuery(client: client, query: "cpu_util", range: 14 * 86_400, step: 300, now: Self.end)
        #expect(report.format == "query_range (5 chunk(s))")
        var source: [EpochSeconds: Double] = [:]
        for line in try sourceLines(PrometheusServer.series).dropFirst() {
            let parts = line.split(separator: ",")
            source[UTC.parseISO8601(String(parts[0]))!] = Double(parts[1])!
        }
        #expect(report.inserted == source.count, "every point once: no gap and no overlap at chunk boundaries")
        #expect(report.duplicates == 0)
        for (t, v) in source { #expect(try s.value(vm: "nab-24ae8d", metric: "cpu_util", time: t) == v) }

        // The same query again: nothing to add.
        #expect(try PrometheusIngester(store: s.store).ingestQuery(client: client, query: "cpu_util", range: 14 * 86_400, step: 300, now: Self.end).outcome == .unchanged)
        // The same answer read with a corrected mapping is not "unchanged": it is stored under the names it now gives.
        let prefixed = PrometheusIngester(store: s.store, mapping: PrometheusMapping(vmPrefix: "edge-"))
        let again = try prefixed.ingestQuery(client: client, query: "cpu_util", range: 14 * 86_400, step: 300, now: Self.end)
        #expect(again.outcome != .unchanged && again.inserted == source.count, "\(again)")
        let first = try #require(source.keys.min())
        #expect(try s.value(vm: "edge-nab-24ae8d", metric: "cpu_util", time: first) == source[first])
    }

    /// A server whose `--query.max-samples` is below a whole chunk (a large fleet's default-sized one) answers 422 "too
    /// many samples": the chunk is asked again in halves, and the rest of the range at that size, every point stored
    /// once and the narrowing said. A server that refuses even one step refuses the query: nothing stored.
    @Test func aChunkTooBigForTheServerIsAskedInHalves() throws {
        let server = try PrometheusServer(limits: ["--query.max-samples=1500"])
        let s = try Scratch()
        let client = PrometheusClient(baseURL: server.url)
        let report = try PrometheusIngester(store: s.store).ingestQuery(client: client, query: "cpu_util", range: 14 * 86_400, step: 300, now: Self.end)
        // 4,033 points refused, then 2,017, then asked 1,009 at a time.
        #expect(report.format == "query_range (4 chunk(s))", "\(report)")
        #expect(report.warnings.contains { $0.contains("refused 2017 points at once (query processing would load too many samples") && $0.contains("asked in chunks of 1009") }, "\(report.warnings)")
        let source = try sourceLines(PrometheusServer.series).dropFirst().map { $0.split(separator: ",") }
        #expect(report.inserted == source.count && report.duplicates == 0)
        for parts in source { #expect(try s.value(vm: "nab-24ae8d", metric: "cpu_util", time: UTC.parseISO8601(String(parts[0]))!) == Double(parts[1])!) }

        // The exporter's six series at one step are six samples: more than two.
        let tiny = try PrometheusServer(limits: ["--query.max-samples=2"])
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: PrometheusClient(baseURL: tiny.url), query: #"{__name__=~"libvirt_.*"}"#,
                                                                    range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.isBadInput == true && e?.description.contains("HTTP 422: query processing would load too many samples") == true, "\(String(describing: e))")
        #expect(try s.count("SELECT count(*) FROM source") == 1)
    }

    /// The shipped query (pipelines/torpor.env's, as the hourly job reads it, and sample-data's mapping) gives a running
    /// domain's utilization and nothing for a shut-off one, which the exporter lists with a CPU time of 0 that a rate
    /// reads as 0 %: a VM powered off (or its stale copy on another host) stored as idle.
    @Test func theShippedQueryGivesNothingForADomainThatIsNotRunning() throws {
        let env = try String(contentsOfFile: Paths.repository + "/pipelines/torpor.env", encoding: .utf8)   // one line, in single quotes
        let shipped = try #require(env.split(separator: "\n").first { $0.hasPrefix("TORPOR_PROMETHEUS_QUERY='") }?.dropFirst(25).dropLast()).description
        #expect(try String(contentsOfFile: Paths.repository + "/sample-data/mappings/prometheus-libvirt.yaml", encoding: .utf8).contains("\"\(shipped)\": {metric: cpu_util"))
        let server = try PrometheusServer()
        let s = try Scratch()
        var ingester = PrometheusIngester(store: s.store, mapping: PrometheusMapping(vmLabels: ["domain"]))
        ingester.fixedMetric = try MetricBinding.make(metric: "cpu_util", unit: "percent").get()   // as ingest-sources.sh's --metric
        let report = try ingester.ingestQuery(client: PrometheusClient(baseURL: server.url), query: shipped, range: 3600, step: 300, now: Self.end)
        #expect(report.vms == ["web-on"] && report.inserted > 0, "\(report)")
        #expect(try s.count("SELECT count(*) FROM sample WHERE abs(value - 50) > 0.001") == 0, "web-on at 50 %, web-off nothing")
    }

    /// The instant query the executor's wake-on-demand signal uses.
    @Test func instantQueriesGiveTheSeriesValueAtThatTime() throws {
        let server = try PrometheusServer()
        let client = PrometheusClient(baseURL: server.url)
        let line = try sourceLines(PrometheusServer.series).dropFirst().last!.split(separator: ",")
        let (time, value) = (UTC.parseISO8601(String(line[0]))!, Double(line[1])!)
        #expect(try client.queryInstant(#"cpu_util{domain="nab-24ae8d"}"#, at: time) == [value])
        #expect(try client.queryInstant("scalar(cpu_util) * 0 + 7", at: time) == [7])
        #expect(try client.queryInstant(#"cpu_util{domain="absent"}"#, at: time).isEmpty)
        let e = #expect(throws: IngestError.self) { _ = try client.queryInstant("cpu_util{", at: time) }
        #expect(e?.isBadInput == true)
    }

    /// The executor's wake-on-demand signal against the server: a value over the threshold wants the VM; a query
    /// with no series wants nothing, but lets no hibernation start (missing is not idle); a VM no rule covers is not asked.
    @Test func theWakeOnSignalReadsTheServer() throws {
        let server = try PrometheusServer()
        let line = try sourceLines(PrometheusServer.series).dropFirst().last!.split(separator: ",")
        let (time, value) = (UTC.parseISO8601(String(line[0]))!, Double(line[1])!)
        let signal = PrometheusDemandSignal(client: PrometheusClient(baseURL: server.url),
                                            rules: [.init(selector: "web-01", query: #"cpu_util{domain="nab-24ae8d"}"#),
                                                    .init(selector: "web-02", query: #"cpu_util{domain="absent"}"#)], threshold: value - 1)
        #expect(try signal.demand(vm: "web-01", labels: [:], at: time) == #"demand signal: cpu_util{domain="nab-24ae8d"} = \#(value) > \#(value - 1)"#)
        #expect(try signal.holdsSleep(vm: "web-01", labels: [:], at: time) != nil)
        #expect(try signal.demand(vm: "web-02", labels: [:], at: time) == nil)
        #expect(try signal.holdsSleep(vm: "web-02", labels: [:], at: time) == #"demand signal: cpu_util{domain="absent"} has no value now (missing is not idle)"#)
        #expect(!signal.covers(vm: "db-01", labels: [:]) && signal.covers(vm: "web-02", labels: [:]))
    }

    @Test func aQueryTheServerRefusesIsBadInputAndStoresNothing() throws {
        let server = try PrometheusServer()
        let s = try Scratch()
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: PrometheusClient(baseURL: server.url), query: "cpu_util{", range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.isBadInput == true)
        #expect(e?.description.contains("HTTP 400") == true)
        #expect(try s.count() == 0)
    }

    @Test func aServerThatIsDownIsARuntimeFailure() throws {
        let s = try Scratch()
        let port = try freePort()
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: PrometheusClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!),
                                                                    query: "cpu_util", range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.isBadInput == false)
        #expect(e?.description.contains("did not answer") == true)
        #expect(try s.count("SELECT count(*) FROM source") == 0)
    }

    /// A live answer that cannot be read (HTTP 200 with a body cut short, a proxy's page) is the server's fault: a
    /// runtime failure the next run asks again (it was bad input, exit 2, as if the query were wrong), nothing stored.
    @Test func anAnswerThatCannotBeReadIsARuntimeFailure() throws {
        let s = try Scratch()
        let server = try Listener()
        server.answer(1, with: #"{"status":"succ"#)
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: PrometheusClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!),
                                                                    query: "cpu_util", range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.isBadInput == false && e?.description.contains("the server's answer cannot be read") == true, "\(String(describing: e))")
        #expect(try s.count("SELECT count(*) FROM source") == 0)
    }

    /// A live answer that may be partial (Thanos: a store did not answer) is a failure, retried by the next run:
    /// nothing stored, since an aggregate of the series that answered reads lower than it is and would be kept.
    @Test func aPartialLiveAnswerIsAFailureAndStoresNothing() throws {
        let server = try Listener()
        server.answer(1, with: #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"domain":"web-01"},"values":[[1393597200,"5"]]}]},"warnings":["No StoreAPIs matched for this query"]}"#)
        let s = try Scratch()
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: PrometheusClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!), query: "cpu_util", range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.isBadInput == false && e?.description.contains("the answer may be partial (1 warning(s): No StoreAPIs matched for this query)") == true
                && e?.description.contains("the next run asks again") == true, "\(String(describing: e))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0)
    }

    @Test func aServerThatHangsTimesOut() throws {
        let hanging = try Listener()
        let s = try Scratch()
        var client = PrometheusClient(baseURL: URL(string: "http://127.0.0.1:\(hanging.port)")!)
        client.timeout = 1
        let e = #expect(throws: IngestError.self) {
            _ = try PrometheusIngester(store: s.store).ingestQuery(client: client, query: "cpu_util", range: 3600, step: 300, now: Self.end)
        }
        #expect(e?.description.contains("did not answer") == true)
        #expect(try s.count() == 0)
    }
}

import Foundation
import Testing
import TorporCore
@testable import TorporIngest
import TorporStore

private let prometheusData = Paths.sharedData + "/prometheus"

/// Prometheus files from ../shared/data/prometheus: query results, exposition text, OpenMetrics, fuzz corpora.
@Suite struct PrometheusFileTests {
    func ingester(_ s: Scratch, vm: String? = nil, metric: String? = nil, labels: [String] = ["domain", "instance"]) -> PrometheusIngester {
        var ingester = PrometheusIngester(store: s.store, mapping: PrometheusMapping(vmLabels: labels))
        ingester.fixedVM = vm
        ingester.fixedMetric = try? metric.map { try MetricBinding.make(metric: $0, unit: "raw").get() }
        return ingester
    }

    @Test func aRealTwoDayUpDumpIsStoredPointForPoint() throws {
        let s = try Scratch()
        let dir = prometheusData + "/query_api/prometheus-api-client-python"
        let files = try Paths.files(in: dir, suffix: ".json")
        #expect(files.count == 8)
        var expected: [String: [EpochSeconds: Double]] = [:]   // read independently: instance → time → value
        for file in files {
            let result = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [[String: Any]]
            for series in result {
                let instance = (series["metric"] as! [String: String])["instance"]!
                for pair in series["values"] as! [[Any]] {
                    let t = EpochSeconds(((pair[0] as! NSNumber).doubleValue).rounded(.down))
                    if expected[instance, default: [:]][t] == nil { expected[instance, default: [:]][t] = Double(pair[1] as! String)! }
                }
            }
            let report = try ingester(s, metric: "up").ingestFile(path: file, now: replayNow)
            #expect(report.format == "query_range")
            #expect(report.outcome == .ingested)
        }
        #expect(try s.count() == expected.values.map(\.count).reduce(0, +))
        #expect(try s.count("SELECT count(*) FROM vm") == expected.count)
        for (instance, points) in expected.prefix(3) {
            for (t, v) in points.prefix(20) { #expect(try s.value(vm: instance, metric: "up", time: t) == v) }
        }
        // Again: same content, nothing added.
        #expect(try ingester(s, metric: "up").ingestFile(path: files[0], now: replayNow).outcome == .unchanged)
    }

    @Test func nanIsMissingInfinityIsNotStoredAndUnlabelledSeriesNeedAVM() throws {
        let s = try Scratch()
        let dir = prometheusData + "/query_api/grafana_testdata/"
        let nan = try ingester(s, vm: "grafana", metric: "requests_seen").ingestFile(path: dir + "range_nan.result.json", now: replayNow)
        #expect(nan.missing == 3 && nan.inserted == 0)
        let inf = try ingester(s, vm: "grafana", metric: "requests_seen").ingestFile(path: dir + "range_infinity.result.json", now: replayNow)
        #expect(inf.outOfRange == 3 && inf.inserted == 0)
        #expect(inf.warnings.contains { $0.contains("infinite") })
        let unlabelled = try ingester(s, metric: "requests_seen").ingestFile(path: dir + "range_missing.result.json", now: replayNow)
        #expect(unlabelled.inserted == 0)
        #expect(unlabelled.warnings.contains { $0.contains("none of the VM labels") })
        // The same file with a fixed VM: its two series (job prometheus and other) would be merged into that VM's one.
        let s2 = try Scratch()
        let path = dir + "range_missing.result.json"
        let merged = #expect(throws: IngestError.self) { _ = try ingester(s2, vm: "grafana", metric: "requests_seen").ingestFile(path: path, now: replayNow) }
        let expected: String = "\(path): result[1]: this series and the one at result[0] both map to VM grafana, metric requests_seen, over the same "
            + "time, and differ in label 'job': their values would be merged. Give a mapping that tells them apart "
            + "(vm_labels naming that label, another metric per name) or select one in the query: "
            + "{__name__=\"go_goroutines\",job=\"other\"} and {__name__=\"go_goroutines\",job=\"prometheus\"}"
        #expect(merged?.description == expected, "\(String(describing: merged))")
        #expect(try s2.count() == 0 && s2.count("SELECT count(*) FROM vm") == 0)
        // Each job its VM: the gaps stay gaps (3 + 2 points, times from the file).
        let byJob = try ingester(s2, metric: "requests_seen", labels: ["job"]).ingestFile(path: path, now: replayNow)
        #expect(byJob.inserted == 5 && byJob.vms == ["other", "prometheus"])
        #expect(try s2.value(vm: "prometheus", metric: "requests_seen", time: 1_641_889_533) == 21)
        #expect(try s2.value(vm: "prometheus", metric: "requests_seen", time: 1_641_889_535) == nil)
        #expect(try s2.value(vm: "other", metric: "requests_seen", time: 1_641_889_532) == 11)
    }

    /// A domain of one name on two hosts (0 % on one, 92–95 % on the other) is bad input naming both series and the
    /// label that tells them apart, nothing stored, not 0 % stored with conflict warnings; a mapping that tells them
    /// apart stores both.
    @Test func twoSeriesOnOneVMAndMetricAreBadInput() throws {
        let s = try Scratch()
        let path = try s.write("two-hosts.json", #"{"status":"success","data":{"resultType":"matrix","result":["#
            + #"{"metric":{"domain":"web1","instance":"hostA"},"values":[[1700000000,"0"],[1700000300,"0"]]},"#
            + #"{"metric":{"domain":"web1","instance":"hostB"},"values":[[1700000000,"92"],[1700000300,"95"]]}]}}"#)
        let percent = try MetricBinding.make(metric: "cpu_util", unit: "percent").get()
        var byDomain = ingester(s)
        byDomain.fixedMetric = percent
        let e = #expect(throws: IngestError.self) { _ = try byDomain.ingestFile(path: path, now: replayNow) }
        let expected: String = "\(path): result[1]: this series and the one at result[0] both map to VM web1, "
            + "metric cpu_util, over the same time, and differ in label 'instance': their values would be merged. Give a mapping that "
            + "tells them apart (vm_labels naming that label, another metric per name) or select one in the query: "
            + "{domain=\"web1\",instance=\"hostB\"} and {domain=\"web1\",instance=\"hostA\"}"
        #expect(e?.isBadInput == true && e?.description == expected, "\(String(describing: e))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0 && s.count("SELECT count(*) FROM vm") == 0)
        var byHost = ingester(s, labels: ["instance"])
        byHost.fixedMetric = percent
        let r = try byHost.ingestFile(path: path, now: replayNow)
        #expect(r.inserted == 4 && r.conflicts == 0)
        #expect(try s.value(vm: "hostA", metric: "cpu_util", time: 1_700_000_300) == 0)
        #expect(try s.value(vm: "hostB", metric: "cpu_util", time: 1_700_000_300) == 95)
        // A VM that migrated from hostA to hostB within the query's range: one series after the other, one VM's.
        let migrated = try s.write("migrated.json", #"{"status":"success","data":{"resultType":"matrix","result":["#
            + #"{"metric":{"domain":"web2","instance":"hostA"},"values":[[1700000000,"3"],[1700000300,"4"]]},"#
            + #"{"metric":{"domain":"web2","instance":"hostB"},"values":[[1700000600,"5"],[1700000900,"6"]]}]}}"#)
        let moved = try byDomain.ingestFile(path: migrated, now: replayNow)
        #expect(moved.inserted == 4 && moved.vms == ["web2"])
        #expect(try s.value(vm: "web2", metric: "cpu_util", time: 1_700_000_000) == 3 && s.value(vm: "web2", metric: "cpu_util", time: 1_700_000_900) == 6)
        // And back to hostA (an evacuation for maintenance), in one dump: hostA's two stretches do not cover hostB's.
        let back = try s.write("back.prom", "# TYPE cpu_util gauge\n"
            + (0..<3).map { "cpu_util{domain=\"web4\",instance=\"hostA\"} 1 \(1_700_000_000 + $0 * 300)000\n" }.joined()
            + (3..<6).map { "cpu_util{domain=\"web4\",instance=\"hostB\"} 2 \(1_700_000_000 + $0 * 300)000\n" }.joined()
            + (6..<9).map { "cpu_util{domain=\"web4\",instance=\"hostA\"} 3 \(1_700_000_000 + $0 * 300)000\n" }.joined())
        let returned = try byDomain.ingestFile(path: back, now: replayNow)
        #expect(returned.inserted == 9 && returned.vms == ["web4"], "\(returned)")
        #expect(returned.rows == 2 && returned.summary.contains("2 series"), "a series of nine samples, each a line, is one: \(returned.summary)")
        // One sample on hostA before it left (no spacing of its own to go by), and a sample out of order: still one VM's.
        let once = try s.write("once.prom", "# TYPE cpu_util gauge\n"
            + "cpu_util{domain=\"web5\",instance=\"hostA\"} 1 1700000000000\n"
            + (1..<4).map { "cpu_util{domain=\"web5\",instance=\"hostB\"} 2 \(1_700_000_000 + $0 * 300)000\n" }.joined()
            + [6, 5, 7].map { "cpu_util{domain=\"web5\",instance=\"hostA\"} 3 \(1_700_000_000 + $0 * 300)000\n" }.joined())
        #expect(try byDomain.ingestFile(path: once, now: replayNow).inserted == 7)
        // The same two hosts in exposition text with timestamps (a dump, a backfill), scraped seconds apart: each sample
        // is a line of its own, and the series overlap as stretches of time, not at any one time. Bad input too.
        let dump = try s.write("two-hosts.prom", "# TYPE cpu_util gauge\n"
            + "cpu_util{domain=\"web3\",instance=\"hostA\"} 0 1700000000000\ncpu_util{domain=\"web3\",instance=\"hostB\"} 92 1700000007000\n"
            + "cpu_util{domain=\"web3\",instance=\"hostA\"} 0 1700000300000\ncpu_util{domain=\"web3\",instance=\"hostB\"} 95 1700000307000\n")
        let interleaved = #expect(throws: IngestError.self) { _ = try byDomain.ingestFile(path: dump, now: replayNow) }
        #expect(interleaved?.isBadInput == true && interleaved?.description.hasPrefix("\(dump):3: this series and the one at line 2 both map to VM web3, metric cpu_util") == true,
                "\(String(describing: interleaved))")
        #expect(try s.count("SELECT count(*) FROM vm WHERE name = 'web3'") == 0)
        // A federation dump of one scrape per host, seconds apart: a lone time stands for a scrape interval, so these
        // overlap too (as points alone they had not, and both hosts' values were merged).
        let single = try s.write("one-scrape.prom", "# TYPE cpu_util gauge\n"
            + "cpu_util{domain=\"web6\",instance=\"hostA\"} 0 1700000003000\ncpu_util{domain=\"web6\",instance=\"hostB\"} 50 1700000007000\n")
        let merged = #expect(throws: IngestError.self) { _ = try byDomain.ingestFile(path: single, now: replayNow) }
        #expect(merged?.description.contains("both map to VM web6, metric cpu_util") == true, "\(String(describing: merged))")
        // A VM that moved in a one-minute query's last step: hostB's lone point a step after hostA's last is its history.
        let lastStep = try s.write("moved.json", #"{"status":"success","data":{"resultType":"matrix","result":["#
            + #"{"metric":{"domain":"web7","instance":"hostA"},"values":[[1700000000,"3"],[1700000060,"4"],[1700000120,"5"]]},"#
            + #"{"metric":{"domain":"web7","instance":"hostB"},"values":[[1700000180,"6"]]}]}}"#)
        #expect(try byDomain.ingestFile(path: lastStep, now: replayNow).inserted == 4)
        // A migration in a rate() query: the source's rate goes on for its window after the switch, so the two series
        // share a step where one ends and the other begins. One VM's, the first value stored kept there, said (it had
        // refused the whole answer, every VM's, each hour for the day the range held the migration).
        func points(_ host: String, _ steps: [Int], _ value: String) -> String {
            #"{"metric":{"domain":"web8","instance":"\#(host)"},"values":["# + steps.map { #"[\#(1_700_000_000 + $0 * 300),"\#(value)"]"# }.joined(separator: ",") + "]}"
        }
        let handoff = try s.write("handoff.json", #"{"status":"success","data":{"resultType":"matrix","result":["#
            + points("hostA", [0, 1, 2, 3], "3") + "," + points("hostB", [3, 4, 5], "7") + "]}}")
        let handedOver = try byDomain.ingestFile(path: handoff, now: replayNow)
        #expect(handedOver.inserted == 6 && handedOver.conflicts == 1 && handedOver.vms == ["web8"], "\(handedOver)")
        #expect(handedOver.warnings.contains { $0.hasPrefix("1 VM metric(s) of two series that share up to 6 minutes where one ends and the other begins") },
                "\(handedOver.warnings)")
        #expect(try s.value(vm: "web8", metric: "cpu_util", time: 1_700_000_900) == 3)
        // Sharing longer than a rate window and a scrape (two copies for 15 minutes), or a few scrapes each: two copies.
        for (name, a, b) in [("copies.json", [0, 1, 2, 3, 4, 5], [3, 4, 5, 6, 7]), ("short.json", [0, 1], [1, 2])] {
            let path = try s.write(name, #"{"status":"success","data":{"resultType":"matrix","result":["#
                + points("hostA", a, "3") + "," + points("hostB", b, "7") + "]}}")
            let e = #expect(throws: IngestError.self) { _ = try byDomain.ingestFile(path: path, now: replayNow) }
            #expect(e?.description.contains("both map to VM web8, metric cpu_util") == true, "\(name): \(String(describing: e))")
        }
    }

    /// `--metric` is for a source of one metric name: on a libvirt exporter's scrape, whose unmapped names are dozens
    /// (a block device's info gauge of 1 became 1 % CPU), it is bad input naming two of them, and nothing is stored.
    /// A Prometheus or calendar mapping with a key torpor does not know is refused with its line, as a CSV mapping is:
    /// `unti: fraction` had left cpu_util's unit percent (a 50 % CPU stored as 0.5 %), `vm_prefx` the names unprefixed.
    @Test func aMisspeltMappingKeyIsRefusedWithItsLine() throws {
        let s = try Scratch()
        for (text, named) in [("vm_labels: [domain]\nmetrics:\n  cpu_ratio: {metric: cpu_util, unti: fraction}\n", ":3: 'metrics.cpu_ratio.unti': unknown key; expected one of metric, unit"),
                              ("vm_prefx: dc1-\nvm_labels: [domain]\n", ":1: 'vm_prefx': unknown key; expected one of metrics, vm_labels, vm_prefix")] {
            let path = try s.write("prometheus.yaml", text)
            let error = #expect(throws: IngestError.self) { _ = try PrometheusMapping.load(path: path) }
            #expect(error?.isBadInput == true && error?.description == path + named, "\(String(describing: error))")
        }
        let calendar = try s.write("calendar.yaml", "categories:\n  release: demand\ndefault_categroy: keep-awake\n")
        let error = #expect(throws: IngestError.self) { _ = try CalendarMapping.load(path: calendar) }
        #expect(error?.isBadInput == true && error?.description == calendar + ":3: 'default_categroy': unknown key; expected one of categories, default_category, zone",
                "\(String(describing: error))")
        // A value it cannot take is one line naming the key (not a decoder's dump); an unknown zone is said of the mapping.
        for (text, named) in [("categories:\n  bananas: sleepy\n", "'categories.bananas': "), ("zone: Mars/Olympus\n", "zone 'Mars/Olympus' is not UTC nor a time zone")] {
            let path = try s.write("calendar.yaml", text)
            let error = #expect(throws: IngestError.self) { _ = try CalendarMapping.load(path: path) }
            #expect(error?.isBadInput == true && error?.description.hasPrefix(path + ": " + named) == true && error?.description.contains("DecodingError") == false,
                    "\(String(describing: error))")
        }
        #expect(try CalendarMapping.load(path: try s.write("good.yaml", "categories:\n  release: demand\ndefault_category: keep-awake\nzone: Europe/Amsterdam\n"))
                == CalendarMapping(categories: ["release": .demand], defaultCategory: .keepAwake, zone: "Europe/Amsterdam"))
    }

    @Test func theFixedMetricIsForASourceOfOneMetricName() throws {
        let s = try Scratch()
        let file = prometheusData + "/exposition/libvirt_exporter/inovex__README_sample_1.prom"
        var libvirt = PrometheusIngester(store: s.store, mapping: try PrometheusMapping.load(path: Paths.mappings + "/prometheus-libvirt.yaml"))
        libvirt.fixedMetric = try MetricBinding.make(metric: "cpu_util", unit: "percent").get()
        let e = #expect(throws: IngestError.self) { _ = try libvirt.ingestFile(path: file, now: replayNow) }
        let expected: String = "\(file):2: --metric cpu_util is for a source of one metric, but "
            + "'libvirt_domain_block_stats_read_bytes_total' and 'libvirt_domain_block_stats_info' (line 1) both have no mapping: "
            + "map each name to its metric (`metrics:` of a mapping file), or read a file or query of one metric"
        #expect(e?.isBadInput == true && e?.description == expected, "\(String(describing: e))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0)
        // A file of one metric name: the flag gives it its metric.
        let one = try s.write("one.prom", "# TYPE cpu gauge\ncpu{domain=\"a\"} 12.5\ncpu{domain=\"b\"} 87.5\n")
        let r = try libvirt.ingestFile(path: one, now: replayNow)
        #expect(r.inserted == 2 && r.warnings.isEmpty)
        #expect(try s.value(vm: "b", metric: "cpu_util", time: replayNow) == 87.5)
    }

    /// Points after --now (beyond 5 minutes of clock skew) are not stored, and counted.
    @Test func pointsAfterNowAreNotStored() throws {
        let s = try Scratch()
        let now: EpochSeconds = 1_700_000_000
        let path = try s.write("ahead.json", #"[{"metric":{"__name__":"cpu_util","domain":"web-01"},"values":[[1700000000,"5"],[1700000300,"6"],[1700003600,"7"]]}]"#)
        let r = try PrometheusIngester(store: s.store).ingestFile(path: path, now: now)
        #expect(r.inserted == 2 && r.warnings == ["1 value(s) after --now 2023-11-14T22:13:20Z + 5m of clock skew not stored; an ingest at a later --now stores them"])
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: 1_700_003_600) == nil)
    }

    /// A successful answer with warnings (Thanos or Mimir when a store did not answer) may be partial: an aggregate of
    /// the series that answered reads lower than it is, and would be kept, so it is refused; PromQL's own annotations
    /// are only said.
    @Test func aPartialAnswerIsRefusedAndAnnotationsSaid() throws {
        let s = try Scratch()
        func answer(_ warnings: String) -> String {
            #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"cpu_util","domain":"web-01"},"values":[[1700000000,"5"]]}]},"warnings":["# + warnings + "]}"
        }
        let partial = try s.write("partial.json", answer(#""receive-1: context deadline exceeded""#))
        let error = #expect(throws: IngestError.self) { _ = try PrometheusIngester(store: s.store).ingestFile(path: partial, now: 1_700_000_000) }
        #expect(error?.isBadInput == true && error?.description.contains("the answer may be partial (1 warning(s): receive-1: context deadline exceeded)") == true,
                "\(String(describing: error))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0)
        let annotated = try s.write("annotated.json", answer(#""PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"cpu_util\"""#))
        let r = try PrometheusIngester(store: s.store).ingestFile(path: annotated, now: 1_700_000_000)
        #expect(r.inserted == 1 && r.warnings == [#"Prometheus says: PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "cpu_util""#], "\(r.warnings)")
    }

    @Test func theAPIDocumentationExamples() throws {
        let s = try Scratch()
        let dir = prometheusData + "/query_api/prometheus_docs/"
        let matrix = try ingester(s, labels: ["instance"]).ingestFile(path: dir + "api_md_query_range_example_matrix.json", now: replayNow)
        #expect(matrix.inserted == 0, "'up' is not a torpor metric and not mapped")
        #expect(matrix.warnings.contains { $0.contains("not mapped") && $0.contains("up") })
        let mapped = PrometheusIngester(store: s.store, mapping: PrometheusMapping(vmLabels: ["instance"], metrics: ["up": .init(metric: "up", unit: "raw")]))
        let again = try mapped.ingestFile(path: dir + "api_md_query_range_example_matrix.json", now: replayNow)
        #expect(again.outcome == .ingested && again.inserted == 6, "the same content with a mapping that now maps 'up' is read again")
        #expect(try mapped.ingestFile(path: dir + "api_md_query_range_example_matrix.json", now: replayNow).outcome == .unchanged,
                "the same content read the same way: skipped")
        let s2 = try Scratch()
        let r = try PrometheusIngester(store: s2.store, mapping: PrometheusMapping(vmLabels: ["instance"], metrics: ["up": .init(metric: "up", unit: "raw")]))
            .ingestFile(path: dir + "api_md_query_range_example_matrix.json", now: replayNow)
        #expect(r.inserted == 6 && r.vms == ["localhost:9091", "localhost:9090"].sorted())
        #expect(try s2.value(vm: "localhost:9090", metric: "up", time: 1_435_781_430) == 1)
    }

    @Test func libvirtExporterScrapesMapToVMs() throws {
        let s = try Scratch()
        let mapping = try PrometheusMapping.load(path: Paths.mappings + "/prometheus-libvirt.yaml")
        let r = try PrometheusIngester(store: s.store, mapping: mapping)
            .ingestFile(path: prometheusData + "/exposition/libvirt_exporter/inovex__README_sample_1.prom", now: replayNow)
        #expect(r.format == "text")
        #expect(r.vms.contains("instance-0001e06e"))
        #expect(try s.value(vm: "instance-0001e06e", metric: "vcpus", time: replayNow) == 4)
        #expect(try s.value(vm: "instance-0001e06e", metric: "mem_capacity", time: replayNow) == 1.7179869184e10)
        let vm = try s.store.read { try VMRepository.all(in: $0) }.first { $0.name == "instance-0001e06e" }
        #expect(vm?.vcpus == 4 && vm?.memoryBytes == 17_179_869_184)
    }

    /// Every valid exposition file parses; histograms and summaries are skipped with a warning. (Their metric names are
    /// not torpor's: their series are skipped and listed. A `--metric` would be bad input where a file has several.)
    @Test(arguments: try PrometheusFileTests.validExpositionFiles())
    func validExpositionParses(_ file: String) throws {
        let s = try Scratch()
        let outcome = Result { try ingester(s, vm: "vm").ingestFile(path: file, now: replayNow) }
        // Known refusals of valid-format files, each for a documented reason:
        switch ((file as NSString).lastPathComponent, outcome) {
        case (_, .success(let report)):
            #expect(report.outcome == .ingested)
        case ("family-switch.prom.txt", .failure(let error)):
            #expect("\(error)".contains(":24: second TYPE line"))   // as prometheus/common's parser says
        case ("from_test_parse_2.txt", .failure(let error)):   // `1234567890` ms is 1970: seconds of a cut OpenMetrics file?
            #expect("\(error)".contains(":6: timestamp 1234567890 is 1970-01-15T06:56:07Z in milliseconds"), "\(error)")
        case (_, .failure(let error)):
            Issue.record("\(error)")
        }
    }

    static func validExpositionFiles() throws -> [String] {
        let e = prometheusData + "/exposition"
        return try Paths.files(in: e + "/prometheus_common_expfmt/valid", suffix: ".txt") + [e + "/prometheus_common_expfmt/text.txt"]
            + Paths.files(in: e + "/prometheus_textparse", suffix: "") + Paths.files(in: e + "/node_exporter/textfile", suffix: ".prom")
            + [e + "/node_exporter/e2e-output.txt", e + "/node_exporter/e2e-output-darwin.txt"]
            + Paths.files(in: e + "/libvirt_exporter", suffix: ".prom")
    }

    /// prometheus/common's must-fail corpus: an error naming the file and line, nothing stored. The first input's only
    /// fault is a missing final line feed, which the text format requires: a truncated file.
    @Test(arguments: [
        (0, 1), (1, 1), (2, 2), (3, 1), (4, 1), (5, 1), (6, 1), (7, 3), (8, 1), (9, 1), (10, 1), (11, 1), (12, 3), (13, 3),
        (14, 3), (15, 2), (16, 2), (17, 1), (18, 1), (19, 3),
    ] as [(Int, Int)])
    func mustFailInputs(_ index: Int, _ line: Int) throws {
        let s = try Scratch()
        let file = prometheusData + "/exposition/prometheus_common_expfmt/parse_errors/from_test_parse_error_\(index).txt"
        let error = #expect(throws: IngestError.self) { _ = try ingester(s, vm: "vm", metric: "m").ingestFile(path: file, now: replayNow) }
        #expect(error?.isBadInput == true)
        #expect(error?.description.hasPrefix("\(file):\(line): ") == true, "\(String(describing: error))")
        #expect(try s.count() == 0)
        #expect(try s.count("SELECT count(*) FROM source") == 0)
    }

    /// A text file cut inside its last line (`87.5` became `8`) is bad input naming that line, not a value of 8 %.
    @Test func aTextFileWithoutItsFinalLineFeedIsTruncated() throws {
        let s = try Scratch()
        let whole = "# TYPE cpu gauge\ncpu{domain=\"a\"} 12.5\ncpu{domain=\"b\"} 87.5\n"
        let cut = try s.write("cut.prom", String(whole.dropLast(4)))
        let mapped = PrometheusIngester(store: s.store, mapping: PrometheusMapping(metrics: ["cpu": .init(metric: "cpu_util", unit: "percent")]))
        let e = #expect(throws: IngestError.self) { _ = try mapped.ingestFile(path: cut, now: replayNow) }
        #expect(e?.isBadInput == true && e?.description == "\(cut):3: the last line has no line feed, which the text format requires: the file is truncated?",
                "\(String(describing: e))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0)
        let r = try mapped.ingestFile(path: try s.write("whole.prom", whole), now: replayNow)
        #expect(r.inserted == 2 && r.warnings.isEmpty)
        #expect(try s.value(vm: "b", metric: "cpu_util", time: replayNow) == 87.5)
    }

    /// An OpenMetrics file cut on a whole line has no `# EOF` and reads as the text format, whose timestamps are
    /// milliseconds: its seconds would file the samples in January 1970. Bad input naming the line, nothing stored.
    @Test func anOpenMetricsFileCutBeforeItsEOFIsNotFiledIn1970() throws {
        let s = try Scratch()
        let whole = "# TYPE cpu gauge\ncpu{domain=\"a\"} 12.5 \(replayNow - 60)\ncpu{domain=\"a\"} 87.5 \(replayNow)\n# EOF\n"
        let cut = try s.write("cut.om", String(whole.dropLast("# EOF\n".count)))
        let mapped = PrometheusIngester(store: s.store, mapping: PrometheusMapping(metrics: ["cpu": .init(metric: "cpu_util", unit: "percent")]))
        let e = #expect(throws: IngestError.self) { _ = try mapped.ingestFile(path: cut, now: replayNow) }
        #expect(e?.isBadInput == true && e?.description.hasPrefix("\(cut):2: timestamp \(replayNow - 60) is 1970-") == true
                && e?.description.hasSuffix("if it is seconds, this is OpenMetrics cut before its '# EOF'") == true, "\(String(describing: e))")
        #expect(try s.count() == 0 && s.count("SELECT count(*) FROM source") == 0)
        let r = try mapped.ingestFile(path: try s.write("whole.om", whole), now: replayNow)
        #expect(r.inserted == 2 && r.format == "openmetrics")
        #expect(try s.value(vm: "a", metric: "cpu_util", time: replayNow) == 87.5)
    }

    /// Samples without a timestamp are taken at --now: the 00:05 scrape of the same text is stored, not "unchanged";
    /// the same text at the same now, or dated text at another now, adds nothing.
    @Test func undatedTextAtAnotherNowIsAnotherScrape() throws {
        let s = try Scratch()
        let ingester = PrometheusIngester(store: s.store)
        let midnight = UTC.epoch(year: 2025, month: 12, day: 31)
        let undated = try s.write("scrape.prom", "cpu_util{domain=\"web-01\"} 42\n")
        #expect(try ingester.ingestFile(path: undated, now: midnight).inserted == 1)
        let next = try ingester.ingestFile(path: undated, now: midnight + 300)
        #expect(next.outcome == .ingested && next.inserted == 1)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: midnight + 300) == 42)
        #expect(try ingester.ingestFile(path: undated, now: midnight + 300).outcome == .unchanged)
        let dated = try s.write("dated.prom", "cpu_util{domain=\"web-02\"} 7 \(midnight * 1000)\n")
        #expect(try ingester.ingestFile(path: dated, now: midnight).inserted == 1)
        #expect(try ingester.ingestFile(path: dated, now: midnight + 300).outcome == .unchanged)
        #expect(try s.count() == 3)
    }

    /// A textfile whose writer stopped: its undated samples are taken when it last changed, so ingesting it again each
    /// hour adds nothing (the VM reads silent, not idle at its last value), and the first ingest warns that it is old.
    /// Written again (the writer back), it is a new scrape at that time.
    @Test func undatedTextIsTakenWhenItsFileLastChanged() throws {
        let s = try Scratch()
        let ingester = PrometheusIngester(store: s.store)
        let written = UTC.epoch(year: 2025, month: 12, day: 31)
        let path = try s.write("textfile.prom", "cpu_util{domain=\"web-01\"} 42\n")
        func touch(_ time: EpochSeconds) throws {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: TimeInterval(time))], ofItemAtPath: path)
        }
        try touch(written)
        let first = try ingester.ingestFile(path: path, now: written + 3600)
        #expect(first.inserted == 1 && first.warnings.contains { $0.contains("taken when the file last changed, 2025-12-31T00:00:00Z, 1h before now") },
                "\(first.warnings)")
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: written) == 42)
        #expect(try ingester.ingestFile(path: path, now: written + 7200).outcome == .unchanged)
        try touch(written + 7200)
        let again = try ingester.ingestFile(path: path, now: written + 7260)
        #expect(try again.inserted == 1 && again.warnings.isEmpty && s.value(vm: "web-01", metric: "cpu_util", time: written + 7200) == 42)
        #expect(try s.count() == 2)
    }

    /// A VM label with an empty value is absent, as Prometheus has it: the next VM label names the VM, and a prefix is
    /// not a VM's whole name.
    @Test func anEmptyVMLabelIsAbsent() throws {
        let s = try Scratch()
        let ingester = PrometheusIngester(store: s.store, mapping: PrometheusMapping(vmPrefix: "dc1-"))
        let path = try s.write("empty.prom", "cpu_util{domain=\"\",instance=\"web-01\"} 42 \(UTC.epoch(year: 2025, month: 12, day: 31) * 1000)\n")
        let r = try ingester.ingestFile(path: path, now: UTC.epoch(year: 2025, month: 12, day: 31))
        #expect(r.vms == ["dc1-web-01"], "\(r.vms)")
    }

    /// A counter (a running total) mapped to a metric is bad input naming it and its line, nothing stored: its total
    /// would read as a level (a million CPU-seconds as a load); unmapped, it is skipped as any other name.
    @Test func aMappedCounterIsBadInput() throws {
        let s = try Scratch()
        let at = UTC.epoch(year: 2025, month: 12, day: 31) * 1000
        let path = try s.write("counter.prom", "# TYPE cpu_util counter\ncpu_util{domain=\"web-01\"} 1234567 \(at)\n"
                                + "# TYPE requests_total counter\nrequests_total{domain=\"web-01\"} 99 \(at)\n")
        let e = #expect(throws: IngestError.self) { _ = try PrometheusIngester(store: s.store).ingestFile(path: path, now: replayNow) }
        #expect(e?.isBadInput == true && e?.description.contains(":2: 'cpu_util' is a counter (a running total, not a level), mapped to cpu_util") == true,
                "\(String(describing: e))")
        #expect(try s.count() == 0)
        let other = try s.write("other.prom", "# TYPE requests_total counter\nrequests_total{domain=\"web-01\"} 99 \(at)\n")
        #expect(try PrometheusIngester(store: s.store).ingestFile(path: other, now: replayNow).warnings.contains { $0.contains("not mapped") })
        // A query's answer has no TYPE: a series named as a running total (a raw counter selected, not its rate()) is one.
        let raw = try s.write("raw.json", #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"#
                              + #""libvirt_domain_interface_stats_receive_bytes_total","domain":"vmc"},"values":[[1700000000,"81234567890"],[1700000300,"81234999999"]]}]}}"#)
        var bytes = ingester(s)
        bytes.fixedMetric = try MetricBinding.make(metric: "net_rx", unit: "bytes/s").get()
        let named = #expect(throws: IngestError.self) { _ = try bytes.ingestFile(path: raw, now: 1_700_000_400) }
        #expect(named?.isBadInput == true && named?.description.contains("result[0]") == true
                && named?.description.contains("is a counter (a running total, not a level, by its name), mapped to net_rx") == true, "\(String(describing: named))")
        #expect(try s.count() == 0)
        // A family the text types a gauge is one, whatever its name says.
        let gauge = try s.write("gauge.prom", "# TYPE sessions_count gauge\nsessions_count{domain=\"web-01\"} 3 \(at)\n")
        var sessions = ingester(s)
        sessions.fixedMetric = try MetricBinding.make(metric: "cpu_util", unit: "percent").get()
        #expect(try sessions.ingestFile(path: gauge, now: replayNow).inserted == 1)
    }

    @Test func openMetricsNeedsEOFAndNothingAfterIt() throws {
        let s = try Scratch()
        let after = try s.write("after.om", "# TYPE a gauge\na 1\n# EOF\nb 2\n# EOF\n")
        let e = #expect(throws: IngestError.self) { _ = try ingester(s, vm: "v", metric: "m").ingestFile(path: after, now: replayNow) }
        #expect(e?.description.contains(":4: content after '# EOF'") == true)
    }

    @Test func exemplarsAndEscapedLabelsInOpenMetrics() throws {
        let s = try Scratch()
        let path = try s.write("x.om", """
            # TYPE cpu_util gauge
            cpu_util{domain="web \\"01\\"\\\\x"} 12.5 1700000000.5 # {trace_id="a"} 1 1700000000
            # EOF

            """)
        let r = try PrometheusIngester(store: s.store).ingestFile(path: path, now: replayNow)
        #expect(r.format == "openmetrics")
        #expect(try s.value(vm: "web \"01\"\\x", metric: "cpu_util", time: 1_700_000_000) == 12.5)
    }

    /// A CRLF exposition file reads line by line ("\r\n" is one Character in Swift); JSON after a BOM is JSON; a
    /// timestamp far out of range is bad input naming the series, not a crash.
    @Test func crlfLinesAndTimesOutOfRange() throws {
        let s = try Scratch()
        let crlf = try s.write("crlf.om", "# TYPE cpu_util gauge\r\ncpu_util{domain=\"web-01\"} 12.5 1700000000\r\ncpu_util{domain=\"web-01\"} 13 1700000300\r\n# EOF\r\n")
        let r = try PrometheusIngester(store: s.store).ingestFile(path: crlf, now: replayNow)
        #expect(r.format == "openmetrics" && r.inserted == 2)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: 1_700_000_300) == 13)
        let bom = try s.write("bom.json", "\u{FEFF}{\"status\": \"success\", \"data\": {\"resultType\": \"matrix\", \"result\": [{\"metric\": {\"__name__\": \"cpu_util\", \"domain\": \"web-03\"}, \"values\": [[1700000000, \"7\"]]}]}}")
        #expect(try PrometheusIngester(store: s.store).ingestFile(path: bom, now: replayNow).format == "query_range", "a BOM before JSON is not exposition text")
        #expect(try s.value(vm: "web-03", metric: "cpu_util", time: 1_700_000_000) == 7)
        let far = try s.write("far.om", "# TYPE cpu_util gauge\ncpu_util{domain=\"web-02\"} 5 1e30\n# EOF\n")
        let e = #expect(throws: IngestError.self) { _ = try PrometheusIngester(store: s.store).ingestFile(path: far, now: replayNow) }
        #expect(e?.isBadInput == true && e?.description.contains("out of range") == true, "\(String(describing: e))")
        #expect(try s.count("SELECT count(*) FROM vm WHERE name = 'web-02'") == 0)
    }

    @Test func aFileWithoutSamplesSaysSo() throws {
        let s = try Scratch()
        for (name, text) in [("empty.prom", ""), ("comments.prom", "# HELP cpu_util CPU\n# TYPE cpu_util gauge\n")] {
            let r = try PrometheusIngester(store: s.store).ingestFile(path: try s.write(name, text), now: replayNow)
            #expect(r.rows == 0 && r.warnings.contains { $0.contains("no samples") }, "\(name): \(r.warnings)")
        }
    }

    @Test func badJSONNamesItsLine() throws {
        let s = try Scratch()
        let path = try s.write("bad.json", "{\"status\": \"success\",\n \"data\": {\"resultType\": \"matrix\",\n \"result\": [}\n")
        let e = #expect(throws: IngestError.self) { _ = try ingester(s).ingestFile(path: path, now: replayNow) }
        #expect(e?.description.contains("not valid JSON") == true && e?.description.contains("(line 3, column ") == true, "\(String(describing: e))")
        let error = try s.write("err.json", #"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#)
        let e2 = #expect(throws: IngestError.self) { _ = try ingester(s).ingestFile(path: error, now: replayNow) }
        #expect(e2?.description.contains("parse error at char 5") == true)
    }

    /// JSON has no lines to name: a value that is bad once read (in the future, more vCPUs than any VM has) is named by
    /// where it is. A negative value of a metric that cannot be under zero is no reading: not stored, counted and said,
    /// the rest of the answer stored; a percentage under 0 % by less than a point (a query's arithmetic on an idle VM:
    /// rate()'s extrapolation) reads as 0 %.
    @Test func aBadValueInJSONIsNamedByItsPlace() throws {
        let s = try Scratch()
        func result(_ value: String, at time: EpochSeconds) -> String {
            #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"domain":"web-01"},"values":[[1700000000,"1"]]},"#
                + #"{"metric":{"domain":"web-02"},"values":[[1700000000,"2"],[\#(time),"\#(value)"]]}]}}"#
        }
        var percent = ingester(s)
        percent.fixedMetric = try MetricBinding.make(metric: "cpu_util", unit: "percent").get()
        let negative = try s.write("neg.json", result("-3", at: 1_700_000_300))
        let report = try percent.ingestFile(path: negative, now: replayNow)
        #expect(report.inserted == 2 && report.outOfRange == 1, "\(report)")
        #expect(report.warnings.contains { $0.contains("1 negative value of a metric that cannot be under zero not stored (missing, not idle), the first -3 of series {domain=\"web-02\"} at 2023-11-14T22:18:20Z") },
                "\(report.warnings)")
        #expect(try s.count() == 2, "the negative point is missing, not stored")
        // A little under 0 % (an idle VM's 100 * (1 - idle rate)): a reading of 0 %.
        let idle = try s.write("idle.json", result("-0.03", at: 1_700_000_600))
        let idleReport = try percent.ingestFile(path: idle, now: replayNow)
        #expect(idleReport.inserted == 1 && idleReport.outOfRange == 0 && idleReport.warnings.contains { $0.contains("1 percentage under 0 % by less than 1.0 point read as 0 %") },
                "\(idleReport)")
        #expect(try s.value(vm: "web-02", metric: "cpu_util", time: 1_700_000_600) == 0)
        let future = try s.write("future.json", result("3", at: replayNow + 86_400 * 365))
        let f = #expect(throws: IngestError.self) { _ = try percent.ingestFile(path: future, now: replayNow) }
        #expect(f?.description.hasPrefix(future + ": result[1].values[1]: time ") == true && f?.description.contains("of series {domain=\"web-02\"}") == true,
                "\(String(describing: f))")
        var vcpus = ingester(s)
        vcpus.fixedMetric = try MetricBinding.make(metric: "vcpus", unit: "count").get()
        let huge = try s.write("huge.json", result("1e20", at: 1_700_000_300))
        let h = #expect(throws: IngestError.self) { _ = try vcpus.ingestFile(path: huge, now: replayNow) }
        #expect(h?.description.hasPrefix(huge + ": result[1].values[1]: vcpus of web-02 ") == true && h?.description.contains("out of range (1e+20") == true,
                "\(String(describing: h))")
        #expect(try s.count() == 3, "nothing of the bad files is stored (the samples are the answers' with negative values)")
    }
}

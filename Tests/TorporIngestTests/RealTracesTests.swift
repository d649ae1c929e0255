import Foundation
import Testing
import TorporCore
import TorporIngest
import TorporStore

/// Every file of ../shared/data/traces ingested with the mappings kept in sample-data/mappings, checked against
/// row counts, time ranges and values read independently from the source files.
@Suite(.serialized) struct RealTracesTests {
    @Test func everyBitbrainsFileIngestsWithItsRowsTimesAndValues() throws {
        let scratch = try Scratch()
        let mapping = try CSVMapping.load(path: Paths.mappings + "/bitbrains.yaml")
        let ingester = CSVIngester(store: scratch.store)
        var files: [String] = []
        for month in ["2013-7", "2013-8", "2013-9"] {
            files += try Paths.files(in: Paths.traces + "/bitbrains_rnd/" + month, suffix: ".csv.gz")
        }
        #expect(files.count == 150)
        var inserted = 0
        for file in files {
            let report = try ingester.ingest(path: file, mapping: mapping, now: replayNow)
            let lines = try sourceLines(file)
            let times = lines.dropFirst().map { Int64($0.prefix { $0 != ";" })! }
            #expect(report.rows == lines.count - 1, "\(file)")
            #expect(report.firstTime == times.min(), "\(file)")
            #expect(report.lastTime == times.max(), "\(file)")
            #expect(report.values == report.inserted + report.duplicates + report.conflicts)
            #expect(report.metrics.count == 10)
            #expect(!report.warnings.contains { $0.contains("% of the VM is expected") || $0.contains("0–1 fraction") }, "\(file): up to 106 % is jitter")
            inserted += report.inserted
        }
        #expect(try scratch.count() == inserted)
        #expect(try scratch.count("SELECT count(*) FROM vm") == 50)
        #expect(try scratch.count("SELECT count(*) FROM source") == 150)

        // First data row of 2013-7/1.csv.gz: 1372629804; 2; 5851.9989; 87.7799835; 1.5; 8218624.0; 1034592.8; 160.866…
        let t0: EpochSeconds = 1_372_629_804
        #expect(try scratch.value(vm: "bitbrains-1", metric: "cpu_util", time: t0) == 1.5)
        #expect(try scratch.value(vm: "bitbrains-1", metric: "vcpus", time: t0) == 2)
        #expect(try scratch.value(vm: "bitbrains-1", metric: "cpu_mhz", time: t0) == 87.7799835)
        #expect(try scratch.value(vm: "bitbrains-1", metric: "mem_capacity", time: t0) == 8_218_624.0 * 1024)
        #expect(try scratch.value(vm: "bitbrains-1", metric: "mem_used", time: t0) == 1_034_592.8 * 1024)
        #expect(try scratch.value(vm: "bitbrains-1", metric: "disk_read", time: t0) == 160.86666666666667 * 1024)

        // The VM's allocation comes from its latest non-zero vcpus / mem_capacity.
        let vm = try scratch.store.read { try VMRepository.all(in: $0) }.first { $0.name == "bitbrains-1" }
        #expect(vm?.vcpus == 2)

        // Re-ingesting the same content adds nothing.
        let before = try scratch.count()
        for file in files.prefix(5) {
            #expect(try ingester.ingest(path: file, mapping: mapping, now: replayNow).outcome == .unchanged)
        }
        #expect(try scratch.count() == before)
    }

    @Test func everyNABAndDatacenterFileIngests() throws {
        let scratch = try Scratch()
        let ingester = CSVIngester(store: scratch.store)
        let aws = Paths.traces + "/nab/realAWSCloudwatch/", known = Paths.traces + "/nab/realKnownCause/"
        let dc = Paths.traces + "/datacenter_aggregates/"
        let plan: [(mapping: String, files: [String])] = [
            ("nab-cpu", try Paths.files(in: aws, suffix: ".csv").filter { $0.contains("cpu_utilization") || $0.contains("grok_asg") }
                + [known + "cpu_utilization_asg_misconfiguration.csv"]),
            ("nab-network-in", [aws + "ec2_network_in_257a54.csv", aws + "ec2_network_in_5abac7.csv", aws + "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]),
            ("nab-disk-write", [aws + "ec2_disk_write_bytes_1ef3de.csv", aws + "ec2_disk_write_bytes_c0d644.csv"]),
            ("nab-requests", [aws + "elb_request_count_8c0756.csv"]),
            ("nab-latency", [known + "ec2_request_latency_system_failure.csv"]),
            ("alibaba-2018", [dc + "alibaba2018_machine_usage_days_1_to_8_grouped_300_seconds.csv"]),
            ("google-2019", [dc + "google2019_instance_usage_grouped_300_seconds_month.csv"]),
            ("azure-v2", [dc + "azure_v2_vm_cpu_readings_month_aggregated_cpu_mem.csv"]),
        ]
        let covered = Set(plan.flatMap(\.files))
        let all = try Paths.files(in: aws, suffix: ".csv") + Paths.files(in: known, suffix: ".csv") + Paths.files(in: dc, suffix: ".csv")
        #expect(Set(all) == covered, "every trace file has a mapping")

        for (name, files) in plan {
            let mapping = try CSVMapping.load(path: Paths.mappings + "/\(name).yaml")
            for file in files {
                let report = try ingester.ingest(path: file, mapping: mapping, now: replayNow)
                let lines = try sourceLines(file)
                #expect(report.rows == lines.count - 1, "\(file)")
                #expect(!report.warnings.contains { $0.contains("% of the VM is expected") || $0.contains("0–1 fraction") }, "\(file)")
                if name.hasPrefix("nab") {
                    let times = lines.dropFirst().map { UTC.parseISO8601(String($0.prefix { $0 != "," }))! }
                    #expect(report.firstTime == times.min(), "\(file)")
                    #expect(report.lastTime == times.max(), "\(file)")
                }
            }
        }
        // Spot values, read by hand from the files' first data rows.
        #expect(try scratch.value(vm: "nab-ec2_cpu_utilization_24ae8d", metric: "cpu_util",
                                  time: UTC.epoch(year: 2014, month: 2, day: 14, hour: 14, minute: 30)) == 0.132)
        let alibabaStart = UTC.epoch(year: 2018, month: 1, day: 1)
        #expect(try scratch.value(vm: "alibaba-2018-fleet", metric: "cpu_util", time: alibabaStart) == 16.126976521322472)
        #expect(try scratch.value(vm: "alibaba-2018-fleet", metric: "cpu_util", time: alibabaStart + 300) == 18.466110019646365)
        #expect(try scratch.value(vm: "google-2019-fleet", metric: "cpu_util", time: UTC.epoch(year: 2019, month: 5, day: 1)) == 0.4416155843647663 * 100)
        #expect(try scratch.value(vm: "azure-v2-fleet", metric: "cores_in_use", time: UTC.epoch(year: 2019, month: 7, day: 1, minute: 5)) == 6126975.265552814)
        // NetworkIn is bytes per 5 minutes, stored as bytes/s.
        let netFirst = try sourceLines(aws + "ec2_network_in_257a54.csv")[1].split(separator: ",")
        let netStored = try #require(try scratch.value(vm: "nab-ec2_network_in_257a54", metric: "net_rx", time: UTC.parseISO8601(String(netFirst[0]))!))
        #expect(abs(netStored - Double(netFirst[1])! / 300) <= 1e-12 * netStored)
        // Alibaba's disk_io_percent marks bad readings with -1 and 101: they are not stored.
        #expect(try scratch.count("SELECT count(*) FROM sample s JOIN metric m ON m.id = s.metric_id WHERE m.name = 'disk_util' AND (s.value < 0 OR s.value > 100)") == 0)
    }
}

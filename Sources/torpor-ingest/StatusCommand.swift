import ArgumentParser
import Foundation
import TorporCore
import TorporStore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show per-VM coverage up to --now: first and last sample, gaps and silence of the demand metric (cpu_util), metrics and sources.")

    @OptionGroup var store: StoreOptions

    @Option(help: "An interval between samples longer than this is a gap (e.g. 15m, 1h).")
    var gap = "15m"

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func validate() throws {
        guard let seconds = DurationText.seconds(gap), seconds > 0 else { throw ValidationError("--gap '\(gap)' is not a duration such as 15m") }
    }

    struct Status: Codable {
        var vms: [VMCoverage]
        var sources: Int
        var eventsPerCategory: [String: Int]
        /// VMs whose samples from before the hourly summary the nightly prune has not summed up yet.
        var vmsNotSummedUp: Int
    }

    func run() throws {
        let db = try store.openStore(creating: false, reserve: .untouched)
        let status = try db.read { db in
            // The sources ingested by --now; the calendar occurrences the store holds now that were known by --now (a
            // re-ingested calendar's replace its earlier ones).
            Status(vms: try CoverageRepository.coverage(gapThreshold: DurationText.seconds(gap)!, upTo: store.nowSeconds, in: db),
                   sources: try SourceRepository.all(in: db).filter { $0.ingestedAt <= store.nowSeconds }.count,
                   eventsPerCategory: try CoverageRepository.eventsPerCategory(knownBy: store.nowSeconds, in: db), vmsNotSummedUp: try SampleHours.pendingVMs(in: db))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        print(StatusTable.render(status.vms))
        print("gaps and silence: of \(CoverageRepository.demandMetric) samples (other metrics, such as vcpus, are written for a VM that is off too)")
        print("\(status.vms.count) VM(s), \(status.sources) source(s) ingested")
        if !status.eventsPerCategory.isEmpty {
            print("calendar occurrences: " + status.eventsPerCategory.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if status.vmsNotSummedUp > 0 {
            print("\(status.vmsNotSummedUp) VM(s) with samples from before the hourly summary (read from their samples, slower) or its sample counts "
                  + "(their hours never judged sparse) until the nightly `torpor-ingest prune` sums them up")
        }
    }
}

/// Plain-text table of coverage rows.
enum StatusTable {
    static func render(_ rows: [VMCoverage]) -> String {
        let header = ["VM", "vCPU", "memory", "samples", "first", "last", "gaps", "gap time", "silent", "metrics", "sources"]
        let table: [[String]] = [header] + rows.map(cells)
        var widths = [Int](repeating: 0, count: header.count)
        for row in table { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let lines: [String] = table.map { row in
            let padded: [String] = row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            return padded.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return lines.joined(separator: "\n")
    }

    private static func cells(_ r: VMCoverage) -> [String] {
        let memory: String = r.memoryBytes.map { "\($0 / 1_048_576) MiB" } ?? "-"
        let silent: String = r.lastTime == nil ? "no samples" : r.lastDemandTime == nil ? "no \(CoverageRepository.demandMetric)" : duration(r.silentSeconds ?? 0)
        return [r.vm, r.vcpus.map(String.init) ?? "-", memory, "\(r.samples)",
                r.firstTime.map(UTC.format) ?? "-", r.lastTime.map(UTC.format) ?? "-", "\(r.gaps)",
                duration(r.gapSeconds), silent, "\(r.metrics.count)", "\(r.sources.count)"]
    }

    private static func duration(_ seconds: Int64) -> String {
        seconds == 0 ? "-" : seconds < 3600 ? "\(seconds / 60)m" : seconds < 172_800 ? String(format: "%.1fh", Double(seconds) / 3600)
            : String(format: "%.1fd", Double(seconds) / 86_400)
    }
}

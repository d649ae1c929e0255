import GRDB
import TorporCore

/// How well one VM's history is covered by samples.
public struct VMCoverage: Codable, Equatable, Sendable {
    public var vm: String
    public var hostURI: String?
    public var vcpus: Int?
    public var memoryBytes: Int64?
    public var metrics: [String]
    public var samples: Int
    public var firstTime: EpochSeconds?
    public var lastTime: EpochSeconds?
    /// Intervals between consecutive samples of the demand metric (`CoverageRepository.demandMetric`) longer than the
    /// gap threshold.
    public var gaps: Int
    /// Total seconds inside those gaps.
    public var gapSeconds: Int64
    /// The time of the last sample of the demand metric; nil when there is none.
    public var lastDemandTime: EpochSeconds?
    /// Seconds from the last sample of the demand metric to the status's `now` when longer than the gap threshold: a
    /// collector that stopped, a VM asleep or gone (nil when its demand samples are current, or when it has none).
    public var silentSeconds: Int64?
    public var sources: [String]

    public init(vm: String, hostURI: String?, vcpus: Int?, memoryBytes: Int64?, metrics: [String], samples: Int,
                firstTime: EpochSeconds?, lastTime: EpochSeconds?, gaps: Int, gapSeconds: Int64, lastDemandTime: EpochSeconds? = nil,
                silentSeconds: Int64? = nil, sources: [String]) {
        self.vm = vm; self.hostURI = hostURI; self.vcpus = vcpus; self.memoryBytes = memoryBytes; self.metrics = metrics
        self.samples = samples; self.firstTime = firstTime; self.lastTime = lastTime; self.gaps = gaps
        self.gapSeconds = gapSeconds; self.lastDemandTime = lastDemandTime; self.silentSeconds = silentSeconds; self.sources = sources
    }
}

/// Per-VM coverage for `torpor-ingest status`.
public enum CoverageRepository {
    /// The metric whose samples say whether a VM's demand was read: gaps and silence are counted in it alone (the
    /// libvirt collector keeps writing `vcpus` and `mem_capacity` for a domain that is shut off).
    public static let demandMetric = "cpu_util"

    /// Each VM's coverage by the samples up to `now` (a replay sees the store as it was then), with the sources that
    /// gave it samples by then; gaps and a silence up to `now` longer than `gapThreshold` are of the demand metric.
    public static func coverage(gapThreshold: Int64, upTo now: EpochSeconds, in db: Database) throws -> [VMCoverage] {
        let vms = try VMRepository.all(in: db)
        var result: [String: VMCoverage] = [:]
        for vm in vms {
            result[vm.name] = VMCoverage(vm: vm.name, hostURI: vm.hostURI, vcpus: vm.vcpus, memoryBytes: vm.memoryBytes,
                                         metrics: [], samples: 0, firstTime: nil, lastTime: nil, gaps: 0, gapSeconds: 0, sources: [])
        }
        let names = Dictionary(uniqueKeysWithValues: vms.map { ($0.id, $0.name) })
        for row in try Row.fetchAll(db, sql: """
            SELECT s.vm_id, m.name, count(*) AS n, min(s.time) AS first, max(s.time) AS last
            FROM sample s JOIN metric m ON m.id = s.metric_id WHERE s.time <= ? GROUP BY s.vm_id, s.metric_id ORDER BY m.name
            """, arguments: [now]) {
            guard let name = names[row["vm_id"]] else { continue }
            result[name]!.metrics.append(row["name"])
            result[name]!.samples += row["n"] as Int
            let first: Int64 = row["first"], last: Int64 = row["last"]
            result[name]!.firstTime = min(result[name]!.firstTime ?? first, first)
            result[name]!.lastTime = max(result[name]!.lastTime ?? last, last)
        }
        for row in try Row.fetchAll(db, sql: """
            WITH t AS (SELECT vm_id, time FROM sample WHERE metric_id = (SELECT id FROM metric WHERE name = ?3) AND time <= ?2),
                 d AS (SELECT vm_id, time, time - lag(time) OVER (PARTITION BY vm_id ORDER BY time) AS dt FROM t)
            SELECT vm_id, sum(dt > ?1) AS gaps, sum(CASE WHEN dt > ?1 THEN dt ELSE 0 END) AS gap_seconds, max(time) AS last
            FROM d GROUP BY vm_id
            """, arguments: [gapThreshold, now, demandMetric]) {
            guard let name = names[row["vm_id"]] else { continue }
            result[name]!.gaps = row["gaps"] ?? 0
            result[name]!.gapSeconds = row["gap_seconds"] ?? 0
            result[name]!.lastDemandTime = row["last"]
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT DISTINCT sv.vm_id, s.location FROM source_vm sv JOIN source s ON s.id = sv.source_id
            WHERE sv.first_time <= ? ORDER BY s.location
            """, arguments: [now]) {
            guard let name = names[row["vm_id"]] else { continue }
            result[name]!.sources.append(row["location"])
        }
        for (name, vm) in result {
            if let last = vm.lastDemandTime, now - last > gapThreshold { result[name]!.silentSeconds = now - last }
        }
        return result.values.sorted { $0.vm < $1.vm }
    }

    /// Occurrences per calendar category in the store that torpor knew of by `knownBy`, for status (as the store holds
    /// them now: a calendar ingested again replaces its occurrences from its window's start on, so what was known of
    /// those earlier, other than when, is not kept).
    public static func eventsPerCategory(knownBy: EpochSeconds = .max, in db: Database) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT category, count(*) AS n FROM event WHERE \(EventRepository.knownBy) GROUP BY category",
                                    arguments: [knownBy]) {
            counts[row["category"]] = row["n"]
        }
        return counts
    }
}

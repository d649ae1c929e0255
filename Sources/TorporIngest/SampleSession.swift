import Foundation
import GRDB
import TorporCore
import TorporHash
import TorporStore
import TorporVirt

/// Ingests one source as one transaction: skipped when the same content was ingested before, otherwise `read`
/// offers its samples to a `SampleSession` and everything is committed together, or nothing if it throws.
enum SourceTransaction {
    /// What makes a source the same as one ingested before: its content's SHA-256 and how it was read (`readWith`:
    /// the mapping and flags, and the file's name where it names the VM or metric). The same bytes read for another VM
    /// or with a corrected mapping are a new source, not "unchanged". `takenAt`: the time given to samples that have
    /// none (exposition text without timestamps), so that the same text read at another time is a new source too.
    static func identity(contentSHA256: String, readWith settings: some Encodable, fileName: String? = nil,
                         takenAt: EpochSeconds? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let how = (try? encoder.encode(settings)).map { String(decoding: $0, as: UTF8.self) } ?? "\(settings)"
        let when = takenAt.map { "\n\($0)" } ?? ""
        return SHA256.hexDigest(of: Data((contentSHA256 + "\n" + how + "\n" + (fileName ?? "") + when).utf8))
    }

    /// The identity under which a source that held values back for being after `now` is recorded: the same content read
    /// at a later now is read again (to store them), at the same now it is unchanged.
    static func identity(_ sha256: String, heldBackAfter now: EpochSeconds) -> String {
        SHA256.hexDigest(of: Data("\(sha256)\nheld back after \(now)".utf8))
    }

    /// `replacesLocation`: what the source stores replaces what earlier ingests of `location` stored (calendars), so an
    /// older ingest of the same identity may have lost its part since: the source is unchanged only when the latest
    /// ingest of `location` had its identity. Samples are never replaced: any earlier ingest of the identity will do.
    static func run(store: Store, kind: String, source: String, location: String, sha256: String, now: EpochSeconds,
                    futureTolerance: Int64, replacesLocation: Bool = false,
                    read: (SampleSession) throws -> Void) throws(IngestError) -> IngestReport {
        do {
            return try store.transaction { db in
                let earlier = try replacesLocation
                    ? SourceRepository.latest(kind: kind, location: location, in: db).flatMap { $0.contentSHA256 == sha256 ? $0 : nil }
                    : SourceRepository.find(kind: kind, contentSHA256: sha256, in: db)
                        ?? SourceRepository.find(kind: kind, contentSHA256: SourceTransaction.identity(sha256, heldBackAfter: now), in: db)
                if let earlier {
                    var report = IngestReport(path: source, kind: kind, sha256: sha256)
                    report.outcome = .unchanged
                    report.sourceID = earlier.id
                    return report
                }
                let session = try SampleSession(source: source, kind: kind, sha256: sha256, db: db, now: now, futureTolerance: futureTolerance)
                try read(session)
                return try session.commit(location: location)
            }
        } catch let error as IngestError {
            throw error
        } catch let error as StoreError {
            throw .badInput(source: source, line: nil, message: error.message)
        } catch {
            throw .failure(source: source, message: "store: \(error)")
        }
    }
}

/// The store side of ingesting one source, inside its transaction: VM and metric ids, time checks, deduplication
/// outcomes, per-VM coverage, VM allocation from `vcpus` / `mem_capacity`, and the source record at the end.
/// Readers (CSV, Prometheus, …) parse their format and call `emit`.
final class SampleSession {
    let source: String
    let now: EpochSeconds
    var report: IngestReport
    /// The line being read, for error messages.
    var line: Int?
    /// Where the value being read is, in a source without lines (JSON: `result[0].values[5]`), for error messages.
    var position: String?

    private let db: Database
    private let writer: SampleWriter
    private let latestAllowed: EpochSeconds
    private var lastTimeOfSeries: [Int64: EpochSeconds] = [:]
    private var currentSeries: (key: Int64, lastTime: EpochSeconds) = (-1, 0)
    private var contributions: [Int64: SourceVMContribution] = [:]
    /// The contribution of the VM of the latest samples, kept out of the dictionary while that VM lasts.
    private var current: (vm: Int64, contribution: SourceVMContribution)?
    /// Per VM, the latest `vcpus` and `mem_capacity` stored, each with its own time.
    private var allocation: [Int64: (vcpus: (time: EpochSeconds, value: Int)?, memory: (time: EpochSeconds, value: Int64)?)] = [:]
    private var vmIDs: [String: Int64] = [:]
    private var vmNames: [Int64: String] = [:]
    private var metricNames: [Int64: String] = [:]
    /// Metrics of a physical dimension (percent, bytes, counts, rates, seconds): a negative value is bad input (in a CSV), or no reading (from Prometheus).
    private var nonNegative: Set<Int64> = []
    /// Per percent metric: how many values the source gave and the largest, to tell a 0–1 fraction read as percent.
    private var percentSeen: [Int64: (count: Int, largest: Double)] = [:]
    private var allocationMetrics: (vcpus: Int64?, memory: Int64?) = (nil, nil)
    /// The largest `vcpus` and `mem_capacity` (bytes) a source may give: 2^20 vCPUs and 1 PiB, far beyond any VM (QEMU
    /// allows some thousand vCPUs, the largest VMs have some TiB). More is a wrong unit or a corrupt reading, and would
    /// not fit the integers the store keeps and the planner sums over a host.
    static let largestVCPUs: Int64 = 1 << 20
    static let largestMemoryBytes: Int64 = 1 << 50
    /// How far after `now` a value may be and still be stored: the clock skew between the machine that wrote a source
    /// and the one that ingests it. Later values (up to the source's future tolerance, beyond which they are bad input)
    /// are held back: a replay at `--now` stores nothing of its future.
    static let clockSkewAllowance: Int64 = 300
    private var heldBack = 0
    /// Where a file a writer may be in the middle of was left unread (`holdBack(_:changedSecondsAgo:)`).
    private var unfinished: (what: String, changedSecondsAgo: Int)?
    private var conflictExamples = 0
    /// Calendar occurrences to store with the source record, replacing those of earlier ingests of the same location.
    private var events: (records: [EventRecord], from: EpochSeconds, to: EpochSeconds)?

    init(source: String, kind: String, sha256: String, db: Database, now: EpochSeconds, futureTolerance: Int64) throws {
        self.source = source
        self.db = db
        self.now = now
        latestAllowed = now + futureTolerance
        report = IngestReport(path: source, kind: kind, sha256: sha256)
        writer = try SampleWriter(db: db)
    }

    /// The VMs the store knows, with their labels (to check what a source names against).
    func knownVMs() throws -> [(name: String, labels: [String: String])] {
        try VMRepository.all(in: db).map { ($0.name, $0.labels) }
    }

    /// Bad input at the current line, or position.
    func fail(_ message: String) -> IngestError { fail(line == nil ? position.map { "\($0): \(message)" } ?? message : message, line: line) }

    /// Bad input at `line`, or about the whole source when nil. A message quoting the input is cut short: a field that
    /// swallowed the rest of the file (an unclosed quote) must not come back as megabytes of error.
    func fail(_ message: String, line: Int?) -> IngestError {
        let limit = 400
        let shown = message.count <= limit ? message : message.prefix(limit) + "… (\(message.count - limit) more characters)"
        return .badInput(source: source, line: line, message: shown)
    }

    /// Why `name` cannot name a VM (empty, over 255 bytes, with control characters), nil when it can.
    static func unusable(vmName name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 255 { return "is over 255 bytes" }
        return name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) ? "has control characters" : nil
    }

    func vmID(_ raw: String, prefix: String = "") throws -> Int64 {
        let name = prefix + raw
        if let id = vmIDs[name] { return id }
        // An empty name is refused before the prefix: `bb-` alone would pool unrelated rows under a made-up VM.
        let named = "VM name '\(raw)'" + (prefix.isEmpty ? "" : " (with the prefix '\(prefix)')")
        if raw.isEmpty { throw fail(named + " is empty") }
        if let why = Self.unusable(vmName: name) { throw fail(named + " \(why)") }
        let id = try VMRepository.id(of: name, in: db, now: now)
        vmIDs[name] = id
        vmNames[id] = name
        return id
    }

    func metricID(_ binding: MetricBinding) throws -> Int64 {
        let id: Int64
        do { id = try writer.metricID(binding) } catch let error as StoreError { throw fail(error.message) }   // where it is met
        metricNames[id] = binding.metric
        if binding.dimension != .raw { nonNegative.insert(id) }
        if binding.dimension == .percent, percentSeen[id] == nil { percentSeen[id] = (0, 0) }
        if binding.metric == "vcpus" { allocationMetrics.vcpus = id }
        if binding.metric == "mem_capacity" { allocationMetrics.memory = id }
        return id
    }

    /// Refuses times after now + the tolerance (a wrong unit or clock) and before 1970.
    func checkTime(_ time: EpochSeconds, what: String) throws {
        if time > latestAllowed {
            throw fail("time \(UTC.format(time)) \(what) is after now (\(UTC.format(now))) + \(DurationText.format(latestAllowed - now)): wrong time unit or clock? (set --now when replaying history)")
        }
        if time < 0 { throw fail("time \(time) \(what) is before 1970") }
    }

    /// Notes one row's time for a series, counting rows that go back in time.
    func noteRow(series: Int64, time: EpochSeconds) {
        if series != currentSeries.key {
            if currentSeries.key >= 0 { lastTimeOfSeries[currentSeries.key] = currentSeries.lastTime }
            currentSeries = (series, lastTimeOfSeries[series] ?? time)
        }
        if time < currentSeries.lastTime { report.outOfOrder += 1 }
        currentSeries.lastTime = time
    }

    func countRow() { report.rows += 1 }

    func countMissing() { report.missing += 1 }

    func countOutOfRange() { report.outOfRange += 1 }

    /// Whether `value` of `metric` is below zero where no reading can be (a physical dimension).
    func isImpossiblyNegative(_ value: Double, metric: Int64) -> Bool { value < 0 && nonNegative.contains(metric) }

    func warn(_ warning: String) { report.warnings.append(warning) }

    /// Offers one sample (already in the metric's canonical unit) to the store.
    func emit(vm: Int64, metric: Int64, time: EpochSeconds, value: Double) throws {
        // A finite value can overflow its unit's conversion (1e306 GiB): bad input, as an infinite cell is.
        guard value.isFinite else { throw fail("\(metricNames[metric] ?? "a value") of \(vmNames[vm] ?? "?") at \(UTC.format(time)) overflows once converted to its canonical unit") }
        guard !isImpossiblyNegative(value, metric: metric) else {
            throw fail("\(metricNames[metric] ?? "a value") of \(vmNames[vm] ?? "?") at \(UTC.format(time)) is negative (\(value)); a source's marker for a bad reading belongs in a wide-metrics mapping's `valid` range")
        }
        if metric == allocationMetrics.vcpus || metric == allocationMetrics.memory {
            let (largest, unit) = metric == allocationMetrics.vcpus ? (SampleSession.largestVCPUs, "vCPUs") : (SampleSession.largestMemoryBytes, "bytes")
            guard value <= Double(largest) else {
                throw fail("\(metricNames[metric] ?? "?") of \(vmNames[vm] ?? "?") at \(UTC.format(time)) is out of range (\(value); at most \(largest) \(unit)): a wrong unit or a corrupt reading?")
            }
        }
        report.values += 1
        if let seen = percentSeen[metric] { percentSeen[metric] = (seen.count + 1, max(seen.largest, value)) }
        guard time <= now + SampleSession.clockSkewAllowance else {
            heldBack += 1
            return
        }
        var stored = value   // what the store holds at that time now: the first value written wins
        switch try writer.add(vm: vm, metric: metric, time: time, value: value) {
        case .inserted:
            report.inserted += 1
            if current?.vm != vm {
                if let current { contributions[current.vm] = current.contribution }
                current = (vm, contributions[vm] ?? SourceVMContribution(samples: 0, firstTime: time, lastTime: time))
            }
            current!.contribution.samples += 1
            current!.contribution.firstTime = min(current!.contribution.firstTime, time)
            current!.contribution.lastTime = max(current!.contribution.lastTime, time)
        case .duplicate:
            report.duplicates += 1
        case .conflict(let kept):
            stored = kept
            report.conflicts += 1
            if conflictExamples < 5 {
                conflictExamples += 1
                warn((line.map { "line \($0): " } ?? position.map { "\($0): " } ?? "") + "\(vmNames[vm] ?? "?") \(metricNames[metric] ?? "?") at \(UTC.format(time)): \(value) differs from the stored \(kept), which is kept")
            }
        }
        report.firstTime = min(report.firstTime ?? time, time)
        report.lastTime = max(report.lastTime ?? time, time)
        // The VM's allocation from what is stored (a conflicting value refused is not its allocation).
        if stored > 0, metric == allocationMetrics.vcpus || metric == allocationMetrics.memory {
            var a = allocation[vm] ?? (nil, nil)
            if metric == allocationMetrics.vcpus {
                if time >= a.vcpus?.time ?? .min { a.vcpus = (time, Int(stored)) }
            } else if time >= a.memory?.time ?? .min {
                a.memory = (time, Int64(stored))
            }
            allocation[vm] = a
        }
    }

    /// Sets the occurrences a calendar source stores, those of [from, to); they replace those of earlier ingests of the
    /// same location that reach `from` or later (`EventRepository.replace`).
    func replaceEvents(from: EpochSeconds, to: EpochSeconds, with occurrences: [EventRecord]) {
        events = (occurrences, from, to)
        report.inserted = occurrences.count
    }

    /// Refuses `uri` when another run read the host `identity` names under another URI lately (`HostAliases.admitAcrossRuns`).
    func admitHost(_ uri: String, _ identity: HostIdentity?) throws {
        try HostAliases.admitAcrossRuns(uri, identity, now: now, in: db)
    }

    /// The raw counters of the previous libvirt collection on `host`, per domain.
    func previousCounters(host: String) throws -> [String: CounterSnapshot] {
        try CounterRepository.latest(host: host, in: db)
    }

    /// Keeps a libvirt domain's raw counters for the next collection.
    func recordCounters(host: String, domain: String, snapshot: CounterSnapshot) throws {
        try CounterRepository.save(host: host, domain: domain, snapshot: snapshot, in: db)
    }

    /// When the collector last collected `host` before this collection, if it ever did (`DomainRuns.previousCollection`).
    func previousCollection(of host: String) throws -> EpochSeconds? {
        try DomainRuns.previousCollection(of: host, before: now, in: db)
    }

    /// Records that this collection found `domain` running on `host`, whose collection before was at `previous`
    /// (`DomainRuns.record`).
    func recordRun(host: String, domain: String, previous: EpochSeconds?) throws {
        try DomainRuns.record(host: host, domain: domain, now: now, previous: previous, in: db)
    }

    /// Another host whose collections, in separate runs, found `domain` running while this host's did (`DomainRuns.runningBeside`).
    func runningBeside(host: String, domain: String) throws -> (host: String, seen: EpochSeconds)? {
        try DomainRuns.runningBeside(host: host, domain: domain, now: now, in: db)
    }

    /// `VMRepository.claimListing`.
    func claimListing(host: String, _ domains: [(vm: Int64, name: String, uuid: String?, running: Bool)]) throws -> [Int64: DomainClaim] {
        try VMRepository.claimListing(host: host, domains, in: db)
    }

    /// The host on record of each VM placed on one, by VM id.
    func recordedHosts() throws -> [Int64: String] { try VMRepository.hostsOnRecord(in: db) }

    /// The VMs found running on two hosts at a time lately, by name (`VMRepository.lately(twoCopiesBy:in:)`).
    func latelyTwoCopies(by now: EpochSeconds) throws -> Set<String> { try VMRepository.lately(twoCopiesBy: now, in: db) }

    /// Records that VM `vm`'s domain runs on each of `hosts` at `now` (`VMRepository.setRunningCopies`).
    func setRunningCopies(vm: Int64, hosts: [String], now: EpochSeconds) throws {
        try VMRepository.setRunningCopies(vm: vm, hosts: hosts, now: now, in: db)
    }

    /// Records the host a VM runs on, keeping its labels.
    func setPlacement(vm: Int64, host: String) throws {
        try VMRepository.setHost(vm: vm, hostURI: host, in: db)
    }

    /// Clears the inventory's mark of the VM as saved (`VMRepository.setSaved`): found running at `now`.
    func clearSaved(vm: Int64, now: EpochSeconds) throws {
        try VMRepository.setSaved(vm: vm, false, now: now, in: db)
    }

    /// The largest percent value taken for measurement jitter around 100 rather than a sum over vCPUs.
    static let largestPlausiblePercent = 150.0

    /// How many percent values a source must give before all of them at most 1 is said to look like a fraction.
    static let fractionCheckValues = 100

    /// Leaves the end of the file unread: `what` says where it ends (a last line without a line end, a gzip stream cut
    /// short), and the file changed `changedSecondsAgo` ago, so a writer may be in the middle of it. The source is
    /// recorded so that any later ingest, at this now or another, reads it again.
    func holdBack(_ what: String, changedSecondsAgo: Int) { unfinished = (what, changedSecondsAgo) }

    /// Records VM allocations and the source with its report; returns the final report.
    func commit(location: String) throws -> IngestReport {
        try writer.finish()
        if let current { contributions[current.vm] = current.contribution }
        if report.conflicts > conflictExamples {
            warn("\(report.conflicts - conflictExamples) more conflicting values (stored values kept)")
        }
        if heldBack > 0 {
            warn("\(heldBack) value(s) after --now \(UTC.format(now)) + \(DurationText.format(SampleSession.clockSkewAllowance)) of clock skew not stored; "
                 + "an ingest at a later --now stores them")
        }
        for (metric, seen) in percentSeen.sorted(by: { $0.key < $1.key }) {
            let name = metricNames[metric] ?? "?"
            // Hundreds of percent values from a source of several VMs, none above 1 (and not all 0): most likely a 0–1
            // fraction mapped as percent, which would read a hundred times idler than it is. Said, not refused: a quiet
            // fleet can be that quiet (one VM alone often is, so one VM's file is not judged).
            if seen.count >= Self.fractionCheckValues && vmNames.count >= 3 && seen.largest > 0 && seen.largest <= 1 {
                warn("all \(seen.count) values of \(name) (\(vmNames.count) VMs) are at most \(String(format: "%.3g", seen.largest)) %: if the source gives a 0–1 fraction, "
                     + "map its unit as 'fraction' (read as percent, it is a hundred times idler than it is)")
            }
            // Percent well over 100 (a little over is measurement jitter: Bitbrains reaches 106) is most likely a sum
            // over vCPUs, 100 per vCPU: read as busier than it is (so kept awake more), and said.
            if seen.largest > Self.largestPlausiblePercent {
                warn("values of \(name) reach \(String(format: "%.4g", seen.largest)) %, where 0–100 % of the VM is expected: "
                     + (name == "cpu_util" ? "if the source sums its vCPUs (100 % each), divide by the vCPU count in the query or export (read as it is, the VM looks busier than it is)"
                        : "a wrong unit or a bad reading?"))
            }
        }
        if let unfinished {
            warn("\(unfinished.what) and the file changed \(unfinished.changedSecondsAgo) s ago: a writer may be in the "
                 + "middle of it (a cut value stored would be kept for good); not read, the next ingest of the file reads it")
            // Recorded under an identity no later ingest matches, at this --now or another: read again until whole.
            report.sha256 = SHA256.hexDigest(of: Data("\(report.sha256)\nan unfinished last line, read at \(Date().timeIntervalSince1970) \(UUID())".utf8))
        } else if heldBack > 0 {
            report.sha256 = SourceTransaction.identity(report.sha256, heldBackAfter: now)
        }
        for (vm, a) in allocation {
            if let vcpus = a.vcpus { try VMRepository.setAllocation(vm: vm, vcpus: vcpus.value, memoryBytes: nil, observedAt: vcpus.time, in: db) }
            if let memory = a.memory { try VMRepository.setAllocation(vm: vm, vcpus: nil, memoryBytes: memory.value, observedAt: memory.time, in: db) }
        }
        report.vms = Set(vmNames.values).sorted()
        report.metrics = Set(metricNames.values).sorted()
        let record = SourceRecord(kind: report.kind, location: location, contentSHA256: report.sha256, rows: report.rows,
                                  inserted: report.inserted, duplicates: report.duplicates + report.conflicts,
                                  firstTime: report.firstTime, lastTime: report.lastTime, warnings: report.warnings,
                                  ingestedAt: now)
        let sourceID = try SourceRepository.insert(record, report: report, contributions: contributions, in: db)
        if let events { try EventRepository.replace(location: location, from: events.from, to: events.to, with: events.records, source: sourceID, now: now, in: db) }
        report.sourceID = sourceID
        return report
    }
}

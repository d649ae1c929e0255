import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TorporCore
import TorporHash
import TorporStore
import TorporVirt

/// One domain's raw statistics at one collection, reduced to what demand needs.
public struct DomainSample: Equatable, Sendable {
    public var domain: String
    /// libvirt's UUID of the domain (nil: not known, as in a sample made by hand).
    public var uuid: String?
    public var running: Bool
    public var vcpus: Int?
    /// Cumulative counters: `cpu.time` (ns), `net.rx.bytes`, `net.tx.bytes`, `block.rd.bytes`, `block.wr.bytes`
    /// (summed over interfaces and disks); with them, not counters, the vCPUs, the running domain's ID and the number of
    /// interfaces and disks (`DomainRates`).
    public var counters: [String: Double]
    /// Memory allocated and in use, bytes, when the balloon driver reports them.
    public var memoryCapacity: Double?
    public var memoryUsed: Double?

    /// The sample as text, the same in every process (counters by name: a dictionary's order is not): what makes a
    /// collection the same source as one before it.
    var fingerprint: String {
        "\(domain) \(uuid ?? "-") \(running) \(vcpus.map(String.init) ?? "-") "
            + counters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + " \(memoryCapacity.map { "\($0)" } ?? "-") \(memoryUsed.map { "\($0)" } ?? "-")\n"
    }

    public init(domain: String, uuid: String? = nil, running: Bool, vcpus: Int?, counters: [String: Double], memoryCapacity: Double?, memoryUsed: Double?) {
        self.domain = domain; self.uuid = uuid; self.running = running; self.vcpus = vcpus; self.counters = counters
        self.memoryCapacity = memoryCapacity; self.memoryUsed = memoryUsed
    }

    /// Reads libvirt's typed parameters (`state.state`, `cpu.time`, `vcpu.current`, `balloon.*`, `net.N.*`, `block.N.*`).
    public init(_ record: DomainStatsRecord) {
        domain = record.domainName
        uuid = record.domainUUID.isEmpty ? nil : record.domainUUID
        running = record.number("state.state") == 1
        vcpus = record.number("vcpu.current").map { Int($0) }
        var counters: [String: Double] = [:]
        if let cpu = record.number("cpu.time") { counters["cpu.time"] = cpu }
        if let vcpus { counters[DomainRates.vcpuCount] = Double(vcpus) }
        if let id = record.domainID, running { counters[DomainRates.domainID] = Double(id) }
        if running, let reason = record.number("state.reason") { counters[DomainRates.stateReason] = reason }
        // Over every device, or missing when one does not report it (libvirt gives no traffic of a user-mode or
        // vhost-user NIC): a sum of the others would read that device's traffic as none.
        func sum(_ group: String, _ field: String) -> Double? {
            guard let count = record.number("\(group).count"), count > 0 else { return nil }
            let values = (0..<Int(count)).map { record.number("\(group).\($0).\(field)") }
            return values.contains(nil) ? nil : values.reduce(0) { $0 + $1! }
        }
        for (key, group, field) in [("net.rx.bytes", "net", "rx.bytes"), ("net.tx.bytes", "net", "tx.bytes"),
                                    ("block.rd.bytes", "block", "rd.bytes"), ("block.wr.bytes", "block", "wr.bytes")] {
            if let v = sum(group, field) { counters[key] = v }
        }
        for (key, group) in [(DomainRates.netCount, "net"), (DomainRates.blockCount, "block")] {
            if let count = record.number("\(group).count") { counters[key] = count }
        }
        self.counters = counters
        memoryCapacity = record.number("balloon.maximum").map { $0 * 1024 }
        // In use inside the guest, when its balloon driver reports it. (`balloon.rss` is the host process's resident
        // memory, which includes QEMU itself: not the guest's use.)
        // A guest that reports more unused than available says nothing usable: missing (not a bad input that would
        // refuse the whole host's collection).
        if let available = record.number("balloon.available"), let unused = record.number("balloon.unused"), unused <= available {
            memoryUsed = (available - unused) * 1024
        } else {
            memoryUsed = nil
        }
    }
}

/// Rates between two collections of one domain: CPU utilization of its allocated vCPUs (percent), network and
/// block I/O (bytes/s). A counter that went down, a new domain ID (the domain restarted) or state reason (paused and resumed), gives no rate of any counter
/// for that interval (those that did not go down may have restarted too): missing, not zero. vCPUs plugged or unplugged
/// in the interval give no utilization, interfaces or disks no network or disk rate. Nothing comes out of a first collection, an interval shorter than `shortestInterval` or longer than `longestInterval`, or a domain
/// that is not running now or was not at the previous collection (its counters are not kept).
public enum DomainRates {
    /// The longest interval a rate may average over: three 5-minute collections. After a longer gap (the collector was
    /// down) one sample stamped now would hold the average of hours, a bursty VM looking calm: the gap stays a gap.
    public static let longestInterval: Int64 = 15 * 60
    /// The shortest: a collection by hand seconds after cron's would divide a fraction of a second's counters by the
    /// whole seconds between their stamps (0.07 s of a busy VM's CPU over a 1 s stamp: 7 %). Sooner, no rate, and the
    /// earlier counters stay the next rate's base.
    public static let shortestInterval: Int64 = 60

    /// Kept with the counters (not a counter): the vCPUs the domain had at the collection.
    public static let vcpuCount = "vcpu.current"
    /// Kept with the counters (not a counter): the running domain's ID, new at each start. Another ID is a restart in
    /// the interval, whose new counters may already be above the old ones (a rate too low, not a counter gone down).
    public static let domainID = "domain.id"
    /// Kept with the counters (not counters): the domain's interfaces and disks at the collection. Another number is one
    /// plugged or unplugged in the interval, and the sum over them moved by its counter's total: one unplugged would
    /// read as traffic that stopped (too low a rate, not always a sum gone down). Counters stored before the numbers
    /// were kept have none: no rate for that one interval, rather than one that may be too low.
    public static let netCount = "net.count"
    public static let blockCount = "block.count"
    /// Kept with the counters (not a counter): why the running domain runs, libvirt's state reason (booted, unpaused,
    /// a save canceled...). Another reason is a state change in the interval: paused and resumed, its paused time
    /// counted no CPU and would read as idle. A pause and resume after another leaves it as it was (unpaused): not seen.
    public static let stateReason = "state.reason"
    /// Kept with the counters (not a counter): the collecting machine's boot-time clock at a live collection (seconds
    /// since its boot, suspend included). Between two collections it moves by their interval unless the wall clock
    /// stepped (NTP, a person): then the stamps' interval is not the time that passed, and no rate is taken.
    public static let collectorClock = "collector.boottime"
    /// Kept with `collectorClock`: which boot of which machine it was read on (the first 12 hex digits of the kernel's
    /// boot id): two readings are compared only within one boot (a collector that moves between machines sharing the
    /// store, or rebooted, is not taken for a clock step).
    public static let collectorBoot = "collector.boot"
    /// How far the stamps' interval may stray from the boot-time clock's: the stamps are whole seconds, taken within a
    /// second of the reading.
    static func clockTolerance(_ interval: Double) -> Double { max(5, 0.05 * interval) }
    /// What is kept with the counters that is not a counter.
    static let notCounters: Set<String> = [vcpuCount, domainID, netCount, blockCount, stateReason, collectorClock, collectorBoot]

    /// This boot of the collecting machine (`collectorBoot`), from `/proc/sys/kernel/random/boot_id` (read once: a
    /// process lives within one boot); nil when unknown.
    static let bootID: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        return UInt64(text.filter(\.isHexDigit).prefix(12), radix: 16).map { Double($0) }   // its value (Double.init would take the bits)
    }()

    /// The collecting machine's boot-time clock (`CLOCK_BOOTTIME`), in seconds.
    static func bootTime() -> Double? {
        var spec = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &spec) == 0 else { return nil }
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// libvirt's reason for a running domain (`virDomainRunningReason`), in words.
    static func runningReason(_ code: Double) -> String {
        let names = [1: "booted", 2: "migrated", 3: "restored", 4: "from a snapshot", 5: "unpaused", 6: "migration canceled",
                     7: "save canceled", 8: "woken up", 9: "crashed", 10: "post-copy migration", 11: "post-copy migration failed"]
        return names[Int(code)] ?? "reason \(Int(code))"
    }

    /// `bootTime`: the collecting machine's boot-time clock at this collection and its boot, when live (`collectorClock`).
    public static func between(_ previous: CounterSnapshot, _ current: DomainSample, at now: EpochSeconds,
                               bootTime: (clock: Double, boot: Double?)? = nil) -> (rates: [String: Double], resets: [String]) {
        let interval = now - previous.collectedAt
        guard current.running, interval >= shortestInterval, interval <= longestInterval else { return ([:], []) }
        // A step of the wall clock between the collections (the boot-time clock of the same boot went on by another
        // interval; another boot, or another machine, is not compared).
        if let before = previous.counters[collectorClock], let bootTime, let boot = bootTime.boot, previous.counters[collectorBoot] == boot,
           bootTime.clock >= before, abs((bootTime.clock - before) - Double(interval)) > clockTolerance(Double(interval)) {
            return ([:], [collectorClock])
        }
        let seconds = Double(interval)
        var rates: [String: Double] = [:]
        var resets: [String] = []
        let metricOf = ["net.rx.bytes": "net_rx", "net.tx.bytes": "net_tx", "block.rd.bytes": "disk_read", "block.wr.bytes": "disk_write"]
        if let before = previous.counters[domainID], let now = current.counters[domainID], before != now { return ([:], [domainID]) }
        if let before = previous.counters[stateReason], let now = current.counters[stateReason], before != now { return ([:], [stateReason]) }
        for (counter, value) in current.counters where !notCounters.contains(counter) {
            guard let before = previous.counters[counter] else { continue }
            // Devices plugged or unplugged in the interval: the sum is over other devices, whichever way it moved.
            if let devices = counter.hasPrefix("net.") ? netCount : counter.hasPrefix("block.") ? blockCount : nil,
               current.counters[devices] == nil || previous.counters[devices] != current.counters[devices] { continue }
            guard value >= before else { resets.append(counter); continue }
            let perSecond = (value - before) / seconds
            if counter == "cpu.time" {
                // vCPUs plugged or unplugged in the interval: the time they ran is of neither count.
                guard let vcpus = current.vcpus, vcpus > 0, previous.counters[vcpuCount].map({ Int($0) == vcpus }) ?? true else { continue }
                rates["cpu_util"] = min(100, perSecond / 1e9 / Double(vcpus) * 100)
            } else if let metric = metricOf[counter] {
                rates[metric] = perSecond
            }
        }
        return resets.isEmpty ? (rates, resets) : ([:], resets)
    }
}

/// `torpor-ingest libvirt --uri URI`: one collection of every domain's statistics (`virConnectGetAllDomainStats`),
/// stored as rates computed from the previous collection's counters, which the store keeps between runs. Run it every
/// 5 minutes; the first run only records counters.
public struct DomainStatsIngester {
    public let store: Store

    public init(store: Store) { self.store = store }

    /// One collection of the one host `uri`, stamped `now`: `collect(uris:stamp:)`'s, for a single host.
    public func collect(uri: String, now: EpochSeconds) throws -> IngestReport { try collect(uris: [uri], stamp: { now })[0]() }

    /// One host's statistics, when they were read, and who the host is.
    struct HostCollection {
        var samples: [DomainSample]
        var at: EpochSeconds
        var identity: HostIdentity?
        /// The collecting machine's boot-time clock and boot as the statistics were read, when collected live.
        var bootTime: (clock: Double, boot: Double?)? = nil
    }

    /// One collection of every host of `uris`: each host's statistics read first, then each host's stored in turn (one
    /// failing stops none of the others), knowing which hosts run each domain now: a VM's own domain running on two of
    /// them is two copies, whichever is stored first (`ingest`). Each host's collection is stamped by `stamp` as its
    /// statistics are read: live, the clock, so that a host read after others that took long (a dead host's timeout)
    /// has its rates over the interval that really passed, not one as long as the wait is shorter (a busy VM's
    /// utilization read low), and its sightings as of when they were made; in a replay, the one `--now` for all. A URI
    /// that reaches a host an earlier one did is refused (`HostAliases`), its domains in no comparison.
    /// `live`: stamped by the clock (not a replay's `--now`), so that a step of the wall clock can be told (`collectorClock`).
    public func collect(uris: [String], stamp: () -> EpochSeconds, live: Bool = false) -> [() throws -> IngestReport] {
        var aliases = HostAliases()
        let read = uris.map { uri in
            Result { () throws(IngestError) in
                let collection = try Self.read(uri, stamp: stamp, live: live)
                try aliases.admit(uri, collection.identity)
                return collection
            }
        }
        let running = Self.running(zip(uris, read).map { ($0, (try? $1.get().samples) ?? []) })
        return zip(uris, read).map { uri, collection in
            { let c = try collection.get(); return try ingest(c.samples, uri: uri, now: c.at, running: running, identity: c.identity, bootTime: c.bootTime) }
        }
    }

    /// Every domain's statistics on host `uri`, stamped by `stamp` once the host answered and just before they are read.
    static func read(_ uri: String, stamp: () -> EpochSeconds, live: Bool = false) throws(IngestError) -> HostCollection {
        do {
            let connection = try VirtConnection.open(uri: uri)
            let at = stamp(), bootTime = live ? DomainRates.bootTime().map { ($0, DomainRates.bootID) } : nil
            return HostCollection(samples: try connection.allDomainStats().map(DomainSample.init), at: at, identity: connection.identity(), bootTime: bootTime)
        } catch {
            throw .failure(source: uri, message: error.description)
        }
    }

    /// The hosts a domain runs on in one collection, each with the domain's UUID there, by domain name.
    typealias RunningHosts = [String: [(host: String, uuid: String?)]]

    /// The hosts each domain runs on (by name), with its UUID there, in one collection of `hosts`.
    static func running(_ hosts: [(uri: String, samples: [DomainSample])]) -> RunningHosts {
        var result: RunningHosts = [:]
        for (uri, samples) in hosts { for s in samples where s.running { result[s.domain, default: []].append((uri, s.uuid)) } }
        return result
    }

    /// Stores one collection of `samples` taken at `now` from host `uri`; `running`: the hosts each domain runs on in the
    /// same collection (`running(_:)`; empty: this host's alone); `identity`: the host libvirt says `uri` reached (one
    /// another run read under another URI lately is refused, `HostAliases.admitAcrossRuns`).
    /// `bootTime`: the collecting machine's boot-time clock at a live collection (`DomainRates.collectorClock`).
    func ingest(_ samples: [DomainSample], uri: String, now: EpochSeconds, running: RunningHosts = [:], identity: HostIdentity? = nil,
                bootTime: (clock: Double, boot: Double?)? = nil) throws(IngestError) -> IngestReport {
        let hash = SHA256()
        hash.update(Array("\(uri) \(now) \(samples.map(\.fingerprint).joined())".utf8))
        return try SourceTransaction.run(store: store, kind: "libvirt", source: uri, location: uri, sha256: hash.finalizeHex(),
                                         now: now, futureTolerance: 0) { session in
            session.report.format = "domain stats"
            try session.admitHost(uri, identity)
            let previous = try session.previousCounters(host: uri)
            var firstSeen: [String] = [], afterGap: [String] = [], collectedLater: [String] = [], tooSoon: [String] = [], clockStepped: [String] = []
            // A domain whose name no VM can have is left out, said: it must not stop its host's other domains' collection.
            let samples = samples.filter { sample in
                guard let why = SampleSession.unusable(vmName: sample.domain) else { return true }
                session.warn("domain \(sample.domain.debugDescription): its name \(why): not collected (rename it to be planned)")
                return false
            }
            let vms = try samples.map { try session.vmID($0.domain) }
            let recorded = try session.recordedHosts(), lately = try session.latelyTwoCopies(by: now), previousCollection = try session.previousCollection(of: uri)
            let claims = try session.claimListing(host: uri, zip(vms, samples).map { (vm: $0, name: $1.domain, uuid: $1.uuid, running: $1.running) })
            for (vm, sample) in zip(vms, samples) {
                session.countRow()
                switch claims[vm] ?? .holds {
                case .holds: break
                case .idleCopy: continue
                case .clash(let clash): session.warn("\(clash)"); continue
                }
                if sample.running { try session.recordRun(host: uri, domain: sample.domain, previous: previousCollection) }
                // Its own domain (its UUID) running here and on another host in this collection, or in another host's
                // collections by separate runs while this host's found it running: not a migration (whose destination is
                // paused until the switch) but two copies, both writing its disks: recorded and said (`check` names it
                // once two collections in a row found it so). Off the host on record, this one's readings stay out of
                // its series and it is not moved here, while it is two copies or was lately (the host on record may not
                // have answered this time).
                if sample.running, let uuid = sample.uuid {
                    let inThisRun = (running[sample.domain] ?? []).filter { $0.host != uri && $0.uuid == uuid }.map(\.host).sorted().first
                    // Found so by separate runs: as of the other host's last collection that found it running.
                    let copies = try inThisRun.map { (host: $0, seen: now) } ?? session.runningBeside(host: uri, domain: sample.domain)
                    if let copies {
                        try session.setRunningCopies(vm: vm, hosts: [copies.host, uri], now: copies.seen)
                        session.warn("\(sample.domain): RUNNING ON TWO HOSTS, \([copies.host, uri].sorted().joined(separator: " and ")), "
                                     + (inThisRun != nil ? "in this collection" : "in each one's collections of the last minutes")
                                     + " (the same libvirt domain \(uuid)): a stale copy was started? Stop one before both write its disks; but first "
                                     + "confirm with virsh list on both that they are two hosts, not one collected under two URIs")
                    }
                    if let onRecord = recorded[vm], onRecord != uri, copies != nil || lately.contains(sample.domain) { continue }
                }
                if let vcpus = sample.vcpus { try emit(session, vm, "vcpus", Double(vcpus), now) }
                if let capacity = sample.memoryCapacity { try emit(session, vm, "mem_capacity", capacity, now) }
                if let used = sample.memoryUsed, sample.running { try emit(session, vm, "mem_used", used, now) }
                let before = previous[sample.domain]
                if let before, before.collectedAt >= now {
                    // The counters of this or a later collection stay: these, stamped with an earlier --now, would be
                    // the next rate's base at the wrong time.
                    if before.collectedAt > now { collectedLater.append(sample.domain) }
                } else if let before, now - before.collectedAt < DomainRates.shortestInterval, sample.running, !before.counters.isEmpty {
                    tooSoon.append(sample.domain)   // the earlier counters stay the base (a domain not running then has none)
                } else {
                    if let before {
                        if now - before.collectedAt > DomainRates.longestInterval { afterGap.append(sample.domain) }
                        let (rates, resets) = DomainRates.between(before, sample, at: now, bootTime: bootTime)
                        for (metric, value) in rates.sorted(by: { $0.key < $1.key }) { try emit(session, vm, metric, value, now) }
                        if resets == [DomainRates.collectorClock] {
                            clockStepped.append(sample.domain)
                        } else if resets == [DomainRates.domainID] {
                            session.warn("\(sample.domain): restarted since the last collection (a new domain ID); no rate this interval")
                        } else if resets == [DomainRates.stateReason] {
                            let reason = sample.counters[DomainRates.stateReason].map(DomainRates.runningReason) ?? "?"
                            session.warn("\(sample.domain): paused and resumed, or another change of state, since the last collection (running now: \(reason)); "
                                         + "no rate this interval (its paused time would read as idle)")
                        } else if !resets.isEmpty {
                            session.warn("\(sample.domain): counters went down (restarted?): \(resets.sorted().joined(separator: ", ")); no rate this interval")
                        }
                    } else if sample.running {
                        firstSeen.append(sample.domain)
                    }
                    // A domain not running (paused: a save under way or failed, a person's suspend; off) leaves no base:
                    // a rate from its counters would spread a running stretch over the whole interval, paused time read as
                    // idle. The next collection gives no rate, the one after does.
                    var counters = sample.running ? sample.counters : [:]
                    if sample.running, let bootTime {
                        counters[DomainRates.collectorClock] = bootTime.clock
                        counters[DomainRates.collectorBoot] = bootTime.boot
                    }
                    try session.recordCounters(host: uri, domain: sample.domain, snapshot: CounterSnapshot(collectedAt: now, counters: counters))
                }
                try session.setPlacement(vm: vm, host: uri)
                // Started again (a `virsh start` by hand): no longer saved, within the collector's minutes, not the inventory's hour.
                if sample.running { try session.clearSaved(vm: vm, now: now) }
            }
            if !firstSeen.isEmpty { session.warn("first collection for \(firstSeen.count) domain(s): counters recorded, rates from the next run") }
            if !afterGap.isEmpty {
                session.warn("\(afterGap.count) domain(s) last collected more than \(DurationText.format(DomainRates.longestInterval)) ago (collector down?): "
                             + "no rate over the gap, counters recorded, rates from the next run")
            }
            if !tooSoon.isEmpty {
                session.warn("\(tooSoon.count) domain(s) collected under \(DomainRates.shortestInterval) s after the last collection (a run by hand beside "
                             + "cron's?): no rate, the last collection's counters stay the next rate's base")
            }
            if !clockStepped.isEmpty {
                session.warn("\(clockStepped.count) domain(s): the wall clock stepped since the last collection (the collecting machine's boot-time clock "
                             + "moved by another interval than the stamps': NTP, a person?): no rate this interval, the counters recorded")
            }
            if !collectedLater.isEmpty {
                session.warn("\(collectedLater.count) domain(s) have counters of a collection after --now \(UTC.format(now)): kept, no rate")
            }
        }
    }

    private func emit(_ session: SampleSession, _ vm: Int64, _ metric: String, _ value: Double, _ now: EpochSeconds) throws {
        let id = try session.metricID(try MetricBinding.make(metric: metric, unit: nil).get())
        try session.emit(vm: vm, metric: id, time: now, value: value)
    }
}

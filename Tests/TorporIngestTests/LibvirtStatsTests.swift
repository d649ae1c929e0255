import Foundation
import Testing
import TorporCore
import TorporExecute
@testable import TorporIngest
import TorporStore
import TorporVirt

@Suite struct LibvirtStatsTests {
    let t0 = UTC.epoch(year: 2026, month: 1, day: 1)

    func sample(_ name: String, running: Bool = true, cpuSeconds: Double, rx: Double, wr: Double) -> DomainSample {
        DomainSample(domain: name, running: running, vcpus: 2,
                     counters: ["cpu.time": cpuSeconds * 1e9, "net.rx.bytes": rx, "net.tx.bytes": 0, "block.rd.bytes": 0, "block.wr.bytes": wr,
                                DomainRates.netCount: 1, DomainRates.blockCount: 1],
                     memoryCapacity: 2 * 1_073_741_824, memoryUsed: 536_870_912)
    }

    /// A collection's identity is the same in every process: its counters in name order, not a dictionary's.
    @Test func aSamplesFingerprintListsItsCountersByName() {
        var counters = [String: Double](minimumCapacity: 64)
        for (name, value) in [("net.tx.bytes", 2.0), ("cpu.time", 1), ("block.rd.bytes", 3)] { counters[name] = value }
        let sample = DomainSample(domain: "web-01", running: true, vcpus: 2, counters: counters, memoryCapacity: nil, memoryUsed: 5)
        #expect(sample.fingerprint == "web-01 - true 2 block.rd.bytes=3.0 cpu.time=1.0 net.tx.bytes=2.0 - 5.0\n")
    }

    @Test func ratesComeFromThePreviousCollectionsCounters() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        let first = try ingester.ingest([sample("web-01", cpuSeconds: 1000, rx: 5_000, wr: 0)], uri: "qemu:///system", now: t0)
        #expect(first.warnings.contains { $0.contains("first collection") })
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0) == nil, "the first run only records counters")
        #expect(try s.value(vm: "web-01", metric: "vcpus", time: t0) == 2)

        // 300 s later: 150 CPU-seconds on 2 vCPUs = 25 %; 300 KB received = 1,000 B/s; 3 MB written = 10,000 B/s.
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1150, rx: 305_000, wr: 3_000_000)], uri: "qemu:///system", now: t0 + 300)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 300) == 25)
        #expect(try s.value(vm: "web-01", metric: "net_rx", time: t0 + 300) == 1000)
        #expect(try s.value(vm: "web-01", metric: "disk_write", time: t0 + 300) == 10_000)
        #expect(try s.value(vm: "web-01", metric: "mem_used", time: t0 + 300) == 536_870_912)
        let vm = try s.store.read { try VMRepository.all(in: $0) }.first
        #expect(vm?.hostURI == "qemu:///system")
        #expect(vm?.vcpus == 2 && vm?.memoryBytes == 2 * 1_073_741_824)
    }

    /// A collection by hand a second after cron's (the stamps are whole seconds) gives no rate: 0.07 s of a busy VM's
    /// CPU over a 1 s stamp read 3.5 % on its 2 vCPUs, stored as real demand. The earlier counters stay the base.
    @Test func aCollectionSecondsAfterAnotherGivesNoRate() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1000, rx: 0, wr: 0)], uri: "h", now: t0)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1120, rx: 0, wr: 0)], uri: "h", now: t0 + 300)
        let byHand = try ingester.ingest([sample("web-01", cpuSeconds: 1120.07, rx: 0, wr: 0)], uri: "h", now: t0 + 301)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 301) == nil)
        #expect(byHand.warnings.contains { $0.contains("1 domain(s) collected under 60 s after the last collection") }, "\(byHand.warnings)")
        // Cron's next: over the 300 s from the base kept (t0 + 300), 150 CPU-seconds on 2 vCPUs: 25 %.
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1270, rx: 0, wr: 0)], uri: "h", now: t0 + 600)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 600) == 25)
    }

    @Test func aRestartedDomainGivesNoRateAndAStoppedOneNoUtilization() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        _ = try ingester.ingest([sample("a", cpuSeconds: 1000, rx: 5000, wr: 0), sample("b", cpuSeconds: 10, rx: 0, wr: 0)], uri: "h", now: t0)
        let r = try ingester.ingest([sample("a", cpuSeconds: 3, rx: 10, wr: 0), sample("b", running: false, cpuSeconds: 10, rx: 0, wr: 0)], uri: "h", now: t0 + 300)
        #expect(r.warnings.contains { $0.contains("a: counters went down") })
        #expect(try s.value(vm: "a", metric: "cpu_util", time: t0 + 300) == nil, "missing, never zero")
        #expect(try s.value(vm: "a", metric: "disk_write", time: t0 + 300) == nil, "nor a rate of a counter that did not go down (0 → 0)")
        #expect(try s.value(vm: "b", metric: "cpu_util", time: t0 + 300) == nil, "a VM that is off is missing data, not idle")
        // The counters after the restart are the base of the next interval.
        _ = try ingester.ingest([sample("a", cpuSeconds: 63, rx: 10, wr: 0)], uri: "h", now: t0 + 600)
        #expect(try s.value(vm: "a", metric: "cpu_util", time: t0 + 600) == 10)
    }

    /// A domain paused at a collection (a save under way or failed, a suspend) and running at the next gives no rate for
    /// that interval: its CPU time over the part it ran would read as a fifth of its demand (paused time read as idle).
    @Test func anIntervalThatBeganPausedGivesNoRate() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1000, rx: 0, wr: 0)], uri: "h", now: t0)
        _ = try ingester.ingest([sample("web-01", running: false, cpuSeconds: 1030, rx: 0, wr: 0)], uri: "h", now: t0 + 300)
        // Resumed 4 minutes later, both vCPUs busy for the last minute: 120 CPU-seconds, not 20 % of the interval.
        let resumed = try ingester.ingest([sample("web-01", cpuSeconds: 1150, rx: 0, wr: 0)], uri: "h", now: t0 + 600)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 600) == nil, "missing, not a fifth of its demand")
        #expect(resumed.warnings.isEmpty, "\(resumed.warnings)")
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1750, rx: 0, wr: 0)], uri: "h", now: t0 + 900)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 900) == 100)
    }

    /// After a collector outage the counters give no rate averaged over the gap (a bursty VM would look calm), only the
    /// next interval's base; a collection at a --now earlier than the stored counters' gives no rate and leaves them.
    @Test func aGapGivesNoRateAndAnEarlierNowKeepsTheStoredCounters() throws {
        let base = CounterSnapshot(collectedAt: 0, counters: ["cpu.time": 0])
        let busy = DomainSample(domain: "x", running: true, vcpus: 1, counters: ["cpu.time": 450e9], memoryCapacity: nil, memoryUsed: nil)
        #expect(DomainRates.between(base, busy, at: DomainRates.longestInterval).rates["cpu_util"] == 50)
        #expect(DomainRates.between(base, busy, at: DomainRates.longestInterval + 1).rates.isEmpty)

        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1000, rx: 0, wr: 0)], uri: "h", now: t0)
        // 6 h later: both vCPUs were busy for one hour of them, 16.7 % on average, which no sample may claim.
        let back = t0 + 6 * 3600
        let afterGap = try ingester.ingest([sample("web-01", cpuSeconds: 8200, rx: 0, wr: 0)], uri: "h", now: back)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: back) == nil, "a gap stays a gap")
        #expect(afterGap.warnings.contains { $0.hasPrefix("1 domain(s) last collected more than 15m ago") }, "\(afterGap.warnings)")
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 8350, rx: 0, wr: 0)], uri: "h", now: back + 300)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: back + 300) == 25, "the next interval has its rate")
        // Counters read later but stamped with an earlier --now: no rate, and the stored ones stay the base.
        let replayed = try ingester.ingest([sample("web-01", cpuSeconds: 8450, rx: 0, wr: 0)], uri: "h", now: back + 200)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: back + 200) == nil)
        #expect(replayed.warnings.contains { $0.contains("counters of a collection after --now") }, "\(replayed.warnings)")
        let stored = try s.store.read { try CounterRepository.latest(host: "h", in: $0) }["web-01"]
        #expect(stored == CounterSnapshot(collectedAt: back + 300, counters: sample("web-01", cpuSeconds: 8350, rx: 0, wr: 0).counters))
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 8410, rx: 0, wr: 0)], uri: "h", now: back + 600)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: back + 600) == 10)
    }

    /// Two hosts' domains of one name (other UUIDs): the first holds the name; the second's readings are left out with a
    /// warning naming both, never mixed in. A migration (the same UUID running elsewhere) moves the VM, and the copy left
    /// shut off behind it is ignored; a domain redefined on its host keeps the name; once the holder's host no longer
    /// lists it, another domain may take the name; a host listing nothing lets go of nothing.
    @Test func aNameAnotherHostsDomainHoldsIsNotMixedIn() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        let a = "qemu+ssh://a/system", b = "qemu+ssh://b/system"
        func web(_ uuid: String, cpuSeconds: Double, running: Bool = true, name: String = "web-01") -> DomainSample {
            var d = sample(name, running: running, cpuSeconds: cpuSeconds, rx: 0, wr: 0)
            d.uuid = uuid
            return d
        }
        func host() throws -> String? { try s.store.read { try VMRepository.all(in: $0) }.first { $0.name == "web-01" }?.hostURI }
        func clashes(_ r: IngestReport) -> [String] { r.warnings.filter { $0.contains("unique across the fleet") } }
        _ = try ingester.ingest([web("uuid-a", cpuSeconds: 1000)], uri: a, now: t0)
        _ = try ingester.ingest([web("uuid-a", cpuSeconds: 1030)], uri: a, now: t0 + 300)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 300) == 5)
        // Host b has a web-01 of its own, busy: not stored, and said.
        _ = try ingester.ingest([web("uuid-b", cpuSeconds: 9000)], uri: b, now: t0 + 301)
        let clash = try ingester.ingest([web("uuid-b", cpuSeconds: 9600)], uri: b, now: t0 + 601)
        #expect(clashes(clash).first?.hasPrefix("web-01 on \(b) (uuid uuid-b) is not web-01 on \(a) (uuid uuid-a)") == true, "\(clash.warnings)")
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 601) == nil && s.value(vm: "web-01", metric: "vcpus", time: t0 + 601) == nil)
        #expect(try host() == a)
        // Migrated from a to b (b's own web-01 renamed meanwhile): the same domain, running on b, is the VM; the copy
        // left shut off on a says nothing of it and does not move it back.
        _ = try ingester.ingest([web("uuid-a", cpuSeconds: 1060)], uri: b, now: t0 + 900)
        #expect(try host() == b)
        _ = try ingester.ingest([web("uuid-a", cpuSeconds: 1060, running: false)], uri: a, now: t0 + 1000)
        #expect(try host() == b && s.value(vm: "web-01", metric: "vcpus", time: t0 + 1000) == nil)
        // Redefined on b (a new UUID on the host on record): still web-01.
        let redefined = try ingester.ingest([web("uuid-c", cpuSeconds: 10)], uri: b, now: t0 + 1200)
        #expect(try clashes(redefined).isEmpty && s.value(vm: "web-01", metric: "vcpus", time: t0 + 1200) == 2)
        // a's next web-01 is another domain: left out while b has web-01, even when b answers with no domain at all.
        #expect(try clashes(ingester.ingest([web("uuid-d", cpuSeconds: 10)], uri: a, now: t0 + 1500)).count == 1)
        _ = try ingester.ingest([], uri: b, now: t0 + 1600)
        #expect(try clashes(ingester.ingest([web("uuid-d", cpuSeconds: 10)], uri: a, now: t0 + 1700)).count == 1)
        // b lists its domains without web-01 (undefined): the name is free, and a's takes it over.
        _ = try ingester.ingest([web("uuid-e", cpuSeconds: 10, name: "db-01")], uri: b, now: t0 + 1800)
        #expect(try host() == nil)
        let taken = try ingester.ingest([web("uuid-d", cpuSeconds: 10)], uri: a, now: t0 + 2100)
        #expect(try clashes(taken).isEmpty && host() == a)
        // An operator lets go of a dead host's VM.
        #expect(try s.store.transaction { try VMRepository.release("web-01", in: $0) } == .released && host() == nil)
        #expect(try s.store.transaction { try VMRepository.release("web-01", in: $0) } == .alreadyFree, "released twice: said so")
        #expect(try s.store.transaction { try VMRepository.release("no-such-vm", in: $0) } == .unknownVM)
    }

    /// A VM's own domain (its UUID) that one collection finds running on two hosts is two copies, not a migration (whose
    /// destination is paused until the switch): said, whichever host is stored first; the VM stays on the host on
    /// record, its readings from there only, also while that host does not answer (it was two copies lately); `check`
    /// names it once two collections in a row found it so (one alone may have read a migration's source before the
    /// switch and its destination after), until three collections have passed without. A migration between collections
    /// still moves the VM.
    @Test func aVMRunningOnTwoHostsInOneCollectionIsTwoCopies() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        let a = "qemu+ssh://a/system", b = "qemu+ssh://b/system"
        func web(_ cpuSeconds: Double) -> DomainSample {
            var d = sample("web-01", cpuSeconds: cpuSeconds, rx: 0, wr: 0)
            d.uuid = "uuid-a"
            return d
        }
        /// One collection of these hosts, each stored in turn knowing what every one runs (as `collect(uris:)` does).
        func collection(_ hosts: [(String, DomainSample)], at now: EpochSeconds) throws -> [IngestReport] {
            let running = DomainStatsIngester.running(hosts.map { ($0.0, [$0.1]) })
            return try hosts.map { try ingester.ingest([$0.1], uri: $0.0, now: now, running: running) }
        }
        func host() throws -> String? { try s.store.read { try VMRepository.all(in: $0) }.first { $0.name == "web-01" }?.hostURI }
        func twice(_ r: IngestReport) -> Bool { r.warnings.contains { $0.hasPrefix("web-01: RUNNING ON TWO HOSTS, \(a) and \(b), in this collection") } }
        func named(at now: EpochSeconds) throws -> [String] {
            try ExecutionCheck.problems(store: s.store, now: now, grace: 600, collectorSilence: 0).filter { $0.kind == .runningOnTwoHosts }.map(\.text)
        }
        _ = try collection([(a, web(1000))], at: t0)
        // A migration between collections: the VM moves to b.
        #expect(try collection([(b, web(1030))], at: t0 + 300).allSatisfy { !twice($0) } && host() == b)
        // One collection finds it on both, the stale copy's host stored first: said on each, not moved; not named yet.
        let first = try collection([(a, web(2300)), (b, web(1060))], at: t0 + 600)
        #expect(try first.allSatisfy(twice) && host() == b, "\(first.map(\.warnings))")
        #expect(try named(at: t0 + 700).isEmpty, "one collection alone may be a migration read across its switch")
        // The next, in the other order: the same; the VM's reading is b's (a's would be 50 %).
        #expect(try collection([(b, web(1090)), (a, web(2600))], at: t0 + 900).allSatisfy(twice) && host() == b)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 900) == 5)
        let text = try named(at: t0 + 900)
        #expect(text == ["web-01: RUNNING ON TWO HOSTS, \(a) and \(b) (the same libvirt domain, in collections in a row; torpor's record has it on \(b)): "
                         + "a stale copy was started (a host back with an old saved image?), or one host is collected under two URIs (TORPOR_LIBVIRT_URI, or two collectors' --uri); confirm "
                         + "with virsh list on both, then stop the stale copy before both write its disks (virsh destroy, then virsh undefine --managed-save there)"])
        // b does not answer the next: a's copy is not taken for the VM migrated back.
        _ = try collection([(a, web(2900))], at: t0 + 1200)
        #expect(try host() == b && s.value(vm: "web-01", metric: "cpu_util", time: t0 + 1200) == nil)
        #expect(try named(at: t0 + 900 + 15 * 60) == text && named(at: t0 + 901 + 15 * 60).isEmpty, "named for three collections after the last")
    }

    /// Hosts collected by separate runs (a collector per host): a VM's own domain found running on both, each host's
    /// collections finding it 2 minutes or more after the other's first did, is two copies all the same: said from a's
    /// collection after b's first, the VM then kept where it is, `check` naming it once collections in a row found it so.
    /// A migration between them, whose collections' stamps straddle its switch by seconds, is not.
    @Test func aVMRunningOnTwoHostsCollectedBySeparateRunsIsTwoCopies() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        let a = "qemu+ssh://a/system", b = "qemu+ssh://b/system"
        func domain(_ name: String, _ cpuSeconds: Double) -> DomainSample {
            var d = sample(name, cpuSeconds: cpuSeconds, rx: 0, wr: 0)
            d.uuid = "uuid-" + name
            return d
        }
        func said(_ r: IngestReport) -> Bool {
            r.warnings.contains { $0.hasPrefix("web-01: RUNNING ON TWO HOSTS, \(a) and \(b), in each one's collections of the last minutes") }
        }
        // a's collections at :00, :05, …; b's two minutes later find a copy started there.
        var found: [String] = []
        for (host, time) in [(a, t0), (a, t0 + 300), (b, t0 + 420), (a, t0 + 600), (b, t0 + 720), (a, t0 + 900), (b, t0 + 1020)] {
            if try said(ingester.ingest([domain("web-01", Double(time - t0))], uri: host, now: time)) { found.append("\(host == a ? "a" : "b") \(time - t0)") }
        }
        #expect(found == ["a 600", "b 720", "a 900", "b 1020"])
        let named = try ExecutionCheck.problems(store: s.store, now: t0 + 1100, grace: 600, collectorSilence: 0).filter { $0.kind == .runningOnTwoHosts }
        #expect(named.map(\.vm) == ["web-01"], "\(named.map(\.text))")
        // web-02 migrates from a to b: a's collection stamped 3 s after b's first, read before the switch.
        var migration: [IngestReport] = []
        for (host, time) in [(a, t0 + 1200), (a, t0 + 1500), (b, t0 + 1800), (a, t0 + 1803), (b, t0 + 2100), (b, t0 + 2400)] {
            migration.append(try ingester.ingest([domain("web-02", Double(time - t0))], uri: host, now: time))
        }
        #expect(migration.allSatisfy { !$0.warnings.contains { $0.contains("RUNNING ON TWO HOSTS") } }, "\(migration.map(\.warnings))")
        #expect(try s.store.read { try VMRepository.host(of: "web-02", in: $0) } == b)
    }

    /// A VM recorded on its host before torpor kept UUIDs stays that host's: another host's domain of its name is a
    /// clash until the recorded host lists the VM (taking its UUID) or lets it go.
    @Test func aVMRecordedBeforeUUIDsStaysItsHosts() throws {
        let s = try Scratch()
        try s.store.transaction { db in
            try VMRepository.setHost(vm: try VMRepository.id(of: "web-01", in: db, now: t0), hostURI: "h1", in: db)
        }
        var other = sample("web-01", cpuSeconds: 10, rx: 0, wr: 0), own = other
        other.uuid = "uuid-2"
        own.uuid = "uuid-1"
        let refused = try DomainStatsIngester(store: s.store).ingest([other], uri: "h2", now: t0)
        #expect(refused.warnings.contains { $0.contains("is not web-01 on h1 (uuid not recorded yet)") }, "\(refused.warnings)")
        _ = try DomainStatsIngester(store: s.store).ingest([own], uri: "h1", now: t0 + 300)
        let still = try DomainStatsIngester(store: s.store).ingest([other], uri: "h2", now: t0 + 600)
        #expect(still.warnings.contains { $0.contains("is not web-01 on h1 (uuid uuid-1)") })
        // Only web-01's own domain's run is recorded (`DomainRuns`): the other domain of its name on h2 never ran web-01.
        #expect(try s.store.read { try DomainRuns.ranBesides(domain: "web-01", besides: "h1", after: 0, until: t0 + 600, in: $0) } == nil)
        #expect(try s.store.read { try DomainRuns.ranBesides(domain: "web-01", besides: "h2", after: 0, until: t0 + 600, in: $0) } == "h1")
    }

    /// The same through `torpor-ingest inventory`, on two test-driver hosts whose web-01 are different domains.
    @Test func theInventoryLeavesOutADomainWhoseNameAnotherHostsHolds() throws {
        let s = try Scratch()
        func node(_ uuid: String, _ name: String) -> String {
            "<node><domain type='test'><name>\(name)</name><uuid>\(uuid)</uuid><memory unit='KiB'>1048576</memory><vcpu>1</vcpu>"
                + "<os><type>hvm</type></os></domain></node>"
        }
        let a = "test://" + (try s.write("a.xml", node("6f1c1a52-3c0e-4d8a-9d4e-1a2b3c4d5e6f", "web-01")))
        let b = "test://" + (try s.write("b.xml", "<node>" + [("7a2d2b63-4d1f-4e9b-8e5f-2b3c4d5e6f70", "web-01"), ("8b3e3c74-5e20-4fac-9f60-3c4d5e6f7081", "db-01")]
            .map { node($0.0, $0.1).dropFirst(6).dropLast(7) }.joined() + "</node>"))
        let ingester = InventoryIngester(store: s.store)
        let first = try ingester.ingest(uri: a, now: t0)
        #expect(first.entries.map(\.name) == ["web-01"] && first.clashes.isEmpty)
        let second = try ingester.ingest(uri: b, now: t0 + 60)
        #expect(second.entries.map(\.name) == ["db-01"])
        #expect(second.clashes.map(\.description).first?.contains("web-01 on \(b) (uuid 7a2d2b63-4d1f-4e9b-8e5f-2b3c4d5e6f70) is not web-01 on \(a)") == true)
        let vms = try s.store.read { try VMRepository.all(in: $0) }
        #expect(vms.first { $0.name == "web-01" }?.hostURI == a && vms.first { $0.name == "db-01" }?.hostURI == b)
        // A VM's own domain found running leaves a stretch (`DomainRuns`); the other VM of the same name on b, none.
        let ran = try s.store.read { db in
            try ["web-01", "db-01"].map { try DomainRuns.ranBesides(domain: $0, besides: a, after: 0, until: t0 + 60, in: db) }
        }
        #expect(ran == [nil, b])
    }

    /// The inventory tells a domain shut off with libvirt's saved image of it (asleep, whoever saved it) from one shut off
    /// without, and from a running one; the store keeps when it first and last found it so, and forgets it once found
    /// otherwise.
    @Test func theInventoryTellsADomainLibvirtHoldsSaved() throws {
        let s = try Scratch()
        let connection = try VirtConnection(uri: "test://" + Paths.repository + "/sample-data/fleet.xml")
        try connection.domain(named: "web-02").managedSave()
        try connection.domain(named: "db-01").destroy()
        let saved = try InventoryIngester.read(try connection.domains()).entries.filter(\.entry.saved).map(\.entry.name)
        #expect(saved == ["web-02"], "not the one shut off without an image, nor a running one")
        try s.store.transaction { db in
            let id = try VMRepository.id(of: "web-02", in: db, now: t0)
            try VMRepository.setSaved(vm: id, true, now: t0, in: db)
            try VMRepository.setSaved(vm: id, true, now: t0 + 3600, in: db)
        }
        #expect(try s.store.read { try VMRepository.saved(in: $0) }.isEmpty, "a VM on no host is named by none")
        try s.store.transaction { db in
            let id = try VMRepository.id(of: "web-02", in: db, now: t0)
            try VMRepository.setHost(vm: id, hostURI: "h", in: db)
            try VMRepository.setSaved(vm: id, false, now: t0 + 60, in: db)   // a replay of an earlier time changes nothing later seen
        }
        #expect(try s.store.read { try VMRepository.saved(in: $0) } == [SavedDomain(vm: "web-02", host: "h", since: t0, seen: t0 + 3600)])
        // The collector finds it running (started again by hand): no longer saved.
        let running = DomainStatsIngester(store: s.store)
        _ = try running.ingest([sample("web-02", cpuSeconds: 1, rx: 0, wr: 0)], uri: "h", now: t0 + 7200)
        #expect(try s.store.read { try VMRepository.saved(in: $0) }.isEmpty)
        // Released (a host let go, a domain undefined): forgotten.
        try s.store.transaction { db in
            let id = try VMRepository.id(of: "web-02", in: db, now: t0)
            try VMRepository.setSaved(vm: id, true, now: t0 + 9000, in: db)
            _ = try VMRepository.release("web-02", in: db)
            try VMRepository.setHost(vm: id, hostURI: "h", in: db)
        }
        #expect(try s.store.read { try VMRepository.saved(in: $0) }.isEmpty)
    }

    /// vCPUs plugged or unplugged between two collections give no utilization for that interval (divided by the new
    /// count, 2 → 8 reads four times idler); a NIC whose traffic libvirt does not report makes the traffic missing, not
    /// the other NICs' alone; a guest's balloon reporting more unused than available memory is no reading.
    @Test func hotPluggedVCPUsUnreportedDevicesAndImpossibleBalloonsGiveNoValue() throws {
        let previous = CounterSnapshot(collectedAt: 0, counters: ["cpu.time": 0, DomainRates.vcpuCount: 2])
        let plugged = DomainSample(domain: "x", running: true, vcpus: 8, counters: ["cpu.time": 300e9, DomainRates.vcpuCount: 8], memoryCapacity: nil, memoryUsed: nil)
        #expect(DomainRates.between(previous, plugged, at: 300).rates["cpu_util"] == nil)
        let same = DomainSample(domain: "x", running: true, vcpus: 2, counters: ["cpu.time": 300e9, DomainRates.vcpuCount: 2], memoryCapacity: nil, memoryUsed: nil)
        #expect(DomainRates.between(previous, same, at: 300).rates["cpu_util"] == 50)
        let record = DomainStatsRecord(domainName: "x", domainUUID: "", values: [
            "state.state": .int(1), "vcpu.current": .uint(2), "cpu.time": .uint(5),
            "net.count": .uint(2), "net.0.rx.bytes": .uint(100), "net.0.tx.bytes": .uint(7), "net.1.tx.bytes": .uint(9),
            "balloon.maximum": .uint(1024), "balloon.available": .uint(100), "balloon.unused": .uint(200)])
        let sample = DomainSample(record)
        #expect(sample.counters["net.rx.bytes"] == nil && sample.counters["net.tx.bytes"] == 16 && sample.counters[DomainRates.vcpuCount] == 2)
        #expect(sample.memoryUsed == nil && sample.memoryCapacity == 1024 * 1024)
    }

    /// An interface or disk unplugged or plugged between two collections gives no network or disk rate for that
    /// interval: the sum over the devices had read the NIC that stayed, 4 MB/s, less the unplugged one's total, as
    /// 0.67 MB/s. The other rates stand. Counters stored before the number of devices was kept give no such rate once.
    @Test func devicesPluggedOrUnpluggedGiveNoRateOfTheirKind() {
        func record(cpuSeconds: UInt64, received: [UInt64], written: [UInt64]) -> DomainSample {
            var values: [String: TypedValue] = ["state.state": .int(1), "vcpu.current": .uint(1), "cpu.time": .uint(cpuSeconds * 1_000_000_000),
                                                "net.count": .uint(UInt64(received.count)), "block.count": .uint(UInt64(written.count))]
            for (i, bytes) in received.enumerated() { (values["net.\(i).rx.bytes"], values["net.\(i).tx.bytes"]) = (.uint(bytes), .uint(0)) }
            for (i, bytes) in written.enumerated() { (values["block.\(i).wr.bytes"], values["block.\(i).rd.bytes"]) = (.uint(bytes), .uint(0)) }
            return DomainSample(DomainStatsRecord(domainName: "x", domainUUID: "", values: values))
        }
        let previous = CounterSnapshot(collectedAt: 0, counters: record(cpuSeconds: 0, received: [1_000_000_000, 1_000_000_000], written: [0]).counters)
        #expect(previous.counters[DomainRates.netCount] == 2 && previous.counters[DomainRates.blockCount] == 1)
        let unplugged = DomainRates.between(previous, record(cpuSeconds: 30, received: [2_200_000_000], written: [3_000_000]), at: 300)
        #expect(unplugged.rates["net_rx"] == nil && unplugged.rates["net_tx"] == nil && unplugged.resets.isEmpty, "\(unplugged)")
        #expect(unplugged.rates["cpu_util"] == 10 && unplugged.rates["disk_write"] == 10_000, "\(unplugged)")
        let plugged = DomainRates.between(previous, record(cpuSeconds: 30, received: [1_000_000_000, 1_000_000_000], written: [3_000_000, 0]), at: 300)
        #expect(plugged.rates["disk_write"] == nil && plugged.rates["disk_read"] == nil && plugged.rates["net_rx"] == 0, "\(plugged)")
        let same = DomainRates.between(previous, record(cpuSeconds: 30, received: [2_200_000_000, 1_000_000_000], written: [3_000_000]), at: 300)
        #expect(same.rates["net_rx"] == 4_000_000 && same.rates["disk_write"] == 10_000)
        var stored = previous.counters
        (stored[DomainRates.netCount], stored[DomainRates.blockCount]) = (nil, nil)
        let upgraded = DomainRates.between(CounterSnapshot(collectedAt: 0, counters: stored), record(cpuSeconds: 30, received: [2_200_000_000, 1_000_000_000], written: [3_000_000]), at: 300)
        #expect(upgraded.rates == ["cpu_util": 10], "\(upgraded)")
    }

    /// A domain undefined between the host's listing and its reading is left out and named, the others registered: its
    /// "Domain not found" had failed the whole host's inventory.
    @Test func aDomainGoneBeforeItIsReadIsLeftOut() throws {
        let s = try Scratch()
        let node = "<node>" + ["web-01", "web-02"].map {
            "<domain type='test'><name>\($0)</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        }.joined() + "</node>"
        let connection = try VirtConnection.open(uri: "test://" + (try s.write("node.xml", node)))
        let listed = try connection.domains()
        let gone = try connection.domain(named: "web-01")
        if try gone.info().state == .running { try gone.destroy() }
        try gone.undefine()
        let read = try InventoryIngester.read(listed)
        #expect(read.entries.map(\.entry.name) == ["web-02"] && read.vanished == ["web-01"])
    }

    /// A domain whose name no VM can have (libvirt allows a tab, or 300 bytes) is left out and said, by the collector
    /// and the inventory alike: it had refused its whole host's collection every 5 minutes, every VM there silent.
    @Test func aDomainWithANameNoVMCanHaveIsLeftOut() throws {
        let s = try Scratch()
        let long = String(repeating: "x", count: 300)
        let report = try DomainStatsIngester(store: s.store).ingest([sample("bad\tname", cpuSeconds: 1, rx: 0, wr: 0), sample(long, cpuSeconds: 1, rx: 0, wr: 0),
                                                                     sample("web-01", cpuSeconds: 1, rx: 0, wr: 0)], uri: "h", now: t0)
        #expect(report.vms == ["web-01"], "\(report)")
        #expect(report.warnings.contains("domain \"bad\\tname\": its name has control characters: not collected (rename it to be planned)"), "\(report.warnings)")
        #expect(report.warnings.contains { $0.contains("its name is over 255 bytes") })
        let node = "<node>" + ["bad&#9;name", "web-01"].map {
            "<domain type='test'><name>\($0)</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        }.joined() + "</node>"
        let read = try InventoryIngester.read(try VirtConnection.open(uri: "test://" + (try s.write("node.xml", node))).domains())
        #expect(read.entries.map(\.entry.name) == ["web-01"] && read.problems == ["domain \"bad\\tname\": its name has control characters: not registered (rename it to be planned)"],
                "\(read.problems)")
    }

    /// Labels not written as `key=value` are said, not dropped unsaid (a mistyped `exclude` group's label would let the
    /// VM be planned as any other); spaces around `=`, semicolons and XML's entities are read.
    @Test func labelsThatAreNotKeyValueAreSaid() {
        func parsed(_ text: String) -> (labels: [String: String], problems: [String]) {
            InventoryIngester.parseLabels("<torpor:labels xmlns:torpor='\(InventoryIngester.labelsNamespace)'>\(text)</torpor:labels>")
        }
        #expect(parsed("tier=gold,group=web") == (["tier": "gold", "group": "web"], []))
        #expect(parsed("tier = gold; group=web").labels == ["tier": "gold", "group": "web"])
        #expect(parsed("team=r&amp;d").labels == ["team": "r&d"])
        let colon = parsed("tier: gold, group=web")
        #expect(colon.labels == ["group": "web"] && colon.problems.count == 2 && colon.problems[0].hasPrefix("label 'tier:' is not key=value: left out"), "\(colon)")
        #expect(parsed("tier=gold tier=bronze") == (["tier": "bronze"], ["label tier given twice: the last, tier=bronze, kept over tier=gold"]))
        #expect(parsed("exclude=").problems.count == 1)
        let spaced = parsed("exclude= tier=gold")
        #expect(spaced.labels.isEmpty && spaced.problems == ["label 'exclude=tier=gold' is not key=value: left out (the policy's groups, tiers and exclusions go by labels)"])
    }

    /// A domain stopped and started again within an interval has a new ID: its new CPU time, already above the old
    /// domain's, is no rate (over less than the interval, it would read idler than the VM is).
    @Test func aDomainRestartedWithinAnIntervalGivesNoRate() {
        let record = { (id: UInt32?, cpu: UInt64) in
            DomainSample(DomainStatsRecord(domainName: "x", domainUUID: "", domainID: id, values: ["state.state": .int(1), "vcpu.current": .uint(1), "cpu.time": .uint(cpu)]))
        }
        let old = record(7, 20_000_000_000)
        #expect(old.counters[DomainRates.domainID] == 7)
        let previous = CounterSnapshot(collectedAt: 0, counters: old.counters)
        #expect(DomainRates.between(previous, record(8, 50_000_000_000), at: 300) == ([:], [DomainRates.domainID]))
        #expect(DomainRates.between(previous, record(7, 50_000_000_000), at: 300).rates["cpu_util"] == 10)
        #expect(DomainRates.between(previous, record(nil, 50_000_000_000), at: 300).rates["cpu_util"] == 10, "an ID libvirt cannot give: as before")
    }

    /// A domain paused and resumed within an interval (a person's suspend, a save canceled) runs for another reason
    /// (libvirt's state reason): its paused time counted no CPU, so no rate (it would read as idle time: missing is not idle).
    @Test func aDomainPausedAndResumedWithinAnIntervalGivesNoRate() {
        let record = { (reason: Int64?, cpu: UInt64) in
            DomainSample(DomainStatsRecord(domainName: "x", domainUUID: "", domainID: 7, values: ["state.state": .int(1), "vcpu.current": .uint(1), "cpu.time": .uint(cpu)]
                .merging(reason.map { ["state.reason": .int($0)] } ?? [:]) { a, _ in a }))
        }
        let booted = record(1, 20_000_000_000)
        #expect(booted.counters[DomainRates.stateReason] == 1)
        let previous = CounterSnapshot(collectedAt: 0, counters: booted.counters)
        #expect(DomainRates.between(previous, record(5, 50_000_000_000), at: 300) == ([:], [DomainRates.stateReason]))
        #expect(DomainRates.between(previous, record(1, 50_000_000_000), at: 300).rates["cpu_util"] == 10)
        #expect(DomainRates.between(CounterSnapshot(collectedAt: 0, counters: ["cpu.time": 20e9]), record(5, 50_000_000_000), at: 300).rates["cpu_util"] == 10,
                "counters stored before the reason was kept: as before")
        #expect(DomainRates.runningReason(5) == "unpaused" && DomainRates.runningReason(42) == "reason 42")
    }

    /// A step of the wall clock between two live collections (NTP, a person) makes the stamps' interval another time
    /// than passed: the collecting machine's boot-time clock, kept with the counters, tells it, and that interval gives
    /// no rate (a 5-minute step read a busy VM at half its use), said once for the host. The next interval, stamps and
    /// boot-time clock agreeing, gives one; a boot-time clock gone back (the collecting machine rebooted) is not compared.
    @Test func aStepOfTheWallClockBetweenCollectionsGivesNoRate() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        let t0: EpochSeconds = 1_700_000_000
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 100, rx: 0, wr: 0)], uri: "h", now: t0, bootTime: (1000, 7))
        // Stamped 600 s later, while 300 s passed: the clock stepped 5 minutes forward.
        let stepped = try ingester.ingest([sample("web-01", cpuSeconds: 400, rx: 0, wr: 0)], uri: "h", now: t0 + 600, bootTime: (1300, 7))
        #expect(stepped.warnings.contains { $0.hasPrefix("1 domain(s): the wall clock stepped since the last collection") }, "\(stepped.warnings)")
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 600) == nil)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 700, rx: 0, wr: 0)], uri: "h", now: t0 + 900, bootTime: (1601, 7))
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 900) == 50)
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1000, rx: 0, wr: 0)], uri: "h", now: t0 + 1200, bootTime: (40, 8))
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 1200) == 50, "another boot of the collecting machine: not compared")
        _ = try ingester.ingest([sample("web-01", cpuSeconds: 1300, rx: 0, wr: 0)], uri: "h", now: t0 + 1500, bootTime: (900, 9))
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 1500) == 50, "another machine sharing the store: not compared")
        #expect(DomainRates.bootTime() ?? 0 > 0 && DomainRates.bootID != nil)
        // The boot id's 48 bits as a number, not as a float's bits (a subnormal that flushing to zero would make every
        // boot's the same).
        #expect(DomainRates.bootID.map { $0 >= 1 && $0 == $0.rounded() && $0 < 0x1p48 } == true, "\(String(describing: DomainRates.bootID))")
    }

    /// One host reached under two URIs by separate runs (a person's inventory under another spelling than the
    /// collector's): the second is refused while the first was read within `heldAcrossRunsFor`, naming it; later the
    /// host is read under the new one. Another host, or a URI libvirt gives no identity for, is never refused.
    @Test func aHostReadUnderAnotherURIByAnotherRunIsRefused() throws {
        let store = try Scratch().store
        let host = HostIdentity(hostname: "hv1", uuid: "u-1", scope: "QEMU /system")
        try store.transaction { try HostAliases.admitAcrossRuns("qemu:///system", host, now: 1000, in: $0) }
        let refused = #expect(throws: IngestError.self) {
            try store.transaction { try HostAliases.admitAcrossRuns("qemu+ssh://hv1/system", host, now: 1300, in: $0) }
        }
        #expect(refused?.isBadInput == true && refused?.description.contains("the same host as qemu:///system (host hv1, host UUID u-1, QEMU /system), "
                                                                              + "which the store read under that URI at \(UTC.format(1000))") == true, "\(String(describing: refused))")
        try store.transaction { db in
            try HostAliases.admitAcrossRuns("qemu:///system", host, now: 1300, in: db)   // the same URI again
            try HostAliases.admitAcrossRuns("qemu+ssh://hv2/system", HostIdentity(hostname: "hv2", uuid: "u-2", scope: "QEMU /system"), now: 1300, in: db)
            try HostAliases.admitAcrossRuns("qemu+ssh://hv1/system", nil, now: 1300, in: db)
            try HostAliases.admitAcrossRuns("qemu+ssh://hv1/system", host, now: 1300 + HostAliases.heldAcrossRunsFor + 1, in: db)
        }
        let refusedBack = #expect(throws: IngestError.self) {
            try store.transaction { try HostAliases.admitAcrossRuns("qemu:///system", host, now: 1300 + HostAliases.heldAcrossRunsFor + 2, in: $0) }
        }
        #expect(refusedBack?.description.contains("the same host as qemu+ssh://hv1/system") == true)
        // A replay of a time far from the live reads (a copy of the store, --now a month back) is not refused by them.
        try store.transaction { try HostAliases.admitAcrossRuns("qemu:///system", host, now: 1300 - 30 * 86_400, in: $0) }
    }

    @Test func ratesClampCPUAtOneHundredPercent() {
        let previous = CounterSnapshot(collectedAt: 0, counters: ["cpu.time": 0])
        let current = DomainSample(domain: "x", running: true, vcpus: 1, counters: ["cpu.time": 400e9], memoryCapacity: nil, memoryUsed: nil)
        #expect(DomainRates.between(previous, current, at: 300).rates["cpu_util"] == 100)
        #expect(DomainRates.between(previous, current, at: 0).rates.isEmpty, "no interval, no rate")
    }

    /// libvirt's test driver gives only the state group: the collection registers the domain with its host.
    @Test func collectsFromTheTestDriver() throws {
        let s = try Scratch()
        let r = try DomainStatsIngester(store: s.store).collect(uri: "test:///default", now: t0)
        #expect(r.vms == ["test"] && r.kind == "libvirt")
        let counters = try s.store.read { try CounterRepository.latest(host: "test:///default", in: $0) }
        #expect(counters["test"]?.collectedAt == t0)
        let vm = try s.store.read { try VMRepository.all(in: $0) }.first
        #expect(vm?.hostURI == "test:///default")
        let e = #expect(throws: IngestError.self) { _ = try DomainStatsIngester(store: s.store).collect(uri: "test:///nonexistent.xml", now: t0) }
        #expect(e?.isBadInput == false)
    }

    /// A URI that reaches a host's domains an earlier URI of the run reached (the same name, host UUID, driver and path)
    /// is refused as bad input naming the first; a host libvirt cannot identify, another host of the same name, or the
    /// same host's session domains are not.
    @Test func aHostReachedTwiceIsRefusedTheSecondTime() throws {
        var aliases = HostAliases()
        let kvm1 = HostIdentity(hostname: "kvm1", uuid: "5554db08-0d55-44cc-b258-40e35a7b156a", scope: "QEMU /system")
        try aliases.admit("qemu:///system", kvm1)
        try aliases.admit("qemu+ssh://kvm2/system", HostIdentity(hostname: "kvm1", uuid: "11111111-0d55-44cc-b258-40e35a7b156a", scope: "QEMU /system"))
        try aliases.admit("qemu:///session", HostIdentity(hostname: "kvm1", uuid: "5554db08-0d55-44cc-b258-40e35a7b156a", scope: "QEMU /session"))
        try aliases.admit("test:///default", nil)
        try aliases.admit("test:///other.xml", nil)
        let e = #expect(throws: IngestError.self) { try aliases.admit("qemu+ssh://kvm1/system", kvm1) }
        #expect(e?.description == "qemu+ssh://kvm1/system: the same host as qemu:///system (host kvm1, host UUID 5554db08-0d55-44cc-b258-40e35a7b156a, "
                + "QEMU /system): read once, under qemu:///system; list each host once (--uri, TORPOR_LIBVIRT_URI), or give two hosts cloned with one "
                + "name and SMBIOS UUID a host_uuid each (libvirtd.conf, or virtqemud.conf)" && e?.isBadInput == true)
    }

    /// Each host of a collection is stamped as it is read (live, by the clock), not at the run's start: a host read after
    /// others that took long (a dead host's timeout) has its counters, and so its next rates, as of its own read. A host
    /// that does not answer takes no stamp.
    @Test func eachHostOfACollectionIsStampedAsItIsRead() throws {
        let s = try Scratch()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let fleet = "test://" + repository + "/sample-data/fleet.xml"
        var stamps = [t0, t0 + 95]
        let collections = DomainStatsIngester(store: s.store).collect(uris: ["test:///default", "test:///nonexistent.xml", fleet], stamp: { stamps.isEmpty ? t0 + 999 : stamps.removeFirst() })
        #expect(stamps.isEmpty, "one stamp per host that answered")
        #expect(collections.compactMap { try? $0() }.count == 2)
        let counters = try s.store.read { db in try ["test:///default", fleet].map { try CounterRepository.latest(host: $0, in: db).values.map(\.collectedAt) } }
        #expect(counters[0] == [t0] && !counters[1].isEmpty && counters[1].allSatisfy { $0 == t0 + 95 }, "\(counters)")
    }
}

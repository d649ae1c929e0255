import Foundation
import Testing
import TorporCore
@testable import TorporIngest
import TorporStore

@Suite struct LibvirtStatsTests {
    let t0 = UTC.epoch(year: 2026, month: 1, day: 1)

    func sample(_ name: String, running: Bool = true, cpuSeconds: Double, rx: Double, wr: Double) -> DomainSample {
        DomainSample(domain: name, running: running, vcpus: 2,
                     counters: ["cpu.time": cpuSeconds * 1e9, "net.rx.bytes": rx, "net.tx.bytes": 0, "block.rd.bytes": 0, "block.wr.bytes": wr],
                     memoryCapacity: 2 * 1_073_741_824, memoryUsed: 536_870_912)
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

    @Test func aRestartedDomainGivesNoRateAndAStoppedOneNoUtilization() throws {
        let s = try Scratch()
        let ingester = DomainStatsIngester(store: s.store)
        _ = try ingester.ingest([sample("a", cpuSeconds: 1000, rx: 5000, wr: 0), sample("b", cpuSeconds: 10, rx: 0, wr: 0)], uri: "h", now: t0)
        let r = try ingester.ingest([sample("a", cpuSeconds: 3, rx: 10, wr: 0), sample("b", running: false, cpuSeconds: 10, rx: 0, wr: 0)], uri: "h", now: t0 + 300)
        #expect(r.warnings.contains { $0.contains("a: counters went down") })
        #expect(try s.value(vm: "a", metric: "cpu_util", time: t0 + 300) == nil, "missing, never zero")
        #expect(try s.value(vm: "b", metric: "cpu_util", time: t0 + 300) == nil, "a VM that is off is missing data, not idle")
        // The counters after the restart are the base of the next interval.
        _ = try ingester.ingest([sample("a", cpuSeconds: 63, rx: 10, wr: 0)], uri: "h", now: t0 + 600)
        #expect(try s.value(vm: "a", metric: "cpu_util", time: t0 + 600) == 10)
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
}

import Foundation
import GRDB
import Testing
import TorporCore
import TorporIngest
import TorporStore
import TorporTestSupport

/// torpor-ingest libvirt against the real libvirtd and a running QEMU guest.
@Suite(.serialized) struct DomainStatsIntegrationTests {
    @Test func twoCollectionsGiveTheGuestsUtilization() throws {
        let guest = try RealGuest()
        try guest.waitForCounter(atLeast: 2)
        let dir = try ScratchDirectory.make("torpor-it")
        let store = try Store(path: dir + "/torpor.db")
        let ingester = DomainStatsIngester(store: store)
        let t0 = EpochSeconds(Date().timeIntervalSince1970)
        let first = try ingester.collect(uri: RealGuest.uri, now: t0)
        #expect(first.vms.contains(guest.name))
        // A collection 5 s later (a run by hand beside cron's) gives no rate: under a minute the stamps' whole seconds
        // and the read's own time weigh. The first collection's counters stay the base of the next, a minute after it.
        Thread.sleep(forTimeInterval: 5)
        let soon = try ingester.collect(uri: RealGuest.uri, now: t0 + 5)
        #expect(soon.warnings.contains { $0.contains("collected under 60 s after the last collection") }, "\(soon.warnings)")
        Thread.sleep(forTimeInterval: 55)
        let second = try ingester.collect(uri: RealGuest.uri, now: t0 + 60)
        #expect(second.vms.contains(guest.name))
        func value(_ metric: String, _ time: EpochSeconds) throws -> Double? {
            try store.read {
                try Double.fetchOne($0, sql: """
                    SELECT s.value FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
                    WHERE vm.name = ? AND m.name = ? AND s.time = ?
                    """, arguments: [guest.name, metric, time])
            }
        }
        #expect(try value("cpu_util", t0) == nil && value("cpu_util", t0 + 5) == nil, "the first collection only records counters; the one 5 s later gives no rate")
        let cpu = try #require(try value("cpu_util", t0 + 60))
        #expect(cpu > 0 && cpu <= 100, "a guest that counts every second uses some CPU: \(cpu)")
        #expect(try value("vcpus", t0 + 60) == 1)
        #expect(try value("mem_capacity", t0 + 60) == 128 * 1_048_576)
        let vm = try store.read { try VMRepository.all(in: $0) }.first { $0.name == guest.name }
        #expect(vm?.hostURI == RealGuest.uri)
        // Paused and resumed between two collections (a person's suspend): its paused time counted no CPU, and is no
        // idle time: no rate, said. The next interval, running all through (still "unpaused"), gives one.
        try guest.domain.suspend()
        Thread.sleep(forTimeInterval: 1)
        try guest.domain.resume()
        let paused = try ingester.collect(uri: RealGuest.uri, now: t0 + 120)
        #expect(paused.warnings.contains { $0.contains("\(guest.name): paused and resumed") && $0.contains("running now: unpaused") }, "\(paused.warnings)")
        #expect(try value("cpu_util", t0 + 120) == nil)
        _ = try ingester.collect(uri: RealGuest.uri, now: t0 + 180)
        #expect(try value("cpu_util", t0 + 180) != nil)
    }

    /// One host listed under two URIs (here the daemon's own socket named outright) is read once: the second URI is
    /// refused as bad input naming the first, by the collector and by the inventory, and the guest is not taken for two
    /// copies running on two hosts.
    @Test func oneHostUnderTwoURIsIsReadOnce() throws {
        let guest = try RealGuest()
        let alias = "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock"
        let dir = try ScratchDirectory.make("torpor-it")
        let store = try Store(path: dir + "/torpor.db")
        let t0 = EpochSeconds(Date().timeIntervalSince1970)
        let results = DomainStatsIngester(store: store).collect(uris: [RealGuest.uri, alias], stamp: { t0 }).map { collect in Result { try collect() } }
        let first = try results[0].get()
        #expect(first.vms.contains(guest.name) && !first.warnings.contains { $0.contains("TWO HOSTS") }, "\(first.warnings)")
        let refusal = "the same host as \(RealGuest.uri) (host "
        guard case .failure(let error as IngestError) = results[1], case .badInput(let source, nil, let message) = error else {
            Issue.record("the alias was collected: \(results[1])"); return
        }
        #expect(source == alias && message.hasPrefix(refusal), "\(message)")
        var aliases = HostAliases()
        let inventory = InventoryIngester(store: store)
        #expect(try inventory.ingest(uri: RealGuest.uri, now: t0 + 60, aliases: &aliases).entries.contains { $0.name == guest.name })
        let again = #expect(throws: IngestError.self) { _ = try inventory.ingest(uri: alias, now: t0 + 60, aliases: &aliases) }
        #expect(again?.isBadInput == true && again?.description.hasPrefix(alias + ": " + refusal) == true, "\(String(describing: again))")
        // In a run of its own (a person's inventory by hand under another spelling), within minutes of the collector's:
        // refused too, naming the URI the store read the host under; the guest stays placed there.
        let alone = #expect(throws: IngestError.self) { _ = try inventory.ingest(uri: alias, now: t0 + 120) }
        #expect(alone?.isBadInput == true && alone?.description.contains("which the store read under that URI at \(UTC.format(t0 + 60))") == true,
                "\(String(describing: alone))")
        let collected = #expect(throws: IngestError.self) { _ = try DomainStatsIngester(store: store).collect(uri: alias, now: t0 + 120) }
        #expect(collected?.isBadInput == true, "\(String(describing: collected))")
        let vm = try store.read { try VMRepository.all(in: $0) }.first { $0.name == guest.name }
        #expect(vm?.hostURI == RealGuest.uri)
        // Once the other URI has not been read for longer than that, the host is read under this one (moved for good).
        #expect(try inventory.ingest(uri: alias, now: t0 + 60 + HostAliases.heldAcrossRunsFor + 1).entries.contains { $0.name == guest.name })
    }
}

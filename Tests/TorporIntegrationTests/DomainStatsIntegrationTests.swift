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
        Thread.sleep(forTimeInterval: 5)
        let second = try ingester.collect(uri: RealGuest.uri, now: t0 + 5)
        #expect(second.vms.contains(guest.name))
        func value(_ metric: String, _ time: EpochSeconds) throws -> Double? {
            try store.read {
                try Double.fetchOne($0, sql: """
                    SELECT s.value FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
                    WHERE vm.name = ? AND m.name = ? AND s.time = ?
                    """, arguments: [guest.name, metric, time])
            }
        }
        #expect(try value("cpu_util", t0) == nil, "the first collection only records counters")
        let cpu = try #require(try value("cpu_util", t0 + 5))
        #expect(cpu > 0 && cpu <= 100, "a guest that counts every second uses some CPU: \(cpu)")
        #expect(try value("vcpus", t0 + 5) == 1)
        #expect(try value("mem_capacity", t0 + 5) == 128 * 1_048_576)
        let vm = try store.read { try VMRepository.all(in: $0) }.first { $0.name == guest.name }
        #expect(vm?.hostURI == RealGuest.uri)
    }
}

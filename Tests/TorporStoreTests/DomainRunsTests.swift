import Foundation
import GRDB
import Testing
import TorporCore
@testable import TorporStore

/// The stretches of collections that found a domain running on a host: kept once it stops there, seen by a replay only
/// from when they began, pruned to each host's latest.
@Suite struct DomainRunsTests {
    static let a = "qemu+ssh://a/system", b = "qemu+ssh://b/system"

    static func stretches(_ store: Store) throws -> [String] {
        try store.read { db in
            try Row.fetchAll(db, sql: "SELECT host_uri, domain, since, seen FROM domain_run ORDER BY host_uri, domain, since").map {
                "\($0["host_uri"] as String) \($0["domain"] as String) \($0["since"] as Int64)-\($0["seen"] as Int64)"
            }
        }
    }

    /// Records that `host`'s collections at `times`, one after the other, found `domain` running.
    static func collections(_ host: String, _ domain: String, _ times: [EpochSeconds], after previous: EpochSeconds? = nil, in db: Database) throws {
        for (i, t) in times.enumerated() { try DomainRuns.record(host: host, domain: domain, now: t, previous: i == 0 ? previous : times[i - 1], in: db) }
    }

    /// Collections every 5 minutes make one stretch; a gap longer than `DomainRuns.gap`, or a collection between that
    /// did not find it running, starts another; a collection recorded twice, or replayed inside or just before a
    /// stretch, adds nothing.
    @Test func collectionsInARowAreOneStretch() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            try Self.collections(Self.a, "web-01", [1000, 1300, 1600, 1600, 1900, 1900 + DomainRuns.gap + 1], in: db)
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 1300, previous: 1000, in: db)   // a replay inside the first
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 700, previous: nil, in: db)     // and one just before it
            try DomainRuns.record(host: Self.b, domain: "web-01", now: 1600, previous: nil, in: db)
        }
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 700-1900", "\(Self.a) web-01 2501-2501", "\(Self.b) web-01 1600-1600"])
        // A replay within the gap of both takes the later one's start back; one inside the first still changes nothing,
        // though the later one is within its gap too.
        try store.transaction { db in
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 2200, previous: nil, in: db)
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 1800, previous: 1500, in: db)
        }
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 700-1900", "\(Self.a) web-01 2200-2501", "\(Self.b) web-01 1600-1600"])
        // The collection at 2801 did not find it running (migrated away and back): the next is a stretch of its own.
        try store.transaction { try DomainRuns.record(host: Self.a, domain: "web-01", now: 3100, previous: 2801, in: $0) }
        #expect(try Self.stretches(store).filter { $0.hasPrefix(Self.a) }.last == "\(Self.a) web-01 3100-3100")
    }

    /// Another host's stretch counts when it reaches past `after` and began by `until` (a replay of an earlier time does
    /// not see a copy started later); the host asked besides never counts.
    @Test func aRunOnAnotherHostIsFoundInItsWindowOnly() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            try Self.collections(Self.a, "web-01", [1000, 1300], in: db)
            try Self.collections(Self.b, "web-01", [5000, 5300], in: db)
        }
        func found(after: EpochSeconds, until: EpochSeconds, besides: String = Self.a) throws -> String? {
            try store.read { try DomainRuns.ranBesides(domain: "web-01", besides: besides, after: after, until: until, in: $0) }
        }
        #expect(try found(after: 2000, until: 9000) == Self.b, "stopped since: still found")
        #expect(try found(after: 2000, until: 4999) == nil, "a replay before that copy started")
        #expect(try found(after: 5300, until: 9000) == nil, "a sleep that began after it stopped")
        #expect(try found(after: 5100, until: 5200) == Self.b, "running across the whole window")
        #expect(try found(after: 0, until: 9000, besides: Self.b) == Self.a)
        #expect(try store.read { try DomainRuns.ranBesides(domain: "web-02", besides: Self.a, after: 0, until: 9000, in: $0) } == nil)
    }

    /// Two hosts collected by separate runs: a copy started on b beside a's is two copies once each host's collections
    /// found it running `copiesOverlap` or more after the other's first did (a's collection after b's first), as of the
    /// later of their last sightings; one seen once there is too. A migration from a to b, its collections' stamps
    /// straddling the switch by seconds, or by up to a second short of `copiesOverlap`, never is.
    @Test func stretchesOverlappingOnTwoHostsAreTwoCopies() throws {
        let store = try Store(path: temporaryStorePath())
        func beside(_ host: String, at now: EpochSeconds, _ domain: String = "web-01") throws -> String? {
            try store.read { try DomainRuns.runningBeside(host: host, domain: domain, now: now, in: $0) }?.host
        }
        try store.transaction { db in
            try Self.collections(Self.a, "web-01", [0, 300, 600, 900], in: db)   // a at :00, :05, …; b at :02, :07
            try DomainRuns.record(host: Self.b, domain: "web-01", now: 720, previous: 420, in: db)
        }
        #expect(try beside(Self.b, at: 720) == nil, "b's first collection: a's before it")
        #expect(try beside(Self.a, at: 900) == Self.b, "a's next: 3 minutes after b's first")
        try store.transaction { try DomainRuns.record(host: Self.b, domain: "web-01", now: 1020, previous: 720, in: $0) }
        #expect(try beside(Self.b, at: 1020) == Self.a)
        #expect(try store.read { try DomainRuns.runningBeside(host: Self.b, domain: "web-01", now: 1020, in: $0) }?.seen == 900, "a's last collection")
        try store.transaction { try DomainRuns.record(host: Self.a, domain: "web-01", now: 1200, previous: 900, in: $0) }
        #expect(try beside(Self.a, at: 1200) == Self.b)
        // A migration of web-02 from a to b: a's last collection stamped 3 s after b's first (read before the switch).
        try store.transaction { db in
            try Self.collections(Self.a, "web-02", [0, 300, 603], in: db)
            try Self.collections(Self.b, "web-02", [600, 900, 1200], in: db)
        }
        #expect(try [600, 900, 1200].allSatisfy { try beside(Self.b, at: $0, "web-02") == nil } && beside(Self.a, at: 603, "web-02") == nil)
        // web-03 the same, its stamps straddling the switch by 119 s; web-04 by 120 s: taken for two copies.
        for (domain, straddle) in [("web-03", 119), ("web-04", 120)] as [(String, EpochSeconds)] {
            try store.transaction { db in
                try Self.collections(Self.a, domain, [0, 300, 600 + straddle], in: db)
                try Self.collections(Self.b, domain, [600, 900], in: db)
            }
        }
        #expect(try [beside(Self.a, at: 719, "web-03"), beside(Self.b, at: 900, "web-03")] == [nil, nil])
        #expect(try [beside(Self.a, at: 720, "web-04"), beside(Self.b, at: 900, "web-04")] == [Self.b, Self.a])
        // web-05 runs on a; a copy on b is seen once, then b's collector stalls: a's next collection finds it so.
        try store.transaction { db in
            try Self.collections(Self.a, "web-05", [0, 300, 600], in: db)
            try DomainRuns.record(host: Self.b, domain: "web-05", now: 420, previous: nil, in: db)
        }
        #expect(try store.read { try DomainRuns.runningBeside(host: Self.a, domain: "web-05", now: 600, in: $0) }.map { "\($0.host) \($0.seen)" } == "\(Self.b) 420")
    }

    /// The prune removes stretches that ended before its time, but each host's latest of each domain (a sleep older
    /// than the retention still asks after it); run twice, the second removes nothing.
    @Test func thePruneKeepsEachHostsLatestStretch() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for t: EpochSeconds in [1000, 5000, 9000] {
                try DomainRuns.record(host: Self.a, domain: "web-01", now: t, previous: nil, in: db)
                try DomainRuns.record(host: Self.b, domain: "web-02", now: t, previous: nil, in: db)
            }
            try DomainRuns.record(host: Self.b, domain: "web-01", now: 1000, previous: nil, in: db)
        }
        #expect(try DomainRuns.prune(before: 6000, in: store) == 4)
        #expect(try DomainRuns.prune(before: 6000, in: store) == 0)
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 9000-9000", "\(Self.b) web-01 1000-1000", "\(Self.b) web-02 9000-9000"])
    }

    /// The last counters of a domain no collection has read since the prune's time (undefined, gone from its host) go;
    /// the others stay the next rate's base. Run twice, the second removes nothing.
    @Test func thePruneRemovesTheCountersOfDomainsNotCollectedSince() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            try CounterRepository.save(host: Self.a, domain: "gone", snapshot: CounterSnapshot(collectedAt: 1000, counters: ["cpu.time": 1]), in: db)
            try CounterRepository.save(host: Self.a, domain: "web-01", snapshot: CounterSnapshot(collectedAt: 9000, counters: ["cpu.time": 2]), in: db)
        }
        #expect(try CounterRepository.prune(before: 6000, in: store) == 1)
        #expect(try CounterRepository.prune(before: 6000, in: store) == 0)
        #expect(try store.read { try CounterRepository.latest(host: Self.a, in: $0) }.keys.sorted() == ["web-01"])
    }

    /// A store before v23: each host's latest counters of a domain found running are its first stretch (a sleep under way
    /// keeps what the collections before the upgrade found); a domain's counters from a collection that found it not
    /// running make none.
    @Test func theLatestCountersOfARunningDomainAreItsFirstStretch() throws {
        let path = try olderStore(upTo: "v22: a VM found running on two hosts at once") { db in
            try db.execute(sql: """
                INSERT INTO libvirt_counter (host_uri, domain, collected_at, counters) VALUES
                    ('\(Self.b)', 'web-01', 5000, '{"cpu.time":1}'), ('\(Self.b)', 'web-02', 5000, '{}');
                """)
        }
        #expect(try Self.stretches(try Store(path: path, creating: false)) == ["\(Self.b) web-01 5000-5000"])
    }
}

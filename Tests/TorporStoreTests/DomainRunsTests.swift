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

    /// Collections every 5 minutes make one stretch; a gap longer than `DomainRuns.gap` starts another; a collection
    /// recorded twice, or replayed inside or just before a stretch, adds nothing.
    @Test func collectionsInARowAreOneStretch() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for t: EpochSeconds in [1000, 1300, 1600, 1600, 1900] { try DomainRuns.record(host: Self.a, domain: "web-01", now: t, in: db) }
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 1900 + DomainRuns.gap + 1, in: db)
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 1300, in: db)   // a replay inside the first
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 700, in: db)    // and one just before it
            try DomainRuns.record(host: Self.b, domain: "web-01", now: 1600, in: db)
        }
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 700-1900", "\(Self.a) web-01 2501-2501", "\(Self.b) web-01 1600-1600"])
        // A replay within the gap of both takes the later one's start back; one inside the first still changes nothing,
        // though the later one is within its gap too.
        try store.transaction { db in
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 2200, in: db)
            try DomainRuns.record(host: Self.a, domain: "web-01", now: 1800, in: db)
        }
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 700-1900", "\(Self.a) web-01 2200-2501", "\(Self.b) web-01 1600-1600"])
    }

    /// Another host's stretch counts when it reaches past `after` and began by `until` (a replay of an earlier time does
    /// not see a copy started later); the host asked besides never counts.
    @Test func aRunOnAnotherHostIsFoundInItsWindowOnly() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for t: EpochSeconds in [1000, 1300] { try DomainRuns.record(host: Self.a, domain: "web-01", now: t, in: db) }
            for t: EpochSeconds in [5000, 5300] { try DomainRuns.record(host: Self.b, domain: "web-01", now: t, in: db) }
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

    /// The prune removes stretches that ended before its time, but each host's latest of each domain (a sleep older
    /// than the retention still asks after it); run twice, the second removes nothing.
    @Test func thePruneKeepsEachHostsLatestStretch() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for t: EpochSeconds in [1000, 5000, 9000] {
                try DomainRuns.record(host: Self.a, domain: "web-01", now: t, in: db)
                try DomainRuns.record(host: Self.b, domain: "web-02", now: t, in: db)
            }
            try DomainRuns.record(host: Self.b, domain: "web-01", now: 1000, in: db)
        }
        #expect(try DomainRuns.prune(before: 6000, in: store) == 4)
        #expect(try DomainRuns.prune(before: 6000, in: store) == 0)
        #expect(try Self.stretches(store) == ["\(Self.a) web-01 9000-9000", "\(Self.b) web-01 1000-1000", "\(Self.b) web-02 9000-9000"])
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

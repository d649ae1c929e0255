import Foundation
import GRDB
import TorporCore

/// Reads and writes the `domain_run` table: each stretch of libvirt collections of one host that found a domain running
/// there. Unlike the latest counters (`CounterRepository`), a stretch stays once the domain stops or leaves the host's
/// list, and a replay of an earlier time sees only the stretches that began by then: the record that a VM ran on
/// another host while asleep on its own, whose saved memory no longer matches the disks that copy wrote.
public enum DomainRuns {
    /// The longest time between two collections that found a domain running for them to be one stretch (two collections
    /// every 5 minutes, one of them missed).
    public static let gap: EpochSeconds = 10 * 60

    /// How long after one host's first finding a domain running another's must find it so (and the other way round) for
    /// the two to be two copies (`runningBeside`): longer than the stamps of two hosts' collections in separate runs
    /// can straddle a migration's switch (each host's collection is stamped as the host is read: within the seconds its statistics take), shorter
    /// than one 5-minute interval.
    public static let copiesOverlap: EpochSeconds = 2 * 60

    /// When the collector last collected `host` before `now` (what `record`'s `previous` is), if it ever did: the
    /// collector's and the inventory's sightings continue from it alike.
    public static func previousCollection(of host: String, before now: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try SourceRepository.lastIngested(kind: "libvirt", location: host, by: now - 1, in: db)
    }

    /// Records that host `host`'s collection at `now` found domain `domain` running. It continues a stretch seen at the
    /// host's collection before (`previous`: none between found it otherwise), within `gap`; otherwise a new one begins
    /// (nil: none is known, only a stretch holding `now` is continued). Run twice, or replayed at an earlier time, it
    /// changes nothing twice.
    public static func record(host: String, domain: String, now: EpochSeconds, previous: EpochSeconds?, in db: Database) throws {
        // The stretch holding `now` first (a replay inside one changes nothing), else the latest continued.
        try db.cachedStatement(sql: """
            UPDATE domain_run SET since = min(since, ?3), seen = max(seen, ?3)
            WHERE rowid = (
                SELECT rowid FROM domain_run WHERE host_uri = ?1 AND domain = ?2 AND since <= ?3 + ?4 AND seen >= ?5
                ORDER BY (since <= ?3 AND seen >= ?3) DESC, seen DESC LIMIT 1)
            """).execute(arguments: [host, domain, now, gap, max(previous ?? now, now - gap)])
        guard db.changesCount == 0 else { return }
        try db.cachedStatement(sql: "INSERT INTO domain_run (host_uri, domain, since, seen) VALUES (?, ?, ?, ?)").execute(arguments: [host, domain, now, now])
    }

    /// Another host whose collections found `domain` running `copiesOverlap` or more after this host's stretch holding
    /// `now` began, within `gap` of `now`, while this host's finds it so `copiesOverlap` or more after that host's stretch
    /// began: the domain runs on both, though collected by separate runs (a copy seen once there is enough). `seen`: the
    /// latest time both were found running (that host's last collection by `now` that did). Nil when none; the first of
    /// them by name.
    public static func runningBeside(host: String, domain: String, now: EpochSeconds, in db: Database) throws -> (host: String, seen: EpochSeconds)? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT o.host_uri, min(o.seen, ?3) AS both FROM domain_run m JOIN domain_run o ON o.domain = m.domain AND o.host_uri != m.host_uri
            WHERE m.host_uri = ?1 AND m.domain = ?2 AND m.since <= ?3 AND m.seen >= ?3 AND o.seen >= ?3 - ?4 AND o.since <= ?3 - ?5
              AND min(o.seen, ?3) - m.since >= ?5
            ORDER BY o.host_uri, both DESC LIMIT 1
            """), arguments: [host, domain, now, gap, copiesOverlap]).map { ($0["host_uri"], $0["both"]) }
    }

    /// A host other than `besides` where a collection after `after` and by `until` found `domain` running (the latest
    /// such stretch's host); nil when none did. A replay may count a stretch by its collections after `until`: it holds
    /// where the live run at that time might not have yet, the safe side.
    public static func ranBesides(domain: String, besides: String, after: EpochSeconds, until: EpochSeconds, in db: Database) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT host_uri FROM domain_run WHERE domain = ? AND host_uri != ? AND seen > ? AND since <= ? ORDER BY seen DESC LIMIT 1
            """, arguments: [domain, besides, after, until])
    }

    /// Removes the stretches that ended before `before`, but each host's latest of each domain: what a sleep that began
    /// before `before` still asks after (`ranBesides` wants one stretch since the sleep began, the latest serves).
    /// Returns how many went; run twice, the second removes nothing.
    public static func prune(before: EpochSeconds, in store: Store, pause: TimeInterval = 0.002) throws -> Int {
        var removed = 0
        while case let n = try Retention.briefly(store, pause: pause, { db in
            try db.execute(sql: """
                DELETE FROM domain_run WHERE rowid IN (
                    SELECT r.rowid FROM domain_run r WHERE r.seen < ?1
                      AND EXISTS (SELECT 1 FROM domain_run l WHERE l.host_uri = r.host_uri AND l.domain = r.domain AND l.seen > r.seen)
                    LIMIT ?2)
                """, arguments: [before, Retention.batch])
            return db.changesCount
        }), n > 0 {
            removed += n
        }
        return removed
    }
}

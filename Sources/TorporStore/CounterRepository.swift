import Foundation
import GRDB
import TorporCore

/// Raw cumulative counters of one domain at one collection (CPU nanoseconds, bytes), kept so the next collection
/// can turn them into rates.
public struct CounterSnapshot: Codable, Equatable, Sendable {
    public var collectedAt: EpochSeconds
    public var counters: [String: Double]

    public init(collectedAt: EpochSeconds, counters: [String: Double]) {
        self.collectedAt = collectedAt
        self.counters = counters
    }
}

/// Reads and writes the `libvirt_counter` table: the latest counters per (host, domain).
public enum CounterRepository {
    public static func latest(host: String, in db: Database) throws -> [String: CounterSnapshot] {
        var result: [String: CounterSnapshot] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT domain, collected_at, counters FROM libvirt_counter WHERE host_uri = ?", arguments: [host]) {
            let json: String = row["counters"]
            let counters = (try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8))) ?? [:]
            result[row["domain"]] = CounterSnapshot(collectedAt: row["collected_at"], counters: counters)
        }
        return result
    }

    public static func save(host: String, domain: String, snapshot: CounterSnapshot, in db: Database) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(snapshot.counters), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO libvirt_counter (host_uri, domain, collected_at, counters) VALUES (?, ?, ?, ?)
            ON CONFLICT (host_uri, domain) DO UPDATE SET collected_at = excluded.collected_at, counters = excluded.counters
            """, arguments: [host, domain, snapshot.collectedAt, json])
    }

    /// Removes the counters last collected before `before`: of domains undefined, renamed or moved off a host since (a
    /// collection more than `DomainRates.longestInterval` later takes no rate from them anyway). Returns how many went.
    public static func prune(before: EpochSeconds, in store: Store) throws -> Int {
        try store.transaction { db in
            try db.execute(sql: "DELETE FROM libvirt_counter WHERE collected_at < ?", arguments: [before])
            return db.changesCount
        }
    }
}

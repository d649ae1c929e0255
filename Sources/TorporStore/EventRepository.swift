import Foundation
import GRDB
import TorporCore

/// A calendar occurrence as the planner reads it.
public struct EventRecord: Codable, Equatable, Sendable {
    public enum Category: String, Codable, CaseIterable, Sendable {
        /// Expect load (campaigns, launches): raises the forecast.
        case demand
        /// The VM must run (backups, jobs): no hibernation.
        case keepAwake = "keep-awake"
        /// No actions at all.
        case freeze
        case holiday
    }

    public var uid: String
    public var summary: String
    public var category: Category
    public var start: EpochSeconds
    public var end: EpochSeconds
    /// VM names; empty with no selector means the whole fleet.
    public var targets: [String]
    /// A label selector such as `group=web`; several (`group=web|group=api`, one per `X-TORPOR-SELECTOR` property) target
    /// the VMs any of them matches.
    public var selector: String?
    /// When torpor first knew of the occurrence (the ingest that first stored it); nil for one stored before torpor kept
    /// it (known since ever). A replay of an earlier hour does not see an occurrence known only later.
    public var knownFrom: EpochSeconds?

    public init(uid: String, summary: String, category: Category, start: EpochSeconds, end: EpochSeconds, targets: [String], selector: String?,
                knownFrom: EpochSeconds? = nil) {
        self.uid = uid; self.summary = summary; self.category = category; self.start = start; self.end = end
        self.targets = targets; self.selector = selector; self.knownFrom = knownFrom
    }

    /// Whether torpor knew of the occurrence at `time`.
    public func known(at time: EpochSeconds) -> Bool { (knownFrom ?? .min) <= time }
}

extension EventRecord {
    /// Whether the occurrence falls in [from, to) (`EventSpan`: one without duration covers the hour from its start).
    public func overlaps(from: EpochSeconds, to: EpochSeconds) -> Bool {
        EventSpan.overlaps(start: start, end: end, from: from, to: to)
    }

    /// Whether the event concerns `vm`: named in its targets, matched by one of its selectors, or neither given (the
    /// whole fleet).
    public func applies(to vm: String, labels: [String: String]) -> Bool {
        if targets.contains(vm) { return true }
        if selector != nil { return selectors.contains { Self.labels(labels, match: $0) } }
        return targets.isEmpty
    }

    /// The selectors `selector` holds, separated by `|`: a VM that any of them matches is targeted.
    public var selectors: [String] {
        selector.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
    }

    /// Whether a VM's labels match one selector, `key=value[,key=value]`: every pair.
    public static func labels(_ labels: [String: String], match selector: String) -> Bool {
        selector.split(separator: ",").allSatisfy { pair in
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return kv.count == 2 && labels[kv[0]] == kv[1]
        }
    }
}

/// Reads and writes the `event` table.
public enum EventRepository {
    /// The end of what an occurrence covers (`EventSpan.end`) in SQL: one without duration covers the hour from its start.
    static let coveredEnd = "(CASE WHEN ends_at > starts_at THEN ends_at ELSE starts_at + \(EventSpan.pointCover) END)"

    /// In SQL: the occurrence was stored by an ingest of the calendar at the location bound to `?`.
    static let ofCalendar = "source_id IN (SELECT id FROM source WHERE location = ? AND kind = 'icalendar')"

    /// In SQL: the occurrence was known by the time bound to `?` (`EventRecord.known(at:)`).
    static let knownBy = "(known_from IS NULL OR known_from <= ?)"

    /// Replaces the occurrences earlier ingests of `location` stored that reach `from` or later (`EventSpan`) with
    /// `events` (those of [from, to)), attributed to `source`, ingested at `now`; those over before `from` stay, the
    /// history of events training learns from. When an ingest at a later now has read the location (this one replays
    /// history), those starting at `to` or later stay too: the later ingest knows them, this one did not look. An
    /// occurrence an earlier ingest stored as it is now (its UID, start, end, category, targets and selectors; a new
    /// summary is no new knowledge) keeps when it was first known; a new or changed one is known from `now` (the
    /// earliest, when ingests are replayed out of order).
    public static func replace(location: String, from: EpochSeconds, to: EpochSeconds, with events: [EventRecord], source: Int64,
                               now: EpochSeconds, in db: Database) throws {
        let replaced = "\(ofCalendar) AND \(coveredEnd) > ? "
            + "AND (starts_at < ? OR NOT EXISTS (SELECT 1 FROM source WHERE location = ? AND kind = 'icalendar' AND ingested_at > ?))"
        /// What an occurrence says to torpor, and so what is known from its first ingest.
        struct Occurrence: Hashable { let uid: String, start: EpochSeconds, end: EpochSeconds, category: String, targets: String, selector: String? }
        var knownFrom: [Occurrence: EpochSeconds] = [:]   // .min: stored before torpor kept it, known since ever
        for row in try Row.fetchAll(db, sql: "SELECT uid, starts_at, ends_at, category, targets, selector, known_from FROM event WHERE " + replaced,
                                    arguments: [location, from, to, location, now]) {
            let key = Occurrence(uid: row["uid"], start: row["starts_at"], end: row["ends_at"], category: row["category"], targets: row["targets"], selector: row["selector"])
            knownFrom[key] = min(knownFrom[key] ?? .max, row["known_from"] ?? .min)
        }
        try db.execute(sql: "DELETE FROM event WHERE " + replaced, arguments: [location, from, to, location, now])
        let insert = try db.makeStatement(sql: """
            INSERT INTO event (source_id, uid, summary, category, starts_at, ends_at, targets, selector, known_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for e in events {
            let targets = String(decoding: try JSONEncoder.sorted.encode(e.targets), as: UTF8.self)
            let key = Occurrence(uid: e.uid, start: e.start, end: e.end, category: e.category.rawValue, targets: targets, selector: e.selector)
            let known = min(now, knownFrom[key] ?? now)
            try insert.execute(arguments: [source, e.uid, e.summary, e.category.rawValue, e.start, e.end, targets, e.selector, known == .min ? nil : known])
        }
    }

    /// How many occurrences ingests of the calendar at `location` by `now` stored that are not over at `time` (at `now`:
    /// what `forget` removes by default).
    public static func notOver(location: String, at time: EpochSeconds, ingestedBy now: EpochSeconds, in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: """
            SELECT count(*) FROM event WHERE source_id IN (SELECT id FROM source WHERE location = ? AND kind = 'icalendar' AND ingested_at <= ?)
            AND \(coveredEnd) > ?
            """, arguments: [location, now, time]) ?? 0
    }

    /// Removes the occurrences calendars ingested from `location` stored that are not over by `from` (a calendar no longer
    /// used: its upcoming events would keep VMs awake, or frozen, until they pass); those over before stay, the history
    /// training learns from. Returns how many went; nil when no calendar was ingested from `location`.
    public static func forget(location: String, from: EpochSeconds, in db: Database) throws -> Int? {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM source WHERE location = ? AND kind = 'icalendar')", arguments: [location]) == true else { return nil }
        try db.execute(sql: "DELETE FROM event WHERE \(ofCalendar) AND \(coveredEnd) > ?",
                       arguments: [location, from])
        return db.changesCount
    }

    /// Occurrences overlapping [from, to) (`EventRecord.overlaps`) that torpor knew of by `knownBy` (a replay's now), by
    /// start. A category this torpor does not know (written by a newer one) is read as keep-awake: never as one that
    /// lets a VM sleep.
    public static func overlapping(from: EpochSeconds, to: EpochSeconds, knownBy: EpochSeconds = .max, in db: Database) throws -> [EventRecord] {
        try Row.fetchAll(db, sql: """
            SELECT uid, summary, category, starts_at, ends_at, targets, selector, known_from FROM event
            WHERE \(coveredEnd) > ? AND starts_at < ? AND \(Self.knownBy) ORDER BY starts_at, uid
            """, arguments: [from, to, knownBy]).map { row in
            let targets: String = row["targets"]
            return EventRecord(uid: row["uid"], summary: row["summary"], category: EventRecord.Category(rawValue: row["category"]) ?? .keepAwake,
                               start: row["starts_at"], end: row["ends_at"],
                               targets: (try? JSONDecoder().decode([String].self, from: Data(targets.utf8))) ?? [], selector: row["selector"],
                               knownFrom: row["known_from"])
        }
    }
}

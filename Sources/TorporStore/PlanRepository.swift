import Foundation
import GRDB
import TorporCore

/// A plan as the store keeps it: the exact bytes of the file that `torpor-plan` wrote.
public struct StoredPlan: Equatable, Sendable {
    public var id: String
    public var createdAt: EpochSeconds
    public var validUntil: EpochSeconds
    public var fileSHA256: String
    public var body: Data

    public init(id: String, createdAt: EpochSeconds, validUntil: EpochSeconds, fileSHA256: String, body: Data) {
        self.id = id; self.createdAt = createdAt; self.validUntil = validUntil; self.fileSHA256 = fileSHA256; self.body = body
    }
}

/// One approval of some actions of a plan.
public struct ApprovalRecord: Equatable, Sendable {
    public var planID: String
    public var approvedBy: String
    public var approvedAt: EpochSeconds
    public var actions: [String]
    /// The plan whose approval a standing approval carried over; nil when a person approved.
    public var carriedFrom: String?

    public init(planID: String, approvedBy: String, approvedAt: EpochSeconds, actions: [String], carriedFrom: String? = nil) {
        self.planID = planID; self.approvedBy = approvedBy; self.approvedAt = approvedAt; self.actions = actions; self.carriedFrom = carriedFrom
    }
}

/// A stored plan without its body: what a list of plans, or a look for a newer one, needs.
public struct PlanHeader: Equatable, Sendable {
    public var id: String
    public var createdAt: EpochSeconds
    public var validUntil: EpochSeconds
    public var fileSHA256: String
    /// Whether its body was pruned (its id, hashes and approvals stay).
    public var pruned: Bool
}

/// Reads and writes the `plan`, `approval` and `setting` tables.
public enum PlanRepository {
    /// Records a plan; recording the same plan again (same id) changes nothing.
    public static func insert(_ plan: StoredPlan, in db: Database) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO plan (id, created_at, valid_until, file_sha256, body) VALUES (?, ?, ?, ?, ?)",
                       arguments: [plan.id, plan.createdAt, plan.validUntil, plan.fileSHA256, plan.body])
    }

    public static func plan(id: String, in db: Database) throws -> StoredPlan? {
        try Row.fetchOne(db, sql: "SELECT * FROM plan WHERE id = ?", arguments: [id]).map(stored)
    }

    /// Newest first; of plans made in the same second, the one with the latest approval first (`latestApproved` takes
    /// the one approved last among those approving a hibernation), then those never approved.
    private static let newestFirst = "ORDER BY created_at DESC, (SELECT max(a.id) FROM approval a WHERE a.plan_id = plan.id) DESC, id"

    /// The plans created in [since, upTo], newest first, without their bodies (large for a large fleet: a week of
    /// hourly plans of 10,000 VMs holds gigabytes; each is read with `plan(id:)` when needed).
    public static func headers(upTo time: EpochSeconds, since: EpochSeconds = .min, in db: Database) throws -> [PlanHeader] {
        try Row.fetchAll(db, sql: "SELECT \(headerColumns) FROM plan WHERE created_at <= ? AND created_at >= ? " + newestFirst,
                         arguments: [time, since]).map(header)
    }

    /// When the newest plan recorded by `time` was made; nil when none was.
    public static func lastCreated(upTo time: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: "SELECT max(created_at) FROM plan WHERE created_at <= ?", arguments: [time])
    }

    /// A plan's header, its body left in the store.
    public static func header(id: String, in db: Database) throws -> PlanHeader? {
        try Row.fetchOne(db, sql: "SELECT \(headerColumns) FROM plan WHERE id = ?", arguments: [id]).map(header)
    }

    private static let headerColumns = "id, created_at, valid_until, file_sha256, length(body) = 0 AS pruned"

    private static func header(_ row: Row) -> PlanHeader {
        PlanHeader(id: row["id"], createdAt: row["created_at"], validUntil: row["valid_until"], fileSHA256: row["file_sha256"], pruned: row["pruned"])
    }

    /// When the oldest plan still valid at `time` was made; nil when none is.
    public static func oldestValid(at time: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: "SELECT min(created_at) FROM plan WHERE valid_until > ?", arguments: [time])
    }

    /// Empties the bodies of plans created before `before`, except `keep` (the plans sleeping VMs still depend on);
    /// ids, hashes, times and approvals stay for the audit trail. Returns how many were pruned.
    public static func pruneBodies(before: EpochSeconds, keep: Set<String>, in db: Database) throws -> Int {
        let old = try String.fetchAll(db, sql: "SELECT id FROM plan WHERE created_at < ? AND length(body) > 0", arguments: [before])
            .filter { !keep.contains($0) }
        for id in old { try db.execute(sql: "UPDATE plan SET body = zeroblob(0) WHERE id = ?", arguments: [id]) }
        return old.count
    }

    public static func insert(_ approval: ApprovalRecord, in db: Database) throws {
        try db.execute(sql: "INSERT INTO approval (plan_id, approved_by, approved_at, actions, carried_from) VALUES (?, ?, ?, ?, ?)",
                       arguments: [approval.planID, approval.approvedBy, approval.approvedAt,
                                   String(decoding: try JSONEncoder.sorted.encode(approval.actions), as: UTF8.self), approval.carriedFrom])
    }

    /// The approvals of a plan, oldest first.
    public static func approvals(of planID: String, in db: Database) throws -> [ApprovalRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM approval WHERE plan_id = ? ORDER BY id", arguments: [planID]).map(approval)
    }

    /// The approvals people gave (none carried) from `since` on, of plans created in `created`: the newest plan's first,
    /// of one plan the last given first.
    public static func personsApprovals(since: EpochSeconds, created: ClosedRange<EpochSeconds>, in db: Database) throws -> [ApprovalRecord] {
        try Row.fetchAll(db, sql: """
            SELECT a.* FROM approval a JOIN plan p ON p.id = a.plan_id
            WHERE a.carried_from IS NULL AND a.approved_at >= ? AND p.created_at BETWEEN ? AND ?
            ORDER BY p.created_at DESC, a.id DESC
            """, arguments: [since, created.lowerBound, created.upperBound]).map(approval)
    }

    private static func approval(_ row: Row) -> ApprovalRecord {
        let actions: String = row["actions"]
        return ApprovalRecord(planID: row["plan_id"], approvedBy: row["approved_by"], approvedAt: row["approved_at"],
                              actions: (try? JSONDecoder().decode([String].self, from: Data(actions.utf8))) ?? [],
                              carriedFrom: row["carried_from"])
    }

    /// The newest plan created at or before `time` with an approval of an action id `approving` accepts, if any (a
    /// person's, or a carried one recorded at or after `carriedSince`; nil: none carried); of two made at the same time
    /// (two policies tried in one hour), the one approved last.
    public static func latestApproved(upTo time: EpochSeconds, excluding: String? = nil, carriedSince: EpochSeconds? = .min,
                                      approving: (String) -> Bool = { _ in true }, in db: Database) throws -> PlanHeader? {
        let approvals = try Row.fetchCursor(db, sql: """
            SELECT p.id AS id, a.actions AS actions FROM plan p JOIN approval a ON a.plan_id = p.id
            WHERE p.created_at <= ? AND p.id IS NOT ? AND (a.carried_from IS NULL OR (? IS NOT NULL AND a.approved_at >= ?))
            ORDER BY p.created_at DESC, a.id DESC
            """, arguments: [time, excluding, carriedSince, carriedSince])
        while let row = try approvals.next() {
            let actions: String = row["actions"]
            guard ((try? JSONDecoder().decode([String].self, from: Data(actions.utf8))) ?? []).contains(where: approving) else { continue }
            return try header(id: row["id"], in: db)
        }
        return nil
    }

    /// A setting's value, who set it and when.
    public static func setting(_ key: String, in db: Database) throws -> (value: String, setBy: String, setAt: EpochSeconds)? {
        try Row.fetchOne(db, sql: "SELECT value, set_by, set_at FROM setting WHERE key = ?", arguments: [key]).map { ($0["value"], $0["set_by"], $0["set_at"]) }
    }

    public static func set(_ key: String, to value: String, by who: String, at time: EpochSeconds, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO setting (key, value, set_by, set_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at
            """, arguments: [key, value, who, time])   // an upsert, as `JournalRepository.setPower` says why
    }

    private static func stored(_ row: Row) -> StoredPlan {
        StoredPlan(id: row["id"], createdAt: row["created_at"], validUntil: row["valid_until"], fileSHA256: row["file_sha256"], body: row["body"])
    }
}

import Foundation
import GRDB
import TorporCore

/// One step of one action in the execution journal.
public struct JournalEntry: Equatable, Sendable {
    public enum Kind: String, Sendable { case hibernate, restore }
    public enum Step: String, Sendable { case intent, started, done, failed, skipped }

    public var id: Int64
    public var actionID: String
    public var planID: String?
    public var vm: String
    public var host: String
    public var kind: Kind
    public var step: Step
    public var at: EpochSeconds
    public var detail: String
    public var seconds: Double?
    public var bytes: Int64?
    public var deadline: EpochSeconds?
    public var late: Bool?
    /// A plan's restore: what set its deadline (the plan's `deadlineCause`: `demand` when the forecast crossed
    /// restore_above); nil for hibernations and unplanned restores.
    public var cause: String?

    public init(id: Int64 = 0, actionID: String, planID: String?, vm: String, host: String, kind: Kind, step: Step, at: EpochSeconds,
                detail: String = "", seconds: Double? = nil, bytes: Int64? = nil, deadline: EpochSeconds? = nil, late: Bool? = nil,
                cause: String? = nil) {
        self.id = id; self.actionID = actionID; self.planID = planID; self.vm = vm; self.host = host; self.kind = kind; self.step = step
        self.at = at; self.detail = detail; self.seconds = seconds; self.bytes = bytes; self.deadline = deadline; self.late = late
        self.cause = cause
    }
}

/// What torpor believes about a VM it acts on.
public struct PowerRecord: Equatable, Sendable {
    public enum State: String, Sendable { case running, hibernated }
    public var vm: String
    public var host: String
    public var state: State
    public var since: EpochSeconds
    public var actionID: String
    /// Hibernated: the state pool image of this sleep, once taken (nil: only libvirt's image holds it).
    public var manifestID: Int64?
    /// Hibernated: the disks' identity when the save completed (what the pool image must be taken with).
    public var diskIdentity: String?
    /// Hibernated: why the pool refused this sleep's image (it is not tried again).
    public var poolRefused: String?
    /// Hibernated: copies of this sleep's image into the pool that failed in a way that may pass (a mount's blip, a full
    /// pool), and the time before which it is not tried again.
    public var poolFailures: Int
    public var poolRetryAt: EpochSeconds?

    public init(vm: String, host: String, state: State, since: EpochSeconds, actionID: String, manifestID: Int64? = nil,
                diskIdentity: String? = nil, poolRefused: String? = nil, poolFailures: Int = 0, poolRetryAt: EpochSeconds? = nil) {
        self.vm = vm; self.host = host; self.state = state; self.since = since; self.actionID = actionID; self.manifestID = manifestID
        self.diskIdentity = diskIdentity; self.poolRefused = poolRefused; self.poolFailures = poolFailures; self.poolRetryAt = poolRetryAt
    }

    /// When the VM came back, if it runs because something woke it before its plan's restore (a demand signal or an
    /// operator): evidence that it was wanted while its forecast said otherwise.
    public var wokenEarlyAt: EpochSeconds? {
        state == .running && UnplannedWake.allCases.contains { actionID.hasPrefix($0.rawValue + ":") } ? since : nil
    }
}

/// A restore no plan scheduled, as the journal names it: `signal:VM:TIME` (a demand signal woke the VM) or
/// `wake:VM:TIME` (an operator did; `wake:VM:TIME:of-many` for one VM of a `wake --all` or a wake by label).
public enum UnplannedWake: String, CaseIterable, Sendable {
    case signal, wake

    public func actionID(vm: String, at: EpochSeconds) -> String { "\(rawValue):\(vm):\(UTC.format(at))" }

    /// The action of one VM's restore in an operator's wake of many (`wake --all`, by label): a `wake`'s, marked, so that
    /// a run finishing it after a kill still knows it was one of many.
    public static func wakeOfMany(vm: String, at: EpochSeconds) -> String { wake.actionID(vm: vm, at: at) + ofManyMark }

    /// What ends the action of a restore in a wake of many (`wakeOfMany`).
    public static let ofManyMark = ":of-many"
}

/// An operator's pin: no hibernation of the VM until `until` (nil: until unpinned).
public struct PinRecord: Equatable, Sendable {
    public var vm: String
    public var until: EpochSeconds?
    public var pinnedBy: String
    public var pinnedAt: EpochSeconds

    public init(vm: String, until: EpochSeconds?, pinnedBy: String, pinnedAt: EpochSeconds) {
        self.vm = vm; self.until = until; self.pinnedBy = pinnedBy; self.pinnedAt = pinnedAt
    }

    /// Whether the pin is in force at `time` (one without `until` holds until unpinned).
    public func holds(at time: EpochSeconds) -> Bool { until.map { $0 > time } ?? true }
}

/// A VM whose due hibernation did not start on the executor's last run: `waiting` (for its measured demand to stay quiet
/// long enough, `hibernate after … idle`) or `skipped` (paused, the plan expired, pinned, ...), why, and since when.
public struct HeldHibernation: Equatable, Sendable {
    public var vm: String
    public var host: String
    public var event: String
    public var reason: String
    public var since: EpochSeconds

    public init(vm: String, host: String, event: String, reason: String, since: EpochSeconds) {
        self.vm = vm; self.host = host; self.event = event; self.reason = reason; self.since = since
    }
}

/// Reads and writes the `journal`, `power`, `pin` and `held` tables.
public enum JournalRepository {
    /// A step a busy store kept back, written at its run's end: `attempt` is the journal row of the last step of its
    /// attempt the store took (an intent or a start; nil: none).
    public struct KeptBack: Sendable {
        public var attempt: Int64?
        public init(attempt: Int64?) { self.attempt = attempt }
    }

    /// Appends step `e`; returns its row. One that ends its action (done, failed, skipped) closes the action's open
    /// attempt (`journal_open`); one `keptBack`, only the attempt it ends (none when none of its steps was taken), not
    /// one another executor began at the same action since.
    @discardableResult
    public static func append(_ e: JournalEntry, keptBack: KeptBack? = nil, in db: Database) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO journal (action_id, plan_id, vm, host, kind, step, at, detail, seconds, bytes, deadline, late, cause)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [e.actionID, e.planID, e.vm, e.host, e.kind.rawValue, e.step.rawValue, e.at, e.detail, e.seconds, e.bytes,
                             e.deadline, e.late, e.cause])
        let row = db.lastInsertedRowID
        if e.step == .intent || e.step == .started {
            try db.execute(sql: "INSERT INTO journal_open (action_id, id) VALUES (?, ?) ON CONFLICT (action_id) DO UPDATE SET id = excluded.id",
                           arguments: [e.actionID, row])
        } else if let keptBack {
            if let attempt = keptBack.attempt {
                try db.execute(sql: "DELETE FROM journal_open WHERE action_id = ? AND id = ?", arguments: [e.actionID, attempt])
            }
        } else {
            try db.execute(sql: "DELETE FROM journal_open WHERE action_id = ?", arguments: [e.actionID])
        }
        return row
    }

    /// When action `actionID`'s first step was journaled (its intent), through the index by action; nil when it has none.
    public static func firstStep(of actionID: String, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: "SELECT at FROM journal WHERE action_id = ? ORDER BY id LIMIT 1", arguments: [actionID])
    }

    /// The latest step of each of these actions that has one, by action id (one indexed look-up each, however long the
    /// journal).
    public static func latestSteps(of actionIDs: some Sequence<String>, in db: Database) throws -> [String: JournalEntry] {
        let statement = try db.cachedStatement(sql: "SELECT * FROM journal WHERE action_id = ? ORDER BY id DESC LIMIT 1")
        var result: [String: JournalEntry] = [:]
        for id in Set(actionIDs) {
            if let row = try Row.fetchOne(statement, arguments: [id]) { result[id] = entry(row) }
        }
        return result
    }

    /// Actions whose latest step is `intent` or `started`: a run stopped in the middle of them (kept in `journal_open`
    /// as steps are appended).
    public static func unfinished(in db: Database) throws -> [JournalEntry] {
        try Row.fetchAll(db, sql: "SELECT journal.* FROM journal_open JOIN journal ON journal.id = journal_open.id ORDER BY journal.id").map(entry)
    }

    /// The `step` steps (by default `failed`) of `kind` journaled in [from, to], newest first. Read from the journal's
    /// end back to a day before `from` (its times follow its order, but for executors' clocks apart), not through the
    /// whole journal.
    public static func entries(of kind: JournalEntry.Kind, step: JournalEntry.Step = .failed, from: EpochSeconds, to: EpochSeconds,
                               in db: Database) throws -> [JournalEntry] {
        try entries(from: from, to: to, in: db).filter { $0.kind == kind && $0.step == step }
    }

    /// Every step journaled in [from, to], newest first, read as `entries(of:step:from:to:)` reads.
    public static func entries(from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [JournalEntry] {
        var result: [JournalEntry] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT * FROM journal ORDER BY id DESC")
        while let row = try rows.next() {
            let e = entry(row)
            if e.at < from - 86_400 { break }
            if (from...to).contains(e.at) { result.append(e) }
        }
        return result
    }

    /// Every step, newest first (at most `limit`); of one VM's, by its index (`check` asks for each VM: a scan of the
    /// whole journal each time had taken `check` past the watch's interval on a long journal).
    public static func recent(limit: Int, vm: String? = nil, in db: Database) throws -> [JournalEntry] {
        guard let vm else { return try Row.fetchAll(db, sql: "SELECT * FROM journal ORDER BY id DESC LIMIT ?", arguments: [limit]).map(entry) }
        return try Row.fetchAll(db, sql: "SELECT * FROM journal WHERE vm = ? ORDER BY id DESC LIMIT ?", arguments: [vm, limit]).map(entry)
    }

    /// How many of a VM's latest measured saves, and restores, its p95 is of (`p95Seconds`).
    public static let measuredSteps = 50

    /// Per VM of `vms`, the 95th percentile of the seconds its last `measuredSteps` completed saves or restores took
    /// (VMs without one are absent). Reads the VM's latest done steps until that many of that kind (typically about 100
    /// rows), however long the journal; the latest by time.
    public static func p95Seconds(kind: JournalEntry.Kind, vms: some Sequence<String>, upTo time: EpochSeconds = .max,
                                  in db: Database) throws -> [String: Double] {
        let statement = try db.cachedStatement(sql: """
            SELECT seconds FROM journal WHERE vm = ? AND step = 'done' AND kind = ? AND seconds IS NOT NULL AND at <= ? ORDER BY at DESC, id DESC LIMIT \(measuredSteps)
            """)
        var result: [String: Double] = [:]
        for vm in Set(vms) {
            let sorted = try Double.fetchAll(statement, arguments: [vm, kind.rawValue, time]).sorted()
            if !sorted.isEmpty { result[vm] = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)] }
        }
        return result
    }

    /// The intervals a VM spent hibernated that reach the hour of `from` or later (from its done hibernations to the
    /// next done restore, or `now`): demand in them is missing, not idle. Reads the VM's done steps since that hour, by
    /// time, and the one before it (a sleep under way then starts at the latest done hibernation before it).
    public static func hibernatedIntervals(vm: String, from: EpochSeconds, now: EpochSeconds, in db: Database) throws -> [ClosedRange<EpochSeconds>] {
        let from = UTC.floor(from)
        var result: [ClosedRange<EpochSeconds>] = []
        var asleep: EpochSeconds?
        if let before = try Row.fetchOne(db, sql: """
            SELECT kind, at FROM journal WHERE vm = ? AND step = 'done' AND at < ? ORDER BY at DESC, id DESC LIMIT 1
            """, arguments: [vm, from]), before["kind"] as String == "hibernate" {
            asleep = before["at"]
        }
        for row in try Row.fetchAll(db, sql: "SELECT kind, at FROM journal WHERE vm = ? AND step = 'done' AND at >= ? ORDER BY at, id",
                                    arguments: [vm, from]) {
            let kind: String = row["kind"], at: EpochSeconds = row["at"]
            if kind == "hibernate" { asleep = asleep ?? at } else if let from = asleep { result.append(from...max(from, at)); asleep = nil }
        }
        if let from = asleep { result.append(from...max(from, now)) }
        return result
    }

    /// When something last brought `vm` back before its plan's restore (`UnplannedWake`: a demand signal or an operator),
    /// at `from` or later and by `now`: the restore's finish. Its demand came while it slept, where the history has none.
    public static func lastUnplannedWake(vm: String, from: EpochSeconds, now: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        let unplanned = UnplannedWake.allCases.map { _ in "action_id LIKE ?" }.joined(separator: " OR ")
        return try EpochSeconds.fetchOne(db, sql: """
            SELECT max(at) FROM journal WHERE vm = ? AND step = 'done' AND at >= ? AND at <= ? AND kind = 'restore' AND (\(unplanned))
            """, arguments: StatementArguments([vm, from, now] as [any DatabaseValueConvertible] + UnplannedWake.allCases.map { $0.rawValue + ":%" }))
    }

    public static func power(in db: Database) throws -> [String: PowerRecord] {
        Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT * FROM power").map { row in (row["vm"], powerRecord(row)) })
    }

    /// The VMs torpor holds asleep now (their power records say hibernated, or a state a newer torpor wrote: `powerRecord`).
    public static func hibernatedVMs(in db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT vm FROM power WHERE state != ?", arguments: [PowerRecord.State.running.rawValue]))
    }

    /// One VM's power record.
    public static func power(of vm: String, in db: Database) throws -> PowerRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM power WHERE vm = ?", arguments: [vm]).map(powerRecord)
    }

    /// A state this torpor does not know (a newer one's, read by an executor rolled back) is asleep: owed a restore (one of
    /// a VM found running records it so), never a VM taken for running and left asleep.
    private static func powerRecord(_ row: Row) -> PowerRecord {
        PowerRecord(vm: row["vm"], host: row["host"], state: PowerRecord.State(rawValue: row["state"]) ?? .hibernated,
                    since: row["since"], actionID: row["action_id"], manifestID: row["manifest_id"],
                    diskIdentity: row["disk_identity"], poolRefused: row["pool_refused"], poolFailures: row["pool_failures"],
                    poolRetryAt: row["pool_retry_at"])
    }

    /// The power records as they stood at `time` (a replay's `--now`): one written later is replaced by what the journal
    /// held then, the VM's last finished hibernation or restore by `time`, or dropped when there was none (`.max`: as
    /// they are).
    public static func power(at time: EpochSeconds, in db: Database) throws -> [String: PowerRecord] {
        var result = try power(in: db)
        let statement = try db.cachedStatement(sql: """
            SELECT action_id, host, kind, at FROM journal WHERE vm = ? AND step = 'done' AND at <= ? ORDER BY at DESC, id DESC LIMIT 1
            """)
        for (vm, record) in result where record.since > time {
            result[vm] = try Row.fetchOne(statement, arguments: [vm, time]).map { row in
                PowerRecord(vm: vm, host: row["host"], state: row["kind"] == JournalEntry.Kind.hibernate.rawValue ? .hibernated : .running,
                            since: row["at"], actionID: row["action_id"])
            }
        }
        return result
    }

    /// The VMs libvirt holds saved that torpor did not put to sleep (a `virsh managedsave` by hand, a store restored from
    /// an older backup), as the latest inventory by `now` found them: not while torpor acts on them (an action under way
    /// or left open), nor once torpor acted on them after the inventory looked (`power`: its records).
    public static func savedWithoutRecord(now: EpochSeconds, power: [String: PowerRecord], in db: Database) throws -> [SavedDomain] {
        let acting = Set(try unfinished(in: db).map(\.vm))
        return try VMRepository.saved(in: db).filter { s in
            s.seen <= now && !acting.contains(s.vm) && power[s.vm].map { $0.state != .hibernated && $0.since < s.seen } ?? true
        }
    }

    /// (An upsert, not `INSERT OR REPLACE`, here and for pins, holds and settings: a replace deletes the row first, and
    /// on a store a newer torpor migrated, which the executor writes on, that would clear the columns this version does
    /// not know and fire a newer table's `ON DELETE` on this one.)
    public static func setPower(_ p: PowerRecord, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO power (vm, host, state, since, action_id, manifest_id, disk_identity, pool_refused, pool_failures, pool_retry_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (vm) DO UPDATE SET host = excluded.host, state = excluded.state, since = excluded.since, action_id = excluded.action_id,
                manifest_id = excluded.manifest_id, disk_identity = excluded.disk_identity, pool_refused = excluded.pool_refused,
                pool_failures = excluded.pool_failures, pool_retry_at = excluded.pool_retry_at
            """, arguments: [p.vm, p.host, p.state.rawValue, p.since, p.actionID, p.manifestID, p.diskIdentity, p.poolRefused, p.poolFailures, p.poolRetryAt])
    }

    /// Records a failed copy of the sleep `actionID` began into the pool, to be tried again from `retryAt` (if the VM
    /// still sleeps it).
    public static func postponePool(vm: String, actionID: String, retryAt: EpochSeconds, in db: Database) throws {
        try db.execute(sql: "UPDATE power SET pool_failures = pool_failures + 1, pool_retry_at = ? WHERE vm = ? AND action_id = ? AND state = 'hibernated'",
                       arguments: [retryAt, vm, actionID])
    }

    /// Records why the pool refused the image of the sleep `actionID` began (if the VM still sleeps it).
    public static func refusePool(_ reason: String, vm: String, actionID: String, in db: Database) throws {
        try db.execute(sql: "UPDATE power SET pool_refused = ? WHERE vm = ? AND action_id = ? AND state = 'hibernated'",
                       arguments: [reason, vm, actionID])
    }

    /// Records the state pool image of the sleep `actionID` began, if the VM still sleeps that sleep; false otherwise
    /// (it was woken meanwhile: the image stays in the pool, linked to no sleep).
    @discardableResult
    public static func linkManifest(_ manifestID: Int64, vm: String, actionID: String, in db: Database) throws -> Bool {
        try db.execute(sql: "UPDATE power SET manifest_id = ? WHERE vm = ? AND action_id = ? AND state = 'hibernated'",
                       arguments: [manifestID, vm, actionID])
        return db.changesCount > 0
    }

    /// Unlinks the state pool images `manifestIDs` from the sleeps they copy (a chunk of theirs was found damaged and
    /// removed), so that the executor's next pass takes each sleeping VM's libvirt image into the pool again; the VMs
    /// whose copy was unlinked.
    public static func unlinkManifests(_ manifestIDs: Set<Int64>, in db: Database) throws -> [String] {
        guard !manifestIDs.isEmpty else { return [] }
        let ids = manifestIDs.sorted().map(String.init).joined(separator: ",")
        let vms = try String.fetchAll(db, sql: "SELECT vm FROM power WHERE state = 'hibernated' AND manifest_id IN (\(ids)) ORDER BY vm")
        try db.execute(sql: """
            UPDATE power SET manifest_id = NULL, pool_failures = 0, pool_retry_at = NULL, pool_refused = NULL
            WHERE state = 'hibernated' AND manifest_id IN (\(ids))
            """)
        return vms
    }

    /// The VMs whose due hibernation the executor's last run held back, by VM.
    public static func held(in db: Database) throws -> [String: HeldHibernation] {
        Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT * FROM held").map { row in
            (row["vm"], HeldHibernation(vm: row["vm"], host: row["host"], event: row["event"], reason: row["reason"], since: row["since"]))
        })
    }

    /// Replaces the held-back hibernations on `hosts` (nil: every host; an executor runs per host set) with `held`: a VM
    /// there not in it is no longer held back.
    public static func setHeld(_ held: [String: HeldHibernation], hosts: Set<String>?, in db: Database) throws {
        if let hosts {
            for host in hosts { try db.execute(sql: "DELETE FROM held WHERE host = ?", arguments: [host]) }
        } else {
            try db.execute(sql: "DELETE FROM held")
        }
        for h in held.values {
            try db.execute(sql: """
                INSERT INTO held (vm, host, event, reason, since) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (vm) DO UPDATE SET host = excluded.host, event = excluded.event, reason = excluded.reason, since = excluded.since
                """,
                           arguments: [h.vm, h.host, h.event, h.reason, h.since])
        }
    }

    /// The pins in force, made by `time` (a replay's `--now`: not one made after it).
    public static func pins(madeBy time: EpochSeconds = .max, in db: Database) throws -> [String: PinRecord] {
        Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT * FROM pin WHERE pinned_at <= ?", arguments: [time]).map { row in
            (row["vm"], PinRecord(vm: row["vm"], until: row["until"], pinnedBy: row["pinned_by"], pinnedAt: row["pinned_at"]))
        })
    }

    public static func pin(_ p: PinRecord, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO pin (vm, until, pinned_by, pinned_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (vm) DO UPDATE SET until = excluded.until, pinned_by = excluded.pinned_by, pinned_at = excluded.pinned_at
            """,
                       arguments: [p.vm, p.until, p.pinnedBy, p.pinnedAt])
    }

    /// Removes `vm`'s pin; false if it had none.
    @discardableResult
    public static func unpin(vm: String, in db: Database) throws -> Bool {
        try db.execute(sql: "DELETE FROM pin WHERE vm = ?", arguments: [vm])
        return db.changesCount > 0
    }

    private static func entry(_ row: Row) -> JournalEntry {
        JournalEntry(id: row["id"], actionID: row["action_id"], planID: row["plan_id"], vm: row["vm"], host: row["host"],
                     kind: JournalEntry.Kind(rawValue: row["kind"]) ?? .restore, step: JournalEntry.Step(rawValue: row["step"]) ?? .failed,
                     at: row["at"], detail: row["detail"], seconds: row["seconds"], bytes: row["bytes"], deadline: row["deadline"],
                     late: (row["late"] as Int64?).map { $0 != 0 }, cause: row["cause"])
    }
}

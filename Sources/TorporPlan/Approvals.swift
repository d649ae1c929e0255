import Foundation
import GRDB
import TorporCore
import TorporHash
import TorporStore

/// How a plan's actions stand for a review (`show`'s text and page).
public struct ApprovalStanding: Sendable {
    /// This plan's approvals that count now (`Approvals.approvedInForce`), by action id.
    public var approved: [String: ApprovalRecord]
    /// This plan's hibernations the plan the executor follows approved (`Approvals.approvedByFollowed`), by action id.
    public var approvedByFollowed: [String: ApprovalRecord]

    public init(approved: [String: ApprovalRecord] = [:], approvedByFollowed: [String: ApprovalRecord] = [:]) {
        self.approved = approved
        self.approvedByFollowed = approvedByFollowed
    }

    /// How `plan`'s actions stand in the store at `now`.
    public static func of(_ plan: Plan, now: EpochSeconds, in db: Database) throws -> ApprovalStanding {
        ApprovalStanding(approved: try Approvals.approvedInForce(of: plan.id, in: db),
                         approvedByFollowed: try Approvals.approvedByFollowed(plan, now: now, in: db))
    }
}

/// Approval of plans. Approving a hibernation approves its restore; restores are never blocked (not by a plan's
/// expiry, a newer plan, or a missing approval). With a standing approval switched on, a new plan's hibernations that
/// are unchanged from the last approved plan (same VM, host, start, and a restore with the same deadline, a risk no
/// higher and a forecast not come halfway to its thresholds; the same policy and horizon; that plan still valid, its approvals given since the standing approval was switched on) carry
/// that approval; new or changed ones wait for a person. Carried approvals count for hibernations only while it is on,
/// and only those carried since it was last switched on (`carriedInForce`); the restores they moved stand.
public enum Approvals {
    static let standingKey = "standing_approval"

    /// Records a plan just written (the same plan twice is recorded once) with its calls for demand (`Planner.demandCalls`
    /// of its input, for the hour it was made in), then carries a standing approval to it.
    @discardableResult
    public static func record(_ plan: Plan, bytes: Data, demandCalls: [String: [DemandCall]], in store: Store) throws -> ApprovalRecord? {
        try store.transaction { db in
            try PlanRepository.insert(StoredPlan(id: plan.id, createdAt: plan.createdAt.seconds, validUntil: plan.validUntil.seconds,
                                                 fileSHA256: SHA256.hexDigest(of: bytes), body: bytes), in: db)
            try DemandCallRepository.record(demandCalls, hour: UTC.floor(plan.createdAt.seconds), keep: PlanningInputs.demandCallsKept, in: db)
            return try carryStanding(to: plan, in: db)
        }
    }

    /// Approves the hibernations of `plan` for the VMs selected (all, `only` these, or all `except` these) with their
    /// restores. The file must be the one torpor-plan wrote and recorded, unmodified, the plan still valid, and the
    /// newest plan made by `now` (a newer one knows newer data, events and pins) unless `evenIfSuperseded`.
    public static func approve(_ plan: Plan, bytes: Data, source: String, only: [String]?, except: [String], by who: String,
                               now: EpochSeconds, evenIfSuperseded: Bool = false, in store: Store) throws -> ApprovalRecord {
        try store.transaction { db in
            if let problem = try notRecorded(plan, bytes: bytes, in: db) { throw PlanError(.badInput, "\(source): \(problem); approval refused") }
            // Times first: an expired plan cannot be approved at all, superseded or not (--superseded would not help).
            guard now >= plan.createdAt.seconds else {
                throw PlanError(.badInput, "\(source): an approval at \(UTC.format(now)) would come before the plan was made (\(plan.createdAt.text)): check --now")
            }
            guard now <= plan.validUntil.seconds else {
                throw PlanError(.nothingToDo, "\(source): the plan expired at \(plan.validUntil.text) (its restores run anyway): make a new one with torpor-plan make")
            }
            // Any plan recorded as made later, whatever `--now` says (an approval back-dated past a newer plan is still one).
            if !evenIfSuperseded, let newer = try newer(than: plan, in: db) {
                throw PlanError(.badInput, "\(source): plan \(newer.id.prefix(12)) was made since (\(UTC.format(newer.createdAt))) from newer data, events "
                                + "and pins: review and approve that one (torpor-plan list), or pass --superseded to approve this one anyway; approval refused")
            }
            let hibernations = plan.actions.filter { $0.action == .hibernate }
            let planned = Set(hibernations.map(\.vm))
            let named = Set((only ?? []) + except)
            let unknown = named.subtracting(Set(plan.actions.map(\.vm)).union(plan.skipped.map(\.vm)).union(plan.forecasts.map(\.vm)))
            guard unknown.isEmpty else { throw PlanError(.badInput, "\(source): no VM named \(unknown.sorted().joined(separator: ", ")) in this plan") }
            func selected(_ a: Plan.Action) -> Bool { Self.selected(a, only: only, except: except) }
            let chosen = hibernations.filter(selected)
            // The restores of VMs asleep now: approving one lets it move the VM's restore later (extend a sleep past the
            // horizon of the plan that began it); unapproved, a newer plan may only bring a restore earlier.
            let moved = plan.actions.filter { $0.action == .restore && $0.pairedWith == nil && selected($0) }
            guard !chosen.isEmpty || !moved.isEmpty else {
                throw PlanError(.nothingToDo, "\(source): nothing to approve: " + (planned.isEmpty ? "the plan has no hibernation and no VM asleep" : "the selection leaves no hibernation"))
            }
            // Approving again what is approved records nothing (safe to run twice): the record holds only what is new.
            // A person's approval is recorded even of what a standing approval carried: that one may stop counting.
            let already = try approvedActions(of: plan.id, carriedSince: nil, in: db)
            let ids = (chosen.flatMap { [$0.id] + ($0.pairedWith.map { [$0] } ?? []) } + moved.map(\.id)).filter { already[$0] == nil }
            let record = ApprovalRecord(planID: plan.id, approvedBy: who, approvedAt: now, actions: ids)
            if !ids.isEmpty { try PlanRepository.insert(record, in: db) }
            return record
        }
    }

    /// Why `bytes` is not the plan file this store's torpor-plan recorded, or nil when it is: only that file can be
    /// approved, and a review of any other (a dry run's, another store's, an edited one, even re-sealed) says so.
    public static func notRecorded(_ plan: Plan, bytes: Data, in db: Database) throws -> String? {
        guard let stored = try PlanRepository.plan(id: plan.id, in: db) else {
            return "plan \(plan.id.prefix(12)) is not one this store's torpor-plan recorded (a dry run's plans never are, nor another store's)"
        }
        let sha = SHA256.hexDigest(of: bytes)
        guard stored.fileSHA256 == sha else {
            return "the file differs from plan \(plan.id.prefix(12)) as torpor-plan wrote it (SHA-256 \(sha.prefix(12)) ≠ \(stored.fileSHA256.prefix(12)))"
        }
        return nil
    }

    /// Switches the standing approval on or off; switching it to what it is already changes nothing (not when it was
    /// switched on, from which its carries count). Switching on at a `now` before the last switch is refused: it would
    /// count again the carries its switch off had set aside. Switching off never is (a person stopping what the
    /// approval carries): at a `now` before the last switch on (a --now typo ahead of the clock), it is recorded at that
    /// switch's time.
    public static func setStanding(_ on: Bool, by who: String, now: EpochSeconds, in store: Store) throws {
        try store.transaction { db in
            let last = try PlanRepository.setting(standingKey, in: db)
            guard last?.value != (on ? "on" : "off") else { return }
            if on, let last, now < last.setAt {
                throw PlanError(.badInput, "the standing approval was switched \(last.value) at \(UTC.format(last.setAt)) by \(last.setBy): a switch at "
                                + "\(UTC.format(now)), before it, is refused (check --now)")
            }
            // Switched on in the second of a switch off: a second later, so that the carries that switch set aside (made
            // in that second) do not count again.
            let at = on ? max(now, (last?.setAt).map { $0 + 1 } ?? now) : max(now, last?.setAt ?? now)
            try PlanRepository.set(standingKey, to: on ? "on" : "off", by: who, at: at, in: db)
        }
    }

    /// Since when carried approvals count for hibernations: when the standing approval was last switched on; nil while
    /// it is off (a hibernation only carried does not start).
    public static func carriedInForce(in db: Database) throws -> EpochSeconds? {
        try PlanRepository.setting(standingKey, in: db).flatMap { $0.value == "on" ? $0.setAt : nil }
    }

    /// The plan's hibernations no approval covers yet (neither a person's nor a carried one): what the hourly job's
    /// notice asks a person to review.
    public static func awaitingReview(_ plan: Plan, in db: Database) throws -> [Plan.Action] {
        let approved = try approvedInForce(of: plan.id, in: db)
        return plan.actions.filter { $0.action == .hibernate && approved[$0.id] == nil }
    }

    /// The approved action ids of a plan that count now: a person's, and those carried while the standing approval is on.
    public static func approvedInForce(of planID: String, in db: Database) throws -> [String: ApprovalRecord] {
        try approvedActions(of: planID, carriedSince: try carriedInForce(in: db), in: db)
    }

    /// The plan the executor takes hibernations from at `time`: the newest with an approved hibernation that counts now.
    public static func followed(upTo time: EpochSeconds, in db: Database) throws -> PlanHeader? {
        try latestHibernating(upTo: time, carriedSince: try carriedInForce(in: db), in: db)
    }

    /// A plan made since `plan` (in the same second too: which of the two is newer cannot be told), if any: it knows
    /// newer data, events and pins.
    public static func newer(than plan: Plan, in db: Database) throws -> PlanHeader? {
        try PlanRepository.headers(upTo: .max, since: plan.createdAt.seconds, in: db).first { $0.id != plan.id }
    }

    /// Whether `action`'s VM is in an approval's selection (`--only`, nil: every VM; `--except`).
    public static func selected(_ action: Plan.Action, only: [String]?, except: [String]) -> Bool {
        (only?.contains(action.vm) ?? true) && !except.contains(action.vm)
    }

    public static func standing(in db: Database) throws -> Bool { try carriedInForce(in: db) != nil }

    /// The newest plan made by `time` with an approved hibernation (not `excluding`): where the executor takes its
    /// hibernations from and what a standing approval carries from. A plan approved only for its restores (a sleep
    /// extended) replaces neither.
    public static func latestHibernating(upTo time: EpochSeconds, excluding: String? = nil, carriedSince: EpochSeconds? = .min,
                                         in db: Database) throws -> PlanHeader? {
        try PlanRepository.latestApproved(upTo: time, excluding: excluding, carriedSince: carriedSince, approving: { Plan.Action.id($0, isOf: .hibernate) }, in: db)
    }

    /// The approved action ids of a plan: a person's approvals, and carried ones recorded at or after `carriedSince`
    /// (nil: none); with `since`, only approvals given from then on.
    public static func approvedActions(of planID: String, carriedSince: EpochSeconds? = .min, since: EpochSeconds = .min,
                                       in db: Database) throws -> [String: ApprovalRecord] {
        var result: [String: ApprovalRecord] = [:]
        for a in try PlanRepository.approvals(of: planID, in: db)
        where a.approvedAt >= since && (a.carriedFrom == nil || carriedSince.map({ a.approvedAt >= $0 }) == true) {
            // A person's approval of an action stands before one carried (the standing approval may be switched off).
            for id in a.actions where result[id] == nil || (result[id]!.carriedFrom != nil && a.carriedFrom == nil) { result[id] = a }
        }
        return result
    }

    /// How an action of `plan` stands: approved (by whom), awaiting review, or needing no approval (a restore of a VM
    /// asleep now); a hibernation due after the plan expires is said to be started only by a later plan, and one the
    /// followed plan approved (`ApprovalStanding.approvedByFollowed`) to start as that approval planned.
    public static func status(of action: Plan.Action, in plan: Plan, standing: ApprovalStanding) -> String {
        let late = action.action == .hibernate && action.at > plan.validUntil
            ? "; due after the plan expires: a later plan (approved, or carried by the standing approval) starts it" : ""
        if let a = standing.approved[action.id] { return approvedBy(a) + late }
        if let a = standing.approvedByFollowed[action.id] {
            return "awaits review, but starts as planned: \(approvedBy(a)) in plan \(a.planID.prefix(12)), which the executor follows while "
                + "the newest plan holds this sleep (torpor-execute pin \(action.vm) keeps it awake)"
        }
        if action.action == .restore && action.pairedWith == nil { return "brings the sleeping VM's restore earlier without approval; later once approved" }
        return action.action == .restore ? "awaits its hibernation's approval" : "awaits review" + late
    }

    /// Who approved, in a review's words.
    static func approvedBy(_ a: ApprovalRecord) -> String {
        a.carriedFrom == nil ? "approved by \(a.approvedBy)" : "approved (standing, from plan \(a.carriedFrom!.prefix(12)))"
    }

    /// The plan the store holds under `id`, decoded; nil when it holds none, or its body was pruned or cannot be read.
    public static func storedPlan(_ id: String, in db: Database) throws -> Plan? {
        guard let stored = try PlanRepository.plan(id: id, in: db) else { return nil }
        return try? Plan.decode(stored.body, source: "plan \(id)")
    }

    /// The hibernations of `plan` that the plan the executor follows (another, made no later, in force at `now`) approves
    /// under the same signature, due before that plan expires, their forecast not risen since (`Plan.Rationale.rose`): the
    /// executor starts them as that approval planned while the newest plan holds them so, whether or not a person
    /// approves them here (leaving them out of this plan's approval does not hold them back). One risen waits for this
    /// plan's approval.
    public static func approvedByFollowed(_ plan: Plan, now: EpochSeconds, in db: Database) throws -> [String: ApprovalRecord] {
        guard let followed = try followed(upTo: .max, in: db), followed.id != plan.id, followed.createdAt <= plan.createdAt.seconds, !followed.pruned,
              now <= followed.validUntil, let earlier = try storedPlan(followed.id, in: db) else { return [:] }
        let approved = try approvedInForce(of: followed.id, in: db)
        // From its start to its restore's: two idle-timeout windows of a plan share a signature (it has no time), and each
        // is compared with the approved one it overlaps, as the executor compares the window in force.
        func window(_ h: Plan.Action, in p: Plan) -> Range<EpochSeconds> {
            h.at.seconds..<max(h.at.seconds + 1, h.pairedWith.flatMap(p.action)?.at.seconds ?? .max)
        }
        let bySignature = Dictionary(grouping: earlier.actions.compactMap { h in
            h.action == .hibernate && h.at <= earlier.validUntil
                ? approved[h.id].map { (signature: h.signature, record: $0, rationale: h.rationale, window: window(h, in: earlier)) } : nil
        }, by: \.signature)
        return Dictionary(plan.actions.compactMap { h in
            guard h.action == .hibernate, let same = bySignature[h.signature]?.sorted(by: { $0.window.lowerBound < $1.window.lowerBound })
                    .first(where: { $0.window.overlaps(window(h, in: plan)) }), !h.rationale.rose(since: same.rationale) else { return nil }
            return (h.id, same.record)
        }, uniquingKeysWith: { a, _ in a })
    }

    static func carryStanding(to plan: Plan, in db: Database) throws -> ApprovalRecord? {
        // From the last approved plan while it is still valid (not a day-old approval of a sleep the idle timeout or the
        // horizon's end leaves without a time), made under the same policy and horizon (a longer horizon would carry a
        // sleep as long as it), counting the approvals given since the standing approval was switched on only.
        guard let switched = try PlanRepository.setting(standingKey, in: db), switched.value == "on",
              try PlanRepository.approvals(of: plan.id, in: db).isEmpty,
              let previous = try latestHibernating(upTo: plan.createdAt.seconds, excluding: plan.id, carriedSince: switched.setAt, in: db),
              previous.validUntil >= plan.createdAt.seconds,
              let earlier = try storedPlan(previous.id, in: db),
              earlier.inputs.policySHA256 == plan.inputs.policySHA256, earlier.inputs.horizonHours == plan.inputs.horizonHours else { return nil }
        let approvedEarlier = try approvedActions(of: previous.id, carriedSince: switched.setAt, since: switched.setAt, in: db)
        // The earliest approved start per sleep, a hibernation's signature with its own restore's (two approved sleeps
        // do not make one across the hours between them): an idle-timeout window starts at each plan's hour, and its
        // approval carries when it starts no earlier (it may shrink, never grow).
        func sleep(_ hibernation: Plan.Action, in plan: Plan) -> String? {
            hibernation.pairedWith.flatMap(plan.action).map { hibernation.signature + " until " + $0.signature }
        }
        // A sleep whose risk rose since (its forecast now crosses a threshold it did not), or whose forecast came halfway
        // to its thresholds within its risk level, waits for a person too: the approval was given on the forecast then.
        // Since the last plan, and since the plan a person approved it in: a forecast creeping toward a threshold by
        // under half the margin each hour would otherwise be carried all the way.
        typealias Approved = (start: Instant, rationale: Plan.Rationale)
        func approvedSleeps(of plan: Plan, approved: (String) -> Bool) -> [String: Approved] {
            Dictionary(plan.actions.filter { $0.action == .hibernate && approved($0.id) }
                .compactMap { h -> (String, Approved)? in sleep(h, in: plan).map { ($0, (start: h.at, rationale: h.rationale)) } },
                       uniquingKeysWith: { a, b in (min(a.start, b.start), a.rationale.riskRank <= b.rationale.riskRank ? a.rationale : b.rationale) })
        }
        let approvedSleep = approvedSleeps(of: earlier) { approvedEarlier[$0] != nil }
        var seenByPerson: [String: Plan.Rationale] = [:]
        let candidates = plan.actions.filter { a in a.action == .hibernate && sleep(a, in: plan).map { approvedSleep[$0] != nil } == true }
        var wanted = Set(candidates.compactMap { sleep($0, in: plan) })
        // A sleep that begins at a time of its own can be in a plan only if the plan's horizon reached that time (the
        // longest a policy allows, 7 days, and an hour more for the hour a plan is made in); an idle-timeout one, whose
        // signature has no time, in any plan since the switch. Each plan read once.
        let timed = candidates.filter { $0.afterIdleSeconds == nil }.map(\.at.seconds)
        let reach = timed.count < candidates.count ? switched.setAt : (timed.min() ?? plan.createdAt.seconds) - (7 * 24 + 1) * 3600
        var read: [String: Plan] = [earlier.id: earlier]
        let given = wanted.isEmpty ? [] : try PlanRepository.personsApprovals(since: switched.setAt, created: min(reach, plan.createdAt.seconds)...plan.createdAt.seconds, in: db)
        for approval in given where !wanted.isEmpty {
            guard let approvedPlan = try read[approval.planID] ?? storedPlan(approval.planID, in: db) else { continue }
            read[approval.planID] = approvedPlan
            let ids = Set(approval.actions)
            for (key, approved) in approvedSleeps(of: approvedPlan, approved: ids.contains) where wanted.contains(key) {
                seenByPerson[key] = approved.rationale
                wanted.remove(key)
            }
        }
        let carried = plan.actions.filter { a in
            guard a.action == .hibernate, let key = sleep(a, in: plan), let approved = approvedSleep[key], let seen = seenByPerson[key],
                  !a.rationale.rose(since: approved.rationale), !a.rationale.rose(since: seen) else { return false }
            return a.afterIdleSeconds == nil || approved.start <= a.at
        }
        // A sleeping VM's restore unchanged from an approved one (the same deadline, or still at the horizon's end, or
        // at the start of the forecast window approved after it): its sleep goes on as approved.
        let approvedRestores = Set(earlier.actions.filter { $0.action == .restore && approvedEarlier[$0.id] != nil }.map(\.signature))
        let moved = plan.actions.filter { $0.action == .restore && $0.pairedWith == nil && approvedRestores.contains($0.signature) }
        guard !carried.isEmpty || !moved.isEmpty else { return nil }
        // Recorded no earlier than the switch it comes from (a plan whose making began before it), so that it counts.
        let record = ApprovalRecord(planID: plan.id, approvedBy: "standing approval of \(switched.setBy)", approvedAt: max(plan.createdAt.seconds, switched.setAt),
                                    actions: carried.flatMap { [$0.id, $0.pairedWith!] } + moved.map(\.id), carriedFrom: previous.id)
        try PlanRepository.insert(record, in: db)
        return record
    }

    /// Empties the stored bodies of plans older than `retention` (hourly plans of large fleets add up), keeping every
    /// plan a sleeping VM's restore may come from; ids, hashes and approvals stay. Returns how many were pruned, and
    /// the time before which plans are no longer kept whole (so that their files can go too, `PlanFiles.prune`).
    public static func prune(olderThan retention: Int64, now: EpochSeconds, in store: Store) throws -> (pruned: Int, before: EpochSeconds) {
        try store.transaction { db in
            let sleepers = try JournalRepository.power(in: db).values.filter { $0.state == .hibernated }
            let latest = try JournalRepository.latestSteps(of: sleepers.map(\.actionID), in: db)
            let keep = Set(sleepers.compactMap { latest[$0.actionID]?.planID })
            // The plans since 8 days before the oldest sleep began: one of them made its restore; and every plan still
            // valid (a --keep shorter than valid_for would empty the approved plan the executor follows).
            let before = min(now - retention, (sleepers.map(\.since).min() ?? .max) - 8 * 86_400,
                             try PlanRepository.oldestValid(at: now, in: db) ?? .max)
            return (try PlanRepository.pruneBodies(before: before, keep: keep, in: db), before)
        }
    }
}

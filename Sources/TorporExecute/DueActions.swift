import Foundation
import GRDB
import TorporCore
import TorporPlan
import TorporStore

/// A restore the executor owes a sleeping VM, whichever plan it comes from.
struct OwedRestore: Sendable {
    var vm: String
    var host: String
    var actionID: String
    var planID: String?
    var at: EpochSeconds
    var deadline: EpochSeconds
    var priority: Int
    var reason: String
    /// A plan's restore: what set its deadline (`demand`: the forecast); nil for a restore no plan scheduled.
    var cause: String? = nil
    /// Rebuild the image from the state pool even if libvirt still has its own (`restore --from-pool`).
    var fromPool = false
    /// Asked by a person (`wake`): a VM libvirt paused for a fault is resumed, not left for a person.
    var byPerson = false
    /// One of many a person's wake asks for (`wake --all`, by label): held where a wake of this VM alone is not
    /// (`Executor.held`).
    var ofMany = false
    /// A pin's wake: held as a wake of many is (a pin keeps a VM up; it is no person's decision about a second copy).
    var byPin = false
    /// A restore owed at once (a pin, an event, no plan's restore): since when, for `ExecutionCheck` (its `deadline`
    /// is each pass's now, so that doing it promptly is no violation).
    var dueSince: EpochSeconds? = nil
    /// A plan's restore: how many of its host's restores the plan's queue lets run at once (`Plan.Action.hostConcurrentRestores`).
    var hostConcurrentRestores: Int? = nil
}

/// What the plans ask of the executor at `now`.
enum DueActions {
    /// The newest plan with an approved hibernation, if any (`Approvals.latestHibernating`), with its approved action
    /// ids. Plans are read back from the store's copy,
    /// which `torpor-plan approve` checked against the file a person reviewed.
    /// Whether an interrupted hibernation may still be started by a run's hibernation pass: an approved action of the
    /// newest approved plan, which has not expired. One that may not is closed by reconciling, not left open.
    static func stillDue(_ entry: JournalEntry, now: EpochSeconds, in db: Database) throws -> Bool {
        // A plan this version cannot read starts nothing (the executor says why): its intent is not still due, and the
        // check goes on to name what else needs a person.
        let found: (plan: Plan, approved: [String: ApprovalRecord])?
        do { found = try approvedPlan(now: now, in: db) } catch is PlanError { return false }
        guard let (plan, approved) = found else { return false }
        return plan.id == entry.planID && approved[entry.actionID] != nil && now <= plan.validUntil.seconds
    }

    static func approvedPlan(now: EpochSeconds, in db: Database) throws -> (plan: Plan, approved: [String: ApprovalRecord])? {
        // Carried approvals count while the standing approval is on, those carried since it was last switched on: switched
        // off, a hibernation only carried does not start.
        guard let followed = try Approvals.followed(upTo: now, in: db), !followed.pruned,
              let stored = try PlanRepository.plan(id: followed.id, in: db) else { return nil }
        let plan = try Plan.decode(stored.body, source: "plan \(stored.id) in the store")
        return (plan, try Approvals.approvedInForce(of: plan.id, in: db))
    }

    /// The restore each sleeping VM is owed. Restores are never blocked: the restore paired with the VM's hibernation
    /// holds unless a newer plan's **approved** restore of it moved it; any newer plan (approved or not) may only bring
    /// it earlier.
    /// A pinned VM, one whose demand or keep-awake event is on or starts within its lead (`eventLead`: an event ingested
    /// after the newest plan, an early campaign), or one no plan has a restore for, is owed one now. `replaying` (a
    /// `--now` in the past): the power records as they stood then.
    static func owedRestores(now: EpochSeconds, replaying: Bool = false, in db: Database) throws -> [OwedRestore] {
        let power = try JournalRepository.power(at: replaying ? now : .max, in: db).values.filter { $0.state == .hibernated }
        guard !power.isEmpty else { return [] }
        let pins = try JournalRepository.pins(madeBy: replaying ? now : .max, in: db)
        let latest = try JournalRepository.latestSteps(of: power.map(\.actionID), in: db)
        let labels = Dictionary(uniqueKeysWithValues: try VMRepository.all(in: db).map { ($0.name, $0.labels) })
        let restoreSeconds = try JournalRepository.p95Seconds(kind: .restore, vms: power.map(\.vm), upTo: replaying ? now : .max, in: db)
        func lead(_ vm: String) -> EpochSeconds { eventLead(restoreSeconds: restoreSeconds[vm]) }
        let happening = try EventRepository.overlapping(from: now, to: now + (power.map { lead($0.vm) }.max() ?? 0), knownBy: replaying ? now : .max, in: db)
            .filter { $0.category == .demand || $0.category == .keepAwake }
        // Only plans made since the earliest sleeping VM fell asleep matter (less 8 days: the plan that put it to sleep
        // was made before, within its validity).
        let plans = try plans(upTo: now, since: (power.map(\.since).min() ?? now) - 86_400 - 7 * 86_400, in: db)
        let plansByID = Dictionary(plans.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var owed: [OwedRestore] = []
        for p in power.sorted(by: { $0.vm < $1.vm }) {
            let sleepPlan = latest[p.actionID]?.planID.flatMap { plansByID[$0] }
            let chosen = restore(of: p.vm, asleepBy: p.actionID, since: p.since, sleepPlan: sleepPlan, newer: plans.filter { $0.createdAt >= sleepPlan?.createdAt ?? p.since })
            if let pin = pins[p.vm], pin.holds(at: now) {
                owed.append(.init(vm: p.vm, host: p.host, actionID: "pin:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: now,
                                  priority: chosen?.action.priority ?? 1, reason: "pinned by \(pin.pinnedBy): keep awake", dueSince: max(p.since, pin.pinnedAt)))
            } else if let event = happening.first(where: { e in
                // On, or starting within the lead before a restore the plans have for it by then (a plan that knew the
                // event restores for it itself, on time, as a planned restore).
                let planned = chosen.map { ($0.action.deadline ?? $0.action.at).seconds <= e.start } ?? false
                return (e.start <= now || e.start < now + lead(p.vm) && !planned) && e.applies(to: p.vm, labels: labels[p.vm] ?? [:])
            }) {
                let starts = event.start > now ? "starts at \(UTC.format(event.start))" : "is on"
                owed.append(.init(vm: p.vm, host: p.host, actionID: "event:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: max(now, event.start),
                                  priority: chosen?.action.priority ?? 1, reason: "calendar: \(event.category.rawValue) event '\(event.summary)' \(starts)",
                                  dueSince: max(p.since, event.start - lead(p.vm))))
            } else if let (action, planID) = chosen {
                owed.append(.init(vm: p.vm, host: p.host, actionID: action.id, planID: planID,
                                  at: action.at.seconds, deadline: action.deadline?.seconds ?? action.at.seconds, priority: action.priority,
                                  reason: action.rationale.text, cause: action.deadlineCause, hostConcurrentRestores: action.hostConcurrentRestores))
            } else {
                owed.append(.init(vm: p.vm, host: p.host, actionID: "safety:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: now,
                                  priority: 1, reason: "no plan holds a restore for this sleeping VM: restored now", dueSince: p.since))
            }
        }
        return owed
    }
}

extension DueActions {
    /// How long before a demand or keep-awake event a VM asleep is owed its restore, whatever its plans say (the event
    /// may have been ingested since the newest plan): its measured p95 restore time (else 5 minutes), and 5 more for the
    /// executor's next pass (every 2 minutes from cron, every minute with `--follow`) and a restore slower than usual.
    static func eventLead(restoreSeconds: Double?) -> EpochSeconds { EpochSeconds((restoreSeconds ?? 300).rounded(.up)) + 300 }

    /// The plans made in [since, now], newest first; each read and decoded only when a VM's restore is looked for in it
    /// (usually the newest plan and the newest approved ones answer for every VM).
    static func plans(upTo now: EpochSeconds, since: EpochSeconds, in db: Database) throws -> [PlanActions] {
        // Every approval of a restore counts, carried too: a sleep a standing approval extended keeps its restore.
        try PlanRepository.headers(upTo: now, since: since, in: db).filter { !$0.pruned }.map { header in
            PlanActions(id: header.id, createdAt: header.createdAt,
                        approved: (try? Approvals.approvedActions(of: header.id, in: db)).map { Set($0.keys) } ?? []) {
                try? PlanRepository.plan(id: header.id, in: db)?.body
            }
        }
    }

    /// The restore a VM asleep by hibernation `actionID` since `asleepSince` is owed by the plans: the one paired with
    /// it in `sleepPlan`, unless a newer plan's approved restore of it moved it; the newest of `newer` (newest first)
    /// with a restore of it may only bring it earlier.
    static func restore(of vm: String, asleepBy actionID: String, since asleepSince: EpochSeconds, sleepPlan: PlanActions?,
                        newer: [PlanActions]) -> (action: Plan.Action, plan: String)? {
        // A newer plan made before the sleep began holds the same hibernation under its own id when it is an idle-timeout
        // one (its id has its plan's hour): its restore is this sleep's too, that of the window the sleep began in, the
        // latest to begin by then (the plan may hold another window of the VM later, after demand it foresees; and a
        // save that ended after its window's restore time is owed that restore, due at once).
        let signature = sleepPlan?.actions[actionID]?.signature
        func restore(in plan: PlanActions) -> Plan.Action? {
            let restores = plan.restores[vm] ?? []
            // A restore of the VM asleep (unpaired) is this sleep's when the plan was made during it: one made before
            // was made during an earlier sleep.
            if let own = restores.first(where: { $0.pairedWith == actionID || $0.pairedWith == nil && plan.createdAt >= asleepSince }) { return own }
            guard let signature else { return nil }
            return restores.compactMap { r in r.pairedWith.flatMap { plan.actions[$0] }.map { (restore: r, hibernation: $0) } }
                .filter { $0.hibernation.signature == signature && $0.hibernation.at.seconds <= asleepSince }
                .max { $0.hibernation.at < $1.hibernation.at }?.restore
        }
        let paired = sleepPlan.flatMap { plan in plan.actions[plan.actions[actionID]?.pairedWith ?? ""].map { (action: $0, plan: plan.id) } }
        let approvedNewer = newer.lazy.filter { $0.approvesRestore(of: vm) }
            .compactMap { plan in restore(in: plan).flatMap { plan.approved.contains($0.id) ? (action: $0, plan: plan.id) : nil } }.first
        let newestAny = newer.lazy.compactMap { plan in restore(in: plan).map { (action: $0, plan: plan.id) } }.first
        var chosen = approvedNewer ?? paired
        if let n = newestAny, chosen == nil || n.action.at < chosen!.action.at { chosen = n }
        return chosen
    }

    /// What the plans made since `plan` say of its approved `hibernations`, which the hibernations' pre-flight asks;
    /// each plan read once for all of them. Empty when none has been made.
    struct SinceApproved {
        /// By action id: the newest plan made since, when it no longer holds the hibernation (none with its signature:
        /// its forecast, data or events changed): that plan is for a person to review, not this one to act on.
        var droppedBy: [String: String] = [:]
        /// By action id: the newest plan made since and its own rationale, when it holds the hibernation with a forecast
        /// risen since the approval (`Plan.Rationale.rose`: what no standing approval carries): held for a person's review.
        var roseIn: [String: (plan: String, rationale: Plan.Rationale)] = [:]
        /// By action id: the restore the VM would be owed once asleep (a newer plan may bring it earlier).
        var restores: [String: Plan.Action] = [:]
    }

    static func sinceApproved(_ hibernations: [Plan.Action], of plan: Plan, now: EpochSeconds, in db: Database) throws -> SinceApproved {
        let plans = try plans(upTo: now, since: plan.createdAt.seconds, in: db)
        // Made later (of two made in the same second, two policies tried, neither is the newer).
        guard let newest = plans.first(where: { $0.createdAt > plan.createdAt.seconds }) else { return SinceApproved() }
        let sleepPlan = plans.first { $0.id == plan.id }
        // The same hibernation by its signature (an idle-timeout one's id has its plan's hour, its signature not), and
        // an idle-timeout one in a window of the newest plan that holds now: one later the same day, after demand the
        // newest plan foresees, does not let it sleep through that demand.
        let held = Dictionary(newest.actions.values.filter { h in
            guard h.action == .hibernate else { return false }
            guard h.afterIdleSeconds != nil else { return true }
            return h.at.seconds <= now && now < (h.pairedWith.flatMap { newest.actions[$0] }?.at.seconds ?? .max)
        }.map { ($0.signature, $0) }, uniquingKeysWith: { a, _ in a })
        var said = SinceApproved()
        for h in hibernations {
            if let same = held[h.signature] {
                if same.rationale.rose(since: h.rationale) { said.roseIn[h.id] = (newest.id, same.rationale) }
            } else {
                said.droppedBy[h.id] = newest.id
            }
            said.restores[h.id] = restore(of: h.vm, asleepBy: h.id, since: now, sleepPlan: sleepPlan, newer: plans)?.action
        }
        return said
    }
}

/// A stored plan as the search for owed restores reads it: when it was made, its approved actions, and (read and
/// decoded on first use) its actions by id and restores by VM. Its forecasts (most of a large fleet's plan) are not
/// decoded, nor its seal checked again: the store's copy was checked when the plan was recorded, and the executor looks
/// through the plans since the earliest sleep on every pass.
final class PlanActions {
    let id: String
    let createdAt: EpochSeconds
    let approved: Set<String>
    private let body: () -> Data?

    init(id: String, createdAt: EpochSeconds, approved: Set<String>, body: @escaping () -> Data?) {
        self.id = id; self.createdAt = createdAt; self.approved = approved; self.body = body
    }

    private struct Body: Decodable {
        var schema: String
        var actions: [Plan.Action]
    }

    /// Empty for a plan of another schema, or one that cannot be read (it holds no restore anyone is owed).
    private lazy var content: (actions: [String: Plan.Action], restores: [String: [Plan.Action]]) = {
        guard let data = body(), let decoded = try? JSONDecoder().decode(Body.self, from: data), decoded.schema == Plan.schema else { return ([:], [:]) }
        return (Dictionary(decoded.actions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
                Dictionary(grouping: decoded.actions.filter { $0.action == .restore }, by: \.vm))
    }()

    var actions: [String: Plan.Action] { content.actions }
    var restores: [String: [Plan.Action]] { content.restores }

    /// The VMs whose restore this plan has approved (action ids are `VM/kind/at`, the time without '/'): known without
    /// reading the plan.
    private lazy var approvedRestores: Set<String> = Set(approved.compactMap { id in
        id.range(of: "/" + Plan.Kind.restore.rawValue + "/", options: .backwards).map { String(id[..<$0.lowerBound]) }
    })

    func approvesRestore(of vm: String) -> Bool { approvedRestores.contains(vm) }
}

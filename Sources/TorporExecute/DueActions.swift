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
}

/// What the plans ask of the executor at `now`.
enum DueActions {
    /// The newest plan with an approved hibernation, if any (`Approvals.latestHibernating`), with its approved action
    /// ids. Plans are read back from the store's copy,
    /// which `torpor-plan approve` checked against the file a person reviewed.
    static func approvedPlan(now: EpochSeconds, in db: Database) throws -> (plan: Plan, approved: [String: ApprovalRecord])? {
        guard let stored = try Approvals.latestHibernating(upTo: now, in: db), !stored.body.isEmpty else { return nil }
        let plan = try Plan.decode(stored.body, source: "plan \(stored.id) in the store")
        return (plan, try Approvals.approvedActions(of: plan.id, in: db))
    }

    /// The restore each sleeping VM is owed. Restores are never blocked: the restore paired with the VM's hibernation
    /// holds unless a newer plan's **approved** restore of it moved it; any newer plan (approved or not) may only bring
    /// it earlier.
    /// A pinned VM, one whose demand or keep-awake event is on (an early campaign), or one no plan has a restore for,
    /// is owed one now.
    static func owedRestores(now: EpochSeconds, in db: Database) throws -> [OwedRestore] {
        let power = try JournalRepository.power(in: db).values.filter { $0.state == .hibernated }
        guard !power.isEmpty else { return [] }
        let pins = try JournalRepository.pins(in: db)
        let latest = try JournalRepository.latestSteps(of: power.map(\.actionID), in: db)
        let labels = Dictionary(uniqueKeysWithValues: try VMRepository.all(in: db).map { ($0.name, $0.labels) })
        let happening = try EventRepository.overlapping(from: now, to: now + 1, in: db).filter { $0.category == .demand || $0.category == .keepAwake }
        // Only plans made since the earliest sleeping VM fell asleep matter (less 8 days: the plan that put it to sleep
        // was made before, within its validity).
        let since = (power.map(\.since).min() ?? now) - 86_400 - 7 * 86_400
        let plans = try PlanRepository.plans(upTo: now, since: since, in: db).filter { !$0.body.isEmpty }.compactMap { stored in
            (try? Plan.decode(stored.body, source: stored.id)).map { (plan: $0, approved: (try? Approvals.approvedActions(of: stored.id, in: db)).map { Set($0.keys) } ?? []) }
        }   // newest first
        var owed: [OwedRestore] = []
        for p in power.sorted(by: { $0.vm < $1.vm }) {
            let sleepPlanID = latest[p.actionID]?.planID
            let sleepPlan = plans.first { $0.plan.id == sleepPlanID }?.plan
            func restore(in plan: Plan) -> Plan.Action? {
                plan.actions.first { $0.vm == p.vm && $0.action == .restore && ($0.pairedWith == nil || $0.pairedWith == p.actionID) }
            }
            let newer = plans.filter { $0.plan.createdAt >= (sleepPlan?.createdAt ?? Instant(p.since)) }
            let paired = sleepPlan.flatMap { plan in plan.action(plan.action(p.actionID)?.pairedWith ?? "") }
            let approvedNewer = newer.compactMap { p in restore(in: p.plan).flatMap { p.approved.contains($0.id) ? $0 : nil } }.first
            let newestAny = newer.first { restore(in: $0.plan) != nil }.flatMap { restore(in: $0.plan) }
            var chosen = approvedNewer ?? paired
            if let n = newestAny, chosen == nil || n.at < chosen!.at { chosen = n }
            if let pin = pins[p.vm], pin.until.map({ $0 > now }) ?? true {
                owed.append(.init(vm: p.vm, host: p.host, actionID: "pin:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: now,
                                  priority: chosen?.priority ?? 1, reason: "pinned by \(pin.pinnedBy): keep awake"))
            } else if let event = happening.first(where: { $0.applies(to: p.vm, labels: labels[p.vm] ?? [:]) }) {
                owed.append(.init(vm: p.vm, host: p.host, actionID: "event:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: now,
                                  priority: chosen?.priority ?? 1, reason: "calendar: \(event.category.rawValue) event '\(event.summary)' is on"))
            } else if let chosen {
                owed.append(.init(vm: p.vm, host: p.host, actionID: chosen.id, planID: plans.first { $0.plan.action(chosen.id) == chosen }?.plan.id,
                                  at: chosen.at.seconds, deadline: chosen.deadline?.seconds ?? chosen.at.seconds, priority: chosen.priority,
                                  reason: chosen.rationale.text, cause: chosen.deadlineCause))
            } else {
                owed.append(.init(vm: p.vm, host: p.host, actionID: "safety:\(p.vm):\(UTC.format(now))", planID: nil, at: now, deadline: now,
                                  priority: 1, reason: "no plan holds a restore for this sleeping VM: restored now"))
            }
        }
        return owed
    }
}

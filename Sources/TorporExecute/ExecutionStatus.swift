import Foundation
import GRDB
import TorporCore
import TorporPlan
import TorporStore

/// `torpor-execute status`: what is asleep and until when, what is due, pins, the switch, VMs woken early or whose
/// forecast is set aside, recent failures and violations.
public enum ExecutionStatus {
    /// The status at `now`; with the policy torpor-plan uses, also the VMs whose forecast it sets aside. `replaying` (a
    /// `--now` given): what was asleep then, from the journal, not what is asleep now.
    public static func render(store: Store, now: EpochSeconds, replaying: Bool = false, policy: Policy? = nil) throws -> String {
        let newer = try store.writtenByNewerTorpor()
        return try store.read { db in
            var out: [String] = []
            let switched = try ExecutorSettings.paused(in: db) ? "PAUSED (restores continue)" : "enabled"
            out.append("at \(UTC.format(now)): hibernations " + (newer ? "HELD: \(ExecutorSettings.newerSchemaHold)" : switched))
            let owed = try DueActions.owedRestores(now: now, replaying: replaying, in: db)
            out.append("asleep: \(owed.count)")
            for r in owed {
                out.append("  \(r.vm) on \(r.host): restore \(r.at <= now ? "DUE NOW" : "at " + UTC.format(r.at)), deadline \(UTC.format(r.deadline)) (\(r.actionID))"
                           + (r.cause == "dormant" ? "; dormant: " + Planner.dormantWakes + " (this restore, at the horizon's end, moves with each plan)" : ""))
            }
            // Nothing restores these (`check` names them for their first day only): a person wakes them or leaves them saved.
            let unrecorded = try ExecutionCheck.savedWithoutRecord(now: now, replaying: replaying, in: db)
            if !unrecorded.isEmpty {
                out.append("saved without torpor's record (nothing restores them: torpor-execute wake VM, or wake --all): \(unrecorded.count)")
                for s in unrecorded.sorted(by: { ($0.vm, $0.host) < ($1.vm, $1.host) }) { out.append("  \(s.vm) on \(s.host): since \(UTC.format(s.since))") }
            }
            if let (plan, approved) = try DueActions.approvedPlan(now: now, in: db) {
                let latest = try JournalRepository.latestSteps(of: plan.actions.map(\.id), in: db)
                // Only hibernations due while the plan is valid start under it: an expired plan starts none.
                let pending = plan.actions.filter { $0.action == .hibernate && approved[$0.id] != nil && latest[$0.id] == nil && $0.at <= plan.validUntil }
                if now > plan.validUntil.seconds {
                    out.append("approved plan \(plan.id.prefix(12)) EXPIRED at \(plan.validUntil.text): it starts no hibernation (its restores run); the next approved plan's do")
                } else {
                    out.append("approved plan \(plan.id.prefix(12)) (valid until \(plan.validUntil.text)): \(pending.count) hibernations not yet started")
                    for a in pending { out.append("  \(a.vm): \(a.what) \(a.at.seconds <= now ? "due now" : "from " + a.at.text)") }
                }
            } else {
                out.append("no approved plan")
            }
            let held = try JournalRepository.held(in: db).values.sorted { $0.vm < $1.vm }
            if !held.isEmpty {
                out.append("hibernations held back on the last run:")
                for h in held { out.append("  \(h.vm): \(h.event) since \(UTC.format(h.since)): \(h.reason)") }
            }
            let woken = try JournalRepository.power(at: replaying ? now : .max, in: db).values
                .filter { Planner.distrusts(provenWrongAt: $0.wokenEarlyAt, now: now) }.sorted { $0.vm < $1.vm }
            if !woken.isEmpty {
                out.append("woken before their planned restore within a day (the next sleep waits for min_idle of measured quiet):")
                for p in woken { out.append("  \(p.vm) on \(p.host): running since \(UTC.format(p.since)) (\(p.actionID))") }
            }
            if let policy {
                let setAside = try PlanningInputs.forecastsSetAside(now: now, replaying: replaying, policy: policy, in: db)
                if !setAside.isEmpty {
                    out.append(Planner.setAsideHeading + ":")
                    for s in setAside { out.append("  \(s.vm) until \(UTC.format(s.until))") }
                }
            }
            let pins = try JournalRepository.pins(madeBy: replaying ? now : .max, in: db)
            if !pins.isEmpty {
                out.append("pins:")
                for p in pins.values.sorted(by: { $0.vm < $1.vm }) {
                    out.append("  \(p.vm): by \(p.pinnedBy)" + (p.until.map { " until \(UTC.format($0))" + (p.holds(at: now) ? "" : " (expired: holds nothing)") } ?? " until unpinned"))
                }
            }
            let recent = try JournalRepository.recent(limit: 200, in: db)
            let failures = recent.filter { $0.step == .failed }.prefix(10)
            if !failures.isEmpty {
                out.append("recent failures:")
                for f in failures { out.append("  \(UTC.format(f.at)) \(f.vm) \(f.kind.rawValue): \(f.detail)") }
            }
            let violations = recent.filter { $0.step == .done && $0.late == true }.prefix(10)
            if !violations.isEmpty {
                out.append("restores after their deadline (SLA violations):")
                for v in violations { out.append("  \(v.vm): done \(UTC.format(v.at)), deadline \(v.deadline.map(UTC.format) ?? "?")" + (v.cause.map { " (\($0))" } ?? "")) }
            }
            return out.joined(separator: "\n")
        }
    }
}

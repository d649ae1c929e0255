import Foundation
import TorporCore
import TorporStore

/// The plan as text for review: a table of actions, then per VM what happens when and why, then what stays running.
public enum PlanReport {
    public static func text(_ plan: Plan, standing: ApprovalStanding) -> String {
        var out = ["plan \(plan.id.prefix(12))  created \(plan.createdAt.text)  valid until \(plan.validUntil.text)",
                   "inputs: data up to \(plan.inputs.dataWatermark?.text ?? "none"), \(plan.inputs.model), policy \(plan.inputs.policySHA256.prefix(12)), horizon \(plan.inputs.horizonHours) h",
                   ""]
        let rows = plan.actions.map { a in
            [a.what, a.vm, a.tier, a.at.text, a.deadline?.text ?? "-", String(format: "%.1f", a.rationale.expectedVMHoursSaved),
             a.rationale.risk, Approvals.status(of: a, in: plan, standing: standing)]
        }
        out += table(header: ["ACTION", "VM", "TIER", "AT", "DEADLINE", "VM-H SAVED", "RISK", "APPROVAL"], rows: rows)
        let saved = plan.actions.filter { $0.action == .restore }.reduce(0) { $0 + $1.rationale.expectedVMHoursSaved }
        out.append("\(plan.actions.filter { $0.action == .hibernate }.count) hibernations, \(plan.actions.filter { $0.action == .restore }.count) restores, \(String(format: "%.1f", saved)) VM-hours saved expected")
        for vm in Set(plan.actions.map(\.vm)).sorted() {
            out.append("")
            let f = plan.forecast(of: vm)
            out.append("\(vm)" + (f.map { " (tier \($0.tier): q\($0.tierQuantile) under \($0.hibernateBelow) % sleeps, restore at \($0.restoreAbove) %; forecast: \($0.source))" } ?? ""))
            for a in plan.actions where a.vm == vm {
                out.append("  \(a.at.text)  \(a.action.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(a.rationale.text)")
                if let deadline = a.deadline { out.append("  \(String(repeating: " ", count: a.at.text.count))  \(String(repeating: " ", count: 9))  must run by \(deadline.text)") }
                if let bytes = a.reservations.statePoolBytes { out.append("  \(String(repeating: " ", count: a.at.text.count + 11))  reserves \(ByteSize.format(bytes)) of state pool") }
            }
        }
        for (heading, skips) in [("left running:", plan.leftRunning), ("windows not taken:", plan.windowsNotTaken)] where !skips.isEmpty {
            out.append("")
            out.append(heading)
            for s in skips { out.append("  \(s.vm): \(s.reason)") }
        }
        return out.joined(separator: "\n")
    }

    static func table(header: [String], rows: [[String]]) -> [String] {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return [line(header)] + rows.map(line)
    }

    /// What changed from `old` to `new`, per VM: actions added, removed, or moved in time; a sleep both hold whose risk
    /// rose or whose forecast came halfway to its thresholds.
    public static func diff(old: Plan, new: Plan) -> String {
        var out = ["plan \(old.id.prefix(12)) (\(old.createdAt.text)) → \(new.id.prefix(12)) (\(new.createdAt.text))"]
        func describe(_ a: Plan.Action) -> String {
            "\(a.what) at \(a.at.text)" + (a.deadline.map { " (deadline \($0.text), set by \(a.deadlineCause ?? "?"))" } ?? "")
        }
        var changes = 0
        for vm in Set(old.actions.map(\.vm) + new.actions.map(\.vm)).sorted() {
            let before = old.actions.filter { $0.vm == vm }, after = new.actions.filter { $0.vm == vm }
            // The same sleep at a higher risk, or with its forecast come halfway to its thresholds (a standing approval
            // carries neither): said too, with the forecast before.
            let riskier = after.filter { $0.action == .hibernate }.compactMap { a in
                before.first { $0.signature == a.signature && a.rationale.rose(since: $0.rationale) }
                    .map { (now: a, was: $0) }
            }
            // A hibernation whose time came before the new plan: begun (the VM asleep: the new plan restores it) or not.
            let asleep = after.contains { $0.action == .restore && $0.pairedWith == nil }
            func gone(_ a: Plan.Action) -> String {
                guard a.action == .hibernate, a.at.seconds <= new.createdAt.seconds else { return "" }
                return asleep ? "  (its time came: asleep when the newer plan was made, which restores it)" : "  (its time came: not asleep when the newer plan was made)"
            }
            if before.map(\.signature) == after.map(\.signature) && riskier.isEmpty { continue }
            out.append("\(vm):")
            for (a, was) in riskier {
                let r = a.rationale, w = was.rationale, percent: (Double) -> String = Planning.percent
                let peaks = "q\(r.quantile) peak \(percent(w.forecastPeak)) → \(percent(r.forecastPeak)) (sleeps under \(percent(r.hibernateBelow)))"
                let tops = "top quantile \(percent(w.worstCase)) → \(percent(r.worstCase)) (restores at \(percent(r.restoreAbove)))"
                out.append("  ! \(describe(a)): risk \(w.risk) → \(r.risk); \(peaks), \(tops): \(r.text)")
            }
            for a in before where !after.contains(where: { $0.signature == a.signature }) { out.append("  - \(describe(a))" + gone(a)) }
            for a in after where !before.contains(where: { $0.signature == a.signature }) { out.append("  + \(describe(a))  [\(a.rationale.risk) risk] \(a.rationale.text)") }
            changes += 1
        }
        let oldSkips = Dictionary(old.skipped.map { ($0.vm, $0.reason) }, uniquingKeysWith: { a, b in a + "; " + b })   // once per VM as torpor writes it
        for s in new.skipped where oldSkips[s.vm] != s.reason && !new.actions.contains(where: { $0.vm == s.vm }) {
            out.append("\(s.vm): left running: \(s.reason)")
            changes += 1
        }
        if changes == 0 { out.append("no change in actions") }
        if old.inputs != new.inputs {
            if old.inputs.model != new.inputs.model { out.append("model: \(old.inputs.model) → \(new.inputs.model)") }
            if old.inputs.policySHA256 != new.inputs.policySHA256 { out.append("policy changed: \(old.inputs.policySHA256.prefix(12)) → \(new.inputs.policySHA256.prefix(12))") }
            if old.inputs.dataWatermark != new.inputs.dataWatermark { out.append("data up to \(old.inputs.dataWatermark?.text ?? "none") → \(new.inputs.dataWatermark?.text ?? "none")") }
        }
        return out.joined(separator: "\n")
    }
}

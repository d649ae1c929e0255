import Foundation

/// The report as a table: one row per strategy, captured idle hours against the oracle's, violations, episodes.
public enum BacktestTable {
    public static func render(_ r: BacktestReport) -> String {
        let oracle = r.fleet[Strategy.oracle.rawValue]?.capturedHours
        var out = ["replay \(r.from) … \(r.to); torpor's forecast: \(r.forecast)", "",
                   "strategy         captured VM-h  of oracle  violated demand intervals  missed demand min  missed episodes  proactive  hibernations  per VM-day  state written"]
        for strategy in Strategy.allCases {
            guard let s = r.fleet[strategy.rawValue] else { continue }
            // No VM's memory known (no inventory, no mem_capacity samples): unknown, not zero.
            let written = s.stateBytes == 0 && s.hibernations > 0 ? "unknown" : String(format: "%.1f GiB", Double(s.stateBytes) / 1_073_741_824)
            let share = oracle.map { $0 > 0 ? String(format: "%.0f %%", 100 * s.capturedHours / $0) : "-" } ?? "-"
            out.append(strategy.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
                       + String(format: " %13.0f  %@  %6d of %6d (%5.2f %%)  %17.1f  %4d of %3d (%3.0f %%)  %7.0f %%  %12d  %10.2f  %@",
                                s.capturedHours, (String(repeating: " ", count: max(0, 9 - share.count)) + share) as NSString, s.violatedIntervals, s.demandIntervals, 100 * s.violationShare,
                                s.missedDemandMinutes, s.missedEpisodes, s.episodes, 100 * s.missedEpisodeShare, 100 * s.proactiveShare,
                                s.hibernations, s.churnPerVMDay, (String(repeating: " ", count: max(0, 13 - written.count)) + written) as NSString))
        }
        out.append("")
        out.append("Scored per sample interval of the source (each sample until the next); asleep includes the restore, whose time every")
        out.append("strategy pays (measured p95, else default_restore_seconds). captured: time asleep in intervals under restore_above;")
        out.append("violated: demand intervals (≥ restore_above) that found the VM asleep or still restoring; missed demand min: their time asleep;")
        out.append("episodes: demand returning after an hour or more without, missed when it found the VM asleep, proactive when a restore came first;")
        out.append("per VM-day: hibernate/restore cycles; state written: allocated memory per hibernation (an estimate, before the pool's dedup).")
        return out.joined(separator: "\n")
    }

    /// Per VM, torpor beside the reactive timeout and the oracle: captured idle VM-hours, violated demand intervals and
    /// missed demand episodes; the VMs where torpor falls furthest short of the oracle first (where hours are left).
    public static func perVM(_ r: BacktestReport) -> String {
        let columns = [Strategy.torpor, .reactive, .oracle]
        var out = ["per VM, furthest short of the oracle first: captured idle VM-h / violated demand intervals / missed episodes",
                   "vm".padding(toLength: 24, withPad: " ", startingAt: 0)
                   + columns.map { $0.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0) }.joined() + "demand intervals  episodes"]
        let rows = r.vms.map { vm, scores in
            (vm: vm, scores: scores, shortfall: (scores[Strategy.oracle.rawValue]?.capturedHours ?? 0) - (scores[Strategy.torpor.rawValue]?.capturedHours ?? 0))
        }
        for (vm, scores, _) in rows.sorted(by: { $0.shortfall != $1.shortfall ? $0.shortfall > $1.shortfall : $0.vm < $1.vm }) {
            // Demand intervals and episodes are the actual demand's: the same under every strategy.
            let demand = scores[Strategy.torpor.rawValue] ?? scores.values.first ?? Score()
            out.append(vm.padding(toLength: 24, withPad: " ", startingAt: 0) + columns.map { strategy in
                (scores[strategy.rawValue].map { String(format: "%6.0f %5d %4d", $0.capturedHours, $0.violatedIntervals, $0.missedEpisodes) } ?? "-")
                    .padding(toLength: 22, withPad: " ", startingAt: 0)
            }.joined() + String(format: "%16d  %8d", demand.demandIntervals, demand.episodes))
        }
        return out.joined(separator: "\n")
    }
}

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
}

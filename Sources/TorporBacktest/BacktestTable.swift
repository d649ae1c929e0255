import Foundation

/// The report as a table: one row per strategy, captured idle hours against the oracle's, violations, episodes.
public enum BacktestTable {
    public static func render(_ r: BacktestReport) -> String {
        let oracle = r.fleet[Strategy.oracle.rawValue]?.capturedHours
        var out = ["replay \(r.from) … \(r.to); torpor's forecast: \(r.forecast)", "",
                   "strategy         captured VM-h  of oracle  violated demand h  missed episodes  proactive  hibernations  per VM-day  state written"]
        for strategy in Strategy.allCases {
            guard let s = r.fleet[strategy.rawValue] else { continue }
            // No VM's memory known (no inventory, no mem_capacity samples): unknown, not zero.
            let written = s.stateBytes == 0 && s.hibernations > 0 ? "unknown" : String(format: "%.1f GiB", Double(s.stateBytes) / 1_073_741_824)
            let share = oracle.map { $0 > 0 ? String(format: "%.0f %%", 100 * Double(s.capturedHours) / Double($0)) : "-" } ?? "-"
            out.append(strategy.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
                       + String(format: " %13d  %9@  %8d of %4d (%4.1f %%)  %4d of %3d (%3.0f %%)  %5.0f %%  %12d  %10.2f  %@",
                                s.capturedHours, share as NSString, s.violatedHours, s.demandHours, 100 * s.violationShare,
                                s.missedEpisodes, s.episodes, 100 * s.missedEpisodeShare, 100 * s.proactiveShare, s.hibernations,
                                s.churnPerVMDay, (String(repeating: " ", count: max(0, 13 - written.count)) + written) as NSString))
        }
        out.append("")
        out.append("captured: hours asleep with demand under restore_above; violated: demand hours (≥ restore_above) spent asleep;")
        out.append("episodes: demand returning after a quieter hour, missed when it found the VM asleep, proactive when a restore came first;")
        out.append("per VM-day: hibernate/restore cycles; state written: allocated memory per hibernation (an estimate, before the pool's dedup).")
        return out.joined(separator: "\n")
    }
}

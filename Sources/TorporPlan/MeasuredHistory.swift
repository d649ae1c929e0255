import TorporCore
import TorporStore

/// A VM's hourly history (from `start`; missing hours NaN) with the hours it slept in, as the planner's quiet
/// counters read it (`PlanningVM.quietHours`, `idleHours`, `falseAlarms`): only the known hours count, a missing hour
/// it slept in is passed over, and any other missing hour ends the quiet (a gap in the data may have held demand:
/// missing is not idle), as does the hour something woke it in before its plan's restore (a demand signal or an
/// operator: its demand came while it slept or restored, where the history has no sample of it). The loader and the
/// backtest both read it so.
public struct MeasuredHistory: Sendable {
    public let values: [Float]
    public let start: EpochSeconds
    let slept: Set<Int>
    /// The index of the hour of the newest unplanned wake (`UnplannedWake`) in the history or after it; nil: none.
    let wokenEarly: Int?
    /// The fleet's clock (`DemandForecaster.clock`), whose local days `falseAlarms` counts.
    let clock: WeekClock

    /// `sleeps`: the journal's hibernated intervals; each marks every hour it spends time in (`UTC.steps(touchedBy:)`):
    /// missing there for the sleep, if missing (the history keeps an hour a sleep ends in from its samples after the
    /// wake). `lastUnplannedWake`: when something last brought the VM back before its plan's restore (the journal's
    /// `UnplannedWake` restores, `PlanningVM.wokenEarlyAt` while it still runs).
    public init(values: [Float], start: EpochSeconds, sleeps: [ClosedRange<EpochSeconds>], lastUnplannedWake: EpochSeconds?, clock: WeekClock) {
        self.values = values
        self.start = start
        self.clock = clock
        // Only the sleeps that reach into the history: one that ended before it marks nothing.
        slept = values.isEmpty ? [] : Set(sleeps.map { UTC.steps(touchedBy: $0) }.filter { $0.upperBound >= start }.flatMap { hours -> ClosedRange<Int> in
            let first = Int((max(hours.lowerBound, start) - start) / 3600), last = min(values.count - 1, Int((hours.upperBound - start) / 3600))
            return first...max(first, last)
        })
        // The hour its demand came in: the one the restore finished in, or the one before when it finished on the hour.
        wokenEarly = lastUnplannedWake.flatMap { $0 > start ? Int(($0 - 1 - start) / 3600) : nil }
    }

    /// The index after the newest hour that ends the quiet at `threshold`: at or over it, missing while the VM did not
    /// sleep, or the hour of an unplanned wake (`values.count` when that is the hour that holds now); 0 when none does.
    func quietStart(threshold: Double) -> Int {
        let measured = values.indices.last { values[$0].isNaN ? !slept.contains($0) : Double(values[$0]) >= threshold } ?? -1
        return min(values.count, max(measured, wokenEarly ?? -1) + 1)
    }

    /// The known hours since the newest that ends the quiet at `threshold`, all of them when none does.
    public func quietHours(threshold: Double) -> Int {
        values[quietStart(threshold: threshold)...].filter { !$0.isNaN }.count
    }

    /// The known hours of the quiet at `threshold` (its `restore_above`) that its plans' forecast called for demand in
    /// at `quantile` (its tier's) or a lower one (`calls`; `Planner.demandCalls`): calls that did not come true; and
    /// the whole local days of that quiet they fall on (after the day it began in, before the day that holds now: days
    /// that held no demand at all). A call made in an hour it then slept through, or whose data is missing, is not counted.
    public func falseAlarms(calls: [DemandCall], quantile: Float, threshold: Double) -> FalseAlarms {
        let from = quietStart(threshold: threshold)
        let hours = Set(calls.filter { $0.hour >= start && $0.claims(demandAtLeast: threshold, quantile: quantile) }.map { Int(($0.hour - start) / 3600) })
            .filter { $0 >= from && $0 < values.count && !values[$0].isNaN }
        // The day of the last second of the hour that ended the quiet (in a zone half an hour off, an hour spans two
        // days: a counted day begins after the quiet did), and the day that holds now.
        let began = clock.day(of: start + Int64(from) * 3600 - 1), today = clock.day(of: start + Int64(values.count) * 3600)
        let days = Set(hours.map { clock.day(of: start + Int64($0) * 3600) }).filter { $0 > began && $0 < today }
        return FalseAlarms(hours: hours.count, days: days.count)
    }
}

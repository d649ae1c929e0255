import Foundation
import GRDB
import TorporCore
import TorporStore

/// What a planning run reads of the store besides the forecasts: the executor's records it plans around, and the calls
/// for demand its forecasts made (`load`, in TorporPlanInput, adds the histories and forecasts).
public enum PlanningInputs {
    /// The VMs whose forecast is set aside now under the idle timeout because forecast demand did not come, and until
    /// when, by name (`Planner.forecastsSetAside` of the plan made now): what `torpor-execute status` lists.
    /// `replaying` (a past `now`): judged on what was asleep then, not now.
    public static func forecastsSetAside(now: EpochSeconds, replaying: Bool = false, policy: Policy, in db: Database) throws -> [(vm: String, until: EpochSeconds)] {
        Planner.setAside(unmetDemandAt: try unmetDemands(records: try VMRepository.all(in: db), power: try JournalRepository.power(at: replaying ? now : .max, in: db),
                                                         now: now, policy: policy, in: db))
    }

    /// How long the hours the forecast called for demand in are kept (`DemandCallRepository`): as long as the history
    /// the planner reads with the default lookback (four weeks: `DemandForecaster.historyHours`; a longer lookback reads
    /// more, where `falseAlarms` then finds fewer calls, the cautious side), and longer than
    /// `unmetDemand` looks back (`oldestJudged`: a day, `min_idle` and two hours).
    public static let demandCallsKept: Int64 = 28 * 86_400

    /// The VMs under the idle timeout whose forecast demand did not come (`PlanningVM.unmetDemandAt`), judged on the
    /// recorded demand calls and their stored CPU utilization.
    public static func unmetDemands(records: [VMRecord], power: [String: PowerRecord], now: EpochSeconds, policy: Policy,
                             in db: Database) throws -> [String: EpochSeconds] {
        let settings = records.map { policy.settings(vm: $0.name, labels: $0.labels) }
        // Only the calls whose evidence could still be in use, and none when no VM is under the idle timeout.
        guard let oldest = settings.filter(\.idleTimeout).map({ oldestJudged(now: now, settings: $0) }).min() else { return [:] }
        let calls = try DemandCallRepository.calls(from: oldest, to: now, in: db)
        var result: [String: EpochSeconds] = [:]
        for (record, settings) in zip(records, settings) {
            let state = power[record.name]
            result[record.name] = try unmetDemand(calls: calls[record.name] ?? [], asleepSince: state?.state == .hibernated ? state?.since : nil,
                                                  now: now, settings: settings, callQuantile: Planner.callQuantile(policy, settings)) { from, until in
                DemandSamples(try SampleReader.presentSamples(vm: record.name, metric: "cpu_util", from: from, to: until, in: db))
            }
        }
        return result
    }

    /// `PlanningVM.unmetDemandAt` of a VM under the idle timeout: from the hours its plans' forecast called for demand in
    /// while it ran (`calls`, by ascending hour; `Planner.demandCalls`), those that claimed at least what its policy's
    /// calls claim now (`callQuantile`, `Planner.callQuantile`, at or over `restore_above`: a trial policy's weaker calls
    /// do not count), the first evidence its measured demand (`samples(from, until)`) gives that the planner still uses
    /// (less than `Planner.distrustPeriod` old), judged up to now or up to the sleep it is in (a sleeping VM reports
    /// nothing), and up to the start of the hour that holds `now` at the latest: a plan made again within the hour (a
    /// retry) would otherwise judge the call its first making recorded, or samples that came since, and differ from it.
    /// The backtest replays with the same rule.
    public static func unmetDemand(calls: [DemandCall], asleepSince: EpochSeconds?, now: EpochSeconds, settings: Policy.VMSettings, callQuantile: Float,
                                   samples: (_ from: EpochSeconds, _ until: EpochSeconds) throws -> DemandSamples) rethrows -> EpochSeconds? {
        guard settings.idleTimeout, settings.excluded == nil else { return nil }
        let until = min(asleepSince ?? now, UTC.floor(now)), oldest = oldestJudged(now: now, settings: settings)
        let judged = calls.filter { $0.hour >= oldest && $0.hour < until && $0.claims(demandAtLeast: settings.restoreAbove, quantile: callQuantile) }.map(\.hour)
        guard let first = judged.first else { return nil }
        let demand = try samples(first, until)
        return judged.lazy.compactMap { demand.noDemand(after: $0, for: settings.minIdle, until: until, threshold: settings.restoreAbove) }
            .first { Planner.distrusts(provenWrongAt: $0, now: now) }
    }

    /// The oldest call whose evidence could still be in use at `now`: evidence comes `min_idle` after its call (plus up
    /// to two sample intervals, an hour each at most) and is set aside `Planner.distrustPeriod` later.
    public static func oldestJudged(now: EpochSeconds, settings: Policy.VMSettings) -> EpochSeconds {
        now - Planner.distrustPeriod - settings.minIdle - 2 * 3600
    }
}

import Foundation
import GRDB
import TorporCore
import TorporStore
import TorporTrain

/// Gathers a planning run's input from the store: every VM with its history, forecast, allocation, host and state-pool
/// estimate, and the calendar events of the horizon.
public enum PlanningInputs {
    /// What a plan at `now` is made from. `replaying` (a past `--now`): the executor's records as they stood then (its
    /// sleeps, pins and restore times), not today's; a live run reads them as they are (a pass may have acted since
    /// the run's clock was read).
    public static func load(store: Store, now: EpochSeconds, replaying: Bool = false, policy: Policy, policySHA256: String,
                            forecaster: DemandForecaster) throws -> PlanningInput {
        let hour0 = UTC.floor(now)
        let from = hour0 - Int64(forecaster.historyHours) * 3600
        let horizonEnd = hour0 + Int64(policy.horizonHours) * 3600
        let (records, histories, events, stateBytes, execution) = try store.read { db in
            let records = try VMRepository.all(in: db)
            let histories = try records.map { r in
                (vm: r.name, series: try HourlySeries.loadExcludingSleeps(vm: r.name, from: from, to: hour0, now: now, context: forecaster.needsContext, in: db))
            }
            let stateBytes = try Dictionary(uniqueKeysWithValues: records.map { ($0.name, try StateRepository.expectedWrite(vm: $0.name, in: db)) })
            let verdicts = Dictionary(uniqueKeysWithValues: (try ModelRegistry.newest(trainedBefore: now, in: db)?.vms ?? []).map { ($0.vm, $0) })
            // A replay does not see later sleeps, pins or restore times.
            let asOf = replaying ? now : .max
            let power = replaying ? try JournalRepository.power(at: now, in: db) : try JournalRepository.power(in: db)
            let execution = (verdicts: verdicts, power: power, pins: try JournalRepository.pins(madeBy: asOf, in: db),
                             save: try JournalRepository.p95Seconds(kind: .hibernate, vms: records.map(\.name), upTo: asOf, in: db),
                             restore: try JournalRepository.p95Seconds(kind: .restore, vms: records.map(\.name), upTo: asOf, in: db),
                             unmetDemands: try unmetDemands(records: records, power: power, now: now, policy: policy, in: db))
            return (records, histories, try EventRepository.overlapping(from: hour0, to: horizonEnd, in: db), stateBytes, execution)
        }
        let calendar = try store.read { try CalendarHours.load(vms: records, from: hour0, to: horizonEnd, in: $0) }
        let forecasts = forecaster.forecast(histories, calendar: calendar)
        var watermark: EpochSeconds?
        var vms: [PlanningVM] = []
        for (record, history) in zip(records, histories) {
            let lastIndex = history.series.values.lastIndex { !$0.isNaN }
            let lastKnown = lastIndex.map { history.series.time(of: $0) }
            if let lastKnown { watermark = max(watermark ?? lastKnown, lastKnown) }
            let fresh = lastKnown.map { hour0 - ($0 + 3600) <= policy.maxDataAge } ?? false
            vms.append(PlanningVM(name: record.name, host: record.hostURI, labels: record.labels, vcpus: record.vcpus,
                                  memoryBytes: record.memoryBytes,
                                  knownHours: history.series.values.filter { !$0.isNaN }.count,
                                  forecast: forecasts[record.name],
                                  hibernatedSince: execution.power[record.name].flatMap { $0.state == .hibernated ? $0.since : nil },
                                  saveSeconds: execution.save[record.name].map { Int64($0.rounded(.up)) },
                                  restoreSeconds: execution.restore[record.name].map { Int64($0.rounded(.up)) },
                                  stateBytes: stateBytes[record.name] ?? nil,
                                  pinnedUntil: execution.pins[record.name].map { $0.until ?? .max },
                                  staleSince: fresh ? nil : (lastKnown.map { $0 + 3600 } ?? from)))
            if let verdict = execution.verdicts[record.name], !verdict.predictable { vms[vms.count - 1].notPredictable = verdict.reason }
            vms[vms.count - 1].wokenEarlyAt = execution.power[record.name]?.wokenEarlyAt
            vms[vms.count - 1].unmetDemandAt = execution.unmetDemands[record.name]
        }
        return PlanningInput(now: now, vms: vms, events: events, policy: policy, policySHA256: policySHA256,
                             model: forecaster.run.map { "model #\($0.id)" } ?? "hour-of-week profile (no promoted model)",
                             dataWatermark: watermark.map { $0 + 3600 })
    }

    /// The VMs whose forecast is set aside now under the idle timeout because forecast demand did not come, and until
    /// when, by name (`Planner.forecastsSetAside` of the plan made now): what `torpor-execute status` lists.
    public static func forecastsSetAside(now: EpochSeconds, policy: Policy, in db: Database) throws -> [(vm: String, until: EpochSeconds)] {
        Planner.setAside(unmetDemandAt: try unmetDemands(records: try VMRepository.all(in: db), power: try JournalRepository.power(in: db),
                                                         now: now, policy: policy, in: db))
    }

    /// How long the hours the forecast called for demand in are kept (`DemandCallRepository`): longer than any
    /// evidence the planner still uses looks back (`oldestJudged`: a day, `min_idle` and two hours).
    public static let demandCallsKept: Int64 = 7 * 86_400

    /// The VMs under the idle timeout whose forecast demand did not come (`PlanningVM.unmetDemandAt`), judged on the
    /// recorded demand calls and their stored CPU utilization.
    static func unmetDemands(records: [VMRecord], power: [String: PowerRecord], now: EpochSeconds, policy: Policy,
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
                DemandSamples(try SampleReader.samples(vm: record.name, metric: "cpu_util", from: from, to: until, in: db))
            }
        }
        return result
    }

    /// `PlanningVM.unmetDemandAt` of a VM under the idle timeout: from the hours its plans' forecast called for demand in
    /// while it ran (`calls`, by ascending hour; `Planner.demandCalls`), those that claimed at least what its policy's
    /// calls claim now (`callQuantile`, `Planner.callQuantile`, at or over `restore_above`: a trial policy's weaker calls
    /// do not count), the first evidence its measured demand (`samples(from, until)`) gives that the planner still uses
    /// (less than `Planner.distrustPeriod` old), judged up to now or up to the sleep it is in (a sleeping VM reports
    /// nothing). The backtest replays with the same rule.
    public static func unmetDemand(calls: [DemandCall], asleepSince: EpochSeconds?, now: EpochSeconds, settings: Policy.VMSettings, callQuantile: Float,
                                   samples: (_ from: EpochSeconds, _ until: EpochSeconds) throws -> DemandSamples) rethrows -> EpochSeconds? {
        guard settings.idleTimeout, settings.excluded == nil else { return nil }
        let until = asleepSince ?? now, oldest = oldestJudged(now: now, settings: settings)
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

import Foundation
import GRDB
import TorporCore
import TorporPlan
import TorporStore
import TorporTrain

/// Gathers a planning run's input from the store: every VM with its history, forecast, allocation, host and state-pool
/// estimate, and the calendar events of the horizon. Apart from the planner, so that the executor, which needs the
/// planner's types but no forecasts, does not link the forecast engine (OpenBLAS).
extension PlanningInputs {
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
                // Its hours asleep are left out of its history (a sleeping VM reports nothing), and told apart from gaps.
                let sleeps = try JournalRepository.hibernatedIntervals(vm: r.name, from: HourlySeries.sleepsFrom(from), now: now, in: db)
                return (vm: r.name, series: try HourlySeries.load(vm: r.name, from: from, to: hour0, excluded: sleeps, context: forecaster.needsContext, in: db),
                        sleeps: sleeps, lastUnplannedWake: try JournalRepository.lastUnplannedWake(vm: r.name, from: from, now: now, in: db))
            }
            let stateBytes = try Dictionary(uniqueKeysWithValues: records.map { ($0.name, try StateRepository.expectedWrite(vm: $0.name, upTo: now, in: db)) })
            let unpredictable = forecaster.unpredictable(newest: try ModelRegistry.newest(trainedBefore: now, in: db))
            // A replay does not see later sleeps, pins or restore times.
            let asOf = replaying ? now : .max
            let power = try JournalRepository.power(at: asOf, in: db)
            // Not while torpor has it asleep (the collector writes a saved domain's allocation too).
            let notRunning = try Dictionary(uniqueKeysWithValues: records.compactMap { r -> (String, EpochSeconds)? in
                guard power[r.name]?.state != .hibernated else { return nil }
                let restoredAt = power[r.name].flatMap { $0.state == .running ? $0.since : nil }
                return try seenNotRunning(vm: r.name, now: now, restoredAt: restoredAt, in: db).map { (r.name, $0) }
            })
            let execution = (unpredictable: unpredictable, power: power, pins: try JournalRepository.pins(madeBy: asOf, in: db),
                             save: try JournalRepository.p95Seconds(kind: .hibernate, vms: records.map(\.name), upTo: asOf, in: db),
                             restore: try JournalRepository.p95Seconds(kind: .restore, vms: records.map(\.name), upTo: asOf, in: db),
                             unmetDemands: try unmetDemands(records: records, power: power, now: now, policy: policy, in: db),
                             calls: try DemandCallRepository.calls(from: from, to: hour0, in: db), notRunning: notRunning,
                             savedByHand: Set(try JournalRepository.savedWithoutRecord(now: now, power: power, in: db).map(\.vm)))
            return (records, histories, try EventRepository.overlapping(from: hour0, to: horizonEnd, knownBy: asOf, in: db), stateBytes, execution)
        }
        let calendar = CalendarHours(events: events, vms: records, from: hour0, to: horizonEnd)
        let forecasts = forecaster.forecast(histories.map { (vm: $0.vm, series: $0.series) }, calendar: calendar)
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
            vms[vms.count - 1].historyHours = PlanningVM.historyHours(of: history.series.values)
            vms[vms.count - 1].notRunningSince = execution.notRunning[record.name]
            vms[vms.count - 1].savedWithoutRecord = execution.savedByHand.contains(record.name)
            vms[vms.count - 1].notPredictable = execution.unpredictable[record.name]
            vms[vms.count - 1].wokenEarlyAt = execution.power[record.name]?.wokenEarlyAt
            vms[vms.count - 1].unmetDemandAt = execution.unmetDemands[record.name]
            let settings = policy.settings(vm: record.name, labels: record.labels)
            let measured = MeasuredHistory(values: history.series.values, start: history.series.start, sleeps: history.sleeps,
                                           lastUnplannedWake: history.lastUnplannedWake, clock: forecaster.clock)
            vms[vms.count - 1].quietHours = measured.quietHours(threshold: settings.restoreAbove)
            vms[vms.count - 1].idleHours = measured.quietHours(threshold: settings.hibernateBelow)
            vms[vms.count - 1].falseAlarms = measured.falseAlarms(calls: execution.calls[record.name] ?? [], quantile: policy.tiers[settings.tier]!.quantile,
                                                                  threshold: settings.restoreAbove)
        }
        return PlanningInput(now: now, vms: vms, events: events, policy: policy, policySHA256: policySHA256,
                             model: forecaster.run.map { "model #\($0.id)" }
                                 ?? "\(forecaster.baselinesName) (\(forecaster.unservedBecause ?? "no promoted model"))",
                             dataWatermark: watermark.map { $0 + 3600 })
    }

    /// How often the libvirt collector runs (pipelines/collect.sh).
    static let collectionInterval: Int64 = 300

    /// How long the collector must go on seeing a VM's domain (its allocation samples) past its newest demand sample
    /// for the VM to count as not running: three collections.
    static let notRunningAfter = 3 * collectionInterval

    /// Since when `vm` is not running as the collector saw it by `now`: its newest demand (`cpu_util`) sample, when its
    /// allocation (`vcpus`) samples went on more than `notRunningAfter` past it (the libvirt collector writes the
    /// allocation of a shut-off or paused domain, no CPU counters); nil otherwise, and for a source without allocations.
    /// A VM torpor brought back at `restoredAt`, after that sample, counts from then, with a collection more (the
    /// collector reads a started VM's CPU at its second pass only): shut off again before that, it is seen so too.
    /// Seen at two collections since, at least: the first after a gap of the collector's gives no demand either (no
    /// rate over a gap), of a VM that runs.
    static func seenNotRunning(vm: String, now: EpochSeconds, restoredAt: EpochSeconds?, in db: Database) throws -> EpochSeconds? {
        guard let seen = try SampleReader.newestTime(vm: vm, metric: "vcpus", upTo: now, in: db),
              let demand = try SampleReader.newestTime(vm: vm, metric: "cpu_util", upTo: now, in: db) else { return nil }
        let since = max(demand, restoredAt ?? .min)
        guard seen - since > notRunningAfter + (since > demand ? collectionInterval : 0) else { return nil }
        return try SampleReader.count(vm: vm, metric: "vcpus", from: since + 1, to: seen + 1, atMost: 2, in: db) >= 2 ? since : nil
    }
}

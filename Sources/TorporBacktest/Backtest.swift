import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporTrain

/// What decides when a VM sleeps in a replay.
public enum Strategy: String, CaseIterable, Codable, Sendable {
    /// torpor: the planner on the promoted model's forecast (trained before the replay), else the baselines (`DemandForecaster`).
    case torpor
    /// The planner on a seasonal-naive forecast (`Baseline.seasonalNaiveDay`, for every quantile): the same hour
    /// yesterday, or where it is missing (as when the VM slept through it) the same weekday's in an earlier week.
    case seasonalNaive = "seasonal-naive"
    /// Perfect foresight: every run of known samples without demand (under `restore_above`) longer than the break-even
    /// asleep, back exactly as demand returns: the most any strategy can capture without a violation.
    case oracle
    /// Hibernate after `min_idle` of measured demand under `hibernate_below`; restore when demand appears (late).
    case reactive
    /// A fixed schedule: asleep from 19:00 to 07:00 (configurable; on the fleet's clock, `--zone`) on weekdays and all weekend.
    case officeHours = "office-hours"
}

/// The replay's result: per strategy, the fleet's score and each VM's.
public struct BacktestReport: Codable, Equatable, Sendable {
    public var from: String
    public var to: String
    public var forecast: String
    public var fleet: [String: Score]
    public var vms: [String: [String: Score]]
    /// Per VM: the actual hourly demand (null = missing) and the hours torpor had it asleep (for any part of the hour), for charts.
    public var timelines: [String: Timeline]

    public struct Timeline: Codable, Equatable, Sendable {
        public var demand: [Double?]
        public var asleep: [Bool]
        public var restoreAbove: Double
    }
}

/// Replays history hour by hour through the production planner (the same `Planner` and `DemandForecaster` code) and
/// scores each strategy against what actually happened: every hour, each strategy decides from the data before that
/// hour only; the VM is asleep from a planned hibernation until its restore's deadline, or until demand wakes it.
/// Scored at the resolution of the source's samples, paying each restore's time (measured p95, else the policy's default).
public struct Backtest {
    public let store: Store
    public var policy: Policy
    public let from: EpochSeconds
    public let to: EpochSeconds
    /// The office-hours schedule: asleep from this hour (on `clock`) to `officeOpens` on weekdays, and all weekend.
    public var officeCloses = 19
    public var officeOpens = 7
    /// Walk-forward: every this many days, train on the data before that day only (nothing is recorded in the registry)
    /// and forecast the following days with the new model if it is promoted, else keep the previous one, as the nightly
    /// job does. nil: the newest promoted model trained before the replay serves the whole replay.
    public var retrainEveryDays: Int?
    public var training = TrainingConfig()
    /// The clock of the hour-of-week profile, for torpor's forecasts and the walk-forward's training (`WeekClock`).
    public var clock = WeekClock.utc
    /// Progress of walk-forward training.
    public var log: @Sendable (String) -> Void = { _ in }
    /// torpor's forecasters, once `prepareForecasts` has run (a sweep replays many policies with the same models).
    var prepared: (blocks: [ForecastBlock], label: String)?

    /// Loads or trains torpor's forecasters now, so that every later `run` of this backtest (or of a copy) reuses them.
    public mutating func prepareForecasts() throws { prepared = try forecastBlocks() }

    /// The forecaster torpor uses from `start` on, and the verdicts of the training run it follows (VMs marked not
    /// predictable are left running, as in production).
    struct ForecastBlock {
        let start: EpochSeconds
        let forecaster: DemandForecaster
        let notPredictable: [String: String]
    }

    /// Replays [from, to), whole hours.
    public init(store: Store, policy: Policy, from: EpochSeconds, to: EpochSeconds) {
        self.store = store
        self.policy = policy
        self.from = UTC.floor(from)
        self.to = UTC.floor(to)
    }

    public func run(_ strategies: [Strategy] = Strategy.allCases) throws -> BacktestReport {
        let (blocks, forecastLabel) = try prepared ?? forecastBlocks()
        let historyStart = from - Int64(blocks.map(\.forecaster.historyHours).max()!) * 3600
        let end = to + Int64(policy.horizonHours) * 3600
        let (records, series, samples, events, memory, restoreP95) = try store.read { db in
            let records = try VMRepository.all(in: db)
            let context = blocks.contains { $0.forecaster.needsContext }
            // The samples before `from` too, as production's store has them: a VM quiet at `from` has been since before
            // it, for the strategies that count measured quiet (scores count [from, to) only).
            return (records, try records.map { try HourlySeries.load(vm: $0.name, from: historyStart, to: end, context: context, asMeasured: true, in: db) },
                    try records.map { try SampleReader.samples(vm: $0.name, metric: "cpu_util", from: from - Self.warmup, to: to, in: db) },
                    try EventRepository.overlapping(from: from, to: end, in: db),
                    try records.map { r in try r.memoryBytes ?? SampleReader.samples(vm: r.name, metric: "mem_capacity", from: historyStart, to: end, in: db)
                        .map { Int64($0.value) }.max() ?? 0 },
                    try JournalRepository.p95Seconds(kind: .restore, vms: records.map(\.name), upTo: from, in: db))
        }
        let offset = Int((from - historyStart) / 3600), hours = Int((to - from) / 3600)
        let calendar = CalendarHours(events: events, vms: records, from: from, to: end)
        let demand = records.indices.map { DemandSamples(samples[$0], knownIn: series[$0]) }
        let replay = Replay(records: records, series: series, samples: samples.map(DemandSamples.init), demand: demand,
                            scored: demand.map { $0.slice(from: from, to: to, excluding: []) },
                            restoreSeconds: records.map { r in restoreP95[r.name].map { Int64($0.rounded(.up)) } },
                            memoryBytes: memory.map { $0 > 0 ? $0 : nil }, events: events, calendar: calendar, offset: offset, hours: hours)
        // A window without a sample would score every strategy 0 of 0, and office hours' sleeps of VMs nothing measured.
        guard replay.scored.contains(where: { !$0.times.isEmpty }) else {
            throw StageError(.nothingToDo, "no VM has a CPU sample from \(UTC.format(from)) to \(UTC.format(to)): nothing to replay "
                             + "(give a --now and --from or --days within the ingested history; torpor-ingest status shows it)")
        }
        var fleet: [String: Score] = [:], perVM: [String: [String: Score]] = [:], timelines: [String: BacktestReport.Timeline] = [:]
        for strategy in strategies {
            let asleep = try simulate(strategy, replay, blocks: blocks)
            // A VM without a sample in the window is in no score (a schedule's sleeps of it would count as churn).
            for (i, r) in records.enumerated() where !replay.scored[i].times.isEmpty {
                let settings = policy.settings(vm: r.name, labels: r.labels)
                var score = Score.of(replay.demand[i], scoredFrom: from, asleep: asleep[i], restoreAbove: settings.restoreAbove, replayedHours: hours)
                score.stateBytes = Int64(score.hibernations) * memory[i]
                perVM[r.name, default: [:]][strategy.rawValue] = score
                if strategy == .torpor {
                    timelines[r.name] = .init(demand: series[i].values[offset..<offset + hours].map { $0.isNaN ? nil : Double($0) },
                                              asleep: (0..<hours).map { h in asleep[i].contains { $0.overlaps(hourAt: from + Int64(h) * 3600) } },
                                              restoreAbove: settings.restoreAbove)
                }
                fleet[strategy.rawValue] = (fleet[strategy.rawValue] ?? Score()) + score
            }
        }
        return BacktestReport(from: UTC.format(from), to: UTC.format(to), forecast: forecastLabel, fleet: fleet, vms: perVM, timelines: timelines)
    }

    /// How far before `from` the replay reads each VM's samples (the longest measured quiet a strategy counts).
    static let warmup: Int64 = 2 * 86_400

    /// What every strategy replays: the VMs, their hourly series (history before `from` at `offset`), their demand at the
    /// source's resolution over the replay (and `warmup` before it), and their restore times (measured p95, nil: the
    /// policy's default).
    struct Replay {
        let records: [VMRecord]
        let series: [HourlySeries]
        /// Every CPU sample over the replay (and `warmup` before it), as the store has them.
        let samples: [DemandSamples]
        let demand: [DemandSamples]
        /// `demand` over [from, to) only: what is scored.
        let scored: [DemandSamples]
        let restoreSeconds: [Int64?]
        /// Each VM's memory: the inventory's, else the most `mem_capacity` reported; nil when neither is known.
        let memoryBytes: [Int64?]
        let events: [EventRecord]
        let calendar: CalendarHours
        let offset: Int
        let hours: Int

        /// How many samples VM `i` has in each hour of its series (those before `warmup` are not read: 0).
        func sampleCounts(vm i: Int) -> [Int] {
            var counts = [Int](repeating: 0, count: series[i].values.count)
            for t in samples[i].times where t >= series[i].start {
                let k = Int((t - series[i].start) / 3600)
                if k < counts.count { counts[k] += 1 }
            }
            return counts
        }

        /// Hour `k` of VM `i` as production's history holds it once the VM has slept in it (`HourlySeries.load` with its
        /// sleeps excluded): the highest of the samples after the sleeps in it (`UTC.hourAfterSleeps`), missing when a sleep
        /// began in it or lasted through it, when it has no such sample, when the hour is missing anyway (the VM absent) or
        /// when they are too few (`HourlySeries.isSparse`, on `counts`: the samples per hour production has, which this
        /// keeps up to date); memory, network and disk are missing.
        func holdAfterSleeps(_ sleeps: [ClosedRange<EpochSeconds>], vm i: Int, hour k: Int, in seen: inout HourlySeries, counts: inout [Int]) {
            let start = series[i].time(of: k)
            let read = UTC.hourAfterSleeps(start, end: start + 3600, sleeps: sleeps).map { samples[i].slice(from: $0.lowerBound, to: $0.upperBound, excluding: []) }
            counts[k] = read?.times.count ?? 0
            var scratch: [Int] = []
            let present = counts[k] > 0 && (!series[i].values[k].isNaN || series[i].sparse.contains(k))
            let sparse = present && HourlySeries.isSparse(hour: k, of: counts, scratch: &scratch)
            let high = read?.values.max().map(Float.init) ?? .nan
            seen.values[k] = present && !sparse && high.isFinite ? high : .nan
            if sparse { seen.sparse.insert(k) } else { seen.sparse.remove(k) }
            for c in seen.context.indices where !seen.context[c].isEmpty { seen.context[c][k] = .nan }
        }
    }

    /// This backtest with its own copies of the prepared forecasters, to replay on another thread.
    func withOwnForecasters() -> Backtest {
        var twin = self
        twin.prepared = prepared.map { p in
            (p.blocks.map { ForecastBlock(start: $0.start, forecaster: $0.forecaster.copy(), notPredictable: $0.notPredictable) }, p.label)
        }
        return twin
    }

    /// torpor's forecasters over the replay, and how the report names them.
    func forecastBlocks() throws -> ([ForecastBlock], String) {
        guard from < to else {
            throw StageError(.nothingToDo, "no whole hour from \(UTC.format(from)) to \(UTC.format(to)) (the replay runs on the hour): give a longer window")
        }
        var current = try DemandForecaster(store: store, horizon: policy.horizonHours, trainedBefore: from)
        current.clock = clock
        var training = self.training
        training.clock = clock
        guard let days = retrainEveryDays else {
            let newest = try store.read { try ModelRegistry.newest(trainedBefore: from, in: $0) }
            return ([ForecastBlock(start: from, forecaster: current, notPredictable: current.unpredictable(newest: newest))],
                    current.run.map { "model #\($0.id)" } ?? "\(current.baselinesName) (\(current.unservedBecause ?? "no model trained before \(UTC.format(from))"))")
        }
        var blocks: [ForecastBlock] = [], promoted = 0
        // The model serving each block, judged at its start as production judges it (one too old is not served).
        var served = try store.read { try ModelRegistry.promoted(trainedBefore: from, in: $0) }
        for start in stride(from: from, to: to, by: EpochSeconds.Stride(max(1, days) * 86_400)) {
            log("training on the data before \(UTC.format(start))")
            let trained = try Trainer(store: store, config: training).train(now: start, incumbent: served)
            if trained.run.promoted, let model = trained.model {
                served = (trained.run, model)
                promoted += 1
            }
            current = try DemandForecaster(promoted: served, newest: trained.run, horizon: policy.horizonHours, now: start)
            current.clock = clock
            log("  \(trained.run.reason)")
            blocks.append(ForecastBlock(start: start, forecaster: current, notPredictable: current.unpredictable(newest: trained.run)))
        }
        return (blocks, "walk-forward: retrained every \(days) d on the data before each block (\(promoted) of \(blocks.count) runs promoted)")
    }

    /// Per VM, the stretches it was asleep or restoring, by time. Sleeping VMs are woken by their demand, paying the
    /// restore time: the reactive policy always, the planner's strategies when demand comes before the planned restore
    /// (as a demand signal, `torpor-execute --wake-on`, would wake them). The office-hours schedule does not wake.
    func simulate(_ strategy: Strategy, _ replay: Replay, blocks: [ForecastBlock]) throws -> [[Downtime]] {
        let records = replay.records, hours = replay.hours, offset = replay.offset
        let restoreSeconds = replay.restoreSeconds.map { $0 ?? policy.defaultRestoreSeconds }
        var asleep = [[Downtime]](repeating: [], count: records.count)
        switch strategy {
        case .officeHours:
            // On the fleet's clock (`clock`), as torpor's profile; never for a VM the policy excludes. An hour sleeps when
            // it begins and ends closed: in a zone half an hour off UTC, the hour from 06:30 local is awake for 07:00.
            let week = clock.hoursOfWeek(from: from, count: hours), weekAtEnd = clock.hoursOfWeek(from: from + 3599, count: hours)
            func closed(_ hourOfWeek: Int) -> Bool { hourOfWeek / 24 >= 5 || hourOfWeek % 24 >= officeCloses || hourOfWeek % 24 < officeOpens }   // 0 = Monday
            for (i, r) in records.enumerated() where policy.settings(vm: r.name, labels: r.labels).excluded == nil {
                for h in 0..<hours {
                    let t = from + Int64(h) * 3600
                    guard closed(week[h]) && closed(weekAtEnd[h]) else { continue }
                    if asleep[i].last?.end == t { asleep[i][asleep[i].count - 1].end = t + 3600 } else { asleep[i].append(Downtime(start: t, end: t + 3600)) }
                }
            }
        case .oracle:
            for (i, r) in records.enumerated() {
                let settings = policy.settings(vm: r.name, labels: r.labels), restoreAbove = settings.restoreAbove
                guard settings.excluded == nil else { continue }
                let breakEven = Int64((policy.breakEvenFactor * Double(policy.defaultSaveSeconds + restoreSeconds[i])).rounded(.up))
                let demand = replay.scored[i]
                // The current run without demand: known samples under restore_above, and the gaps between them (a strategy
                // asleep across a gap captures the known samples on both sides; the score counts no gap): the oracle
                // stays an upper bound.
                var run: Downtime?
                func close() {
                    if let r = run, r.end - r.start > breakEven { asleep[i].append(r) }
                    run = nil
                }
                for k in demand.times.indices {
                    guard demand.values[k] < restoreAbove else { close(); continue }
                    if run == nil { run = Downtime(start: demand.times[k], end: demand.times[k]) }
                    run!.end = min(demand.end(of: k), to)
                }
                close()
            }
        case .reactive:
            for (i, r) in records.enumerated() {
                let s = policy.settings(vm: r.name, labels: r.labels), demand = replay.demand[i]
                guard s.excluded == nil else { continue }
                var quiet: Int64 = 0, sleepingSince: EpochSeconds?
                for k in demand.times.indices {
                    let t = demand.times[k], v = demand.values[k], next = demand.end(of: k)
                    if let since = sleepingSince {
                        guard v >= s.restoreAbove else { continue }
                        if t + restoreSeconds[i] > from { asleep[i].append(Downtime(start: since, end: t + restoreSeconds[i])) }   // woken by the demand, late
                        sleepingSince = nil
                        quiet = 0
                        continue
                    }
                    if !demand.continues(k) { quiet = 0 }   // a gap in the data restarts the count: missing is not idle
                    guard v < s.hibernateBelow else { quiet = 0; continue }
                    quiet += next - t
                    if quiet >= s.minIdle { sleepingSince = max(next, from) }   // quiet since before `from`: asleep at it
                }
                if let since = sleepingSince, since < to { asleep[i].append(Downtime(start: since, end: to)) }
            }
        case .torpor, .seasonalNaive:
            let quantiles = blocks[0].forecaster.quantiles
            // The stretch each VM is asleep in now, and when its planned restore starts and finishes (nil: not planned yet).
            var sleeping = [(start: EpochSeconds, restore: EpochSeconds?, wake: EpochSeconds?)?](repeating: nil, count: records.count)
            // The calls for demand each VM's plans made while it ran (`Planner.demandCalls`), as the store keeps them.
            var demandCalls = [[DemandCall]](repeating: [], count: records.count)
            // When its demand last woke each VM before the planned restore (what a demand signal's wake leaves in the
            // journal).
            var lastUnplannedWake = [EpochSeconds?](repeating: nil, count: records.count)
            // What production would know: a sleeping VM reports nothing, so its hours asleep are missing in the history
            // the planner reads later (the journal's hibernated intervals), and an hour a sleep ended in holds the samples
            // after it (`Replay.holdAfterSleeps`; `seenCounts`: the samples per hour production has).
            var seen = replay.series, seenCounts = records.indices.map(replay.sampleCounts)
            let settings = records.map { policy.settings(vm: $0.name, labels: $0.labels) }
            let index = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($1.name, $0) })
            // Seasonal naive's days on the fleet's clock, as production's fallback reads them.
            let weeks = strategy == .seasonalNaive
                ? replay.series.map { clock.hoursOfWeek(from: $0.start, count: $0.values.count + policy.horizonHours) } : []
            for h in 0..<hours {
                let t = from + Int64(h) * 3600
                let block = blocks.last { $0.start <= t } ?? blocks[0]
                // Each history as production reads it then: its last `historyHours` before the hour (no more: a profile of
                // every week the replay has seen is not production's), on the VM's vCPUs of then (`HourlySeries.load`).
                let dropped = offset + h - block.forecaster.historyHours
                let histories = records.indices.map { i in
                    (vm: records[i].name, series: seen[i].prefix(offset + h).dropFirst(dropped).onNewestVCPUs())
                }
                let forecasts = strategy == .torpor ? block.forecaster.forecast(histories, calendar: replay.calendar.known(by: t)) : [:]
                var vms: [PlanningVM] = []
                for (i, r) in records.enumerated() {
                    let history = histories[i].series.values
                    let forecast: QuantileForecast
                    switch strategy {
                    case .seasonalNaive:
                        forecast = QuantileForecast(start: t, quantiles: quantiles,
                                                    values: Baseline.seasonalNaiveDay.forecast(history: history, hoursOfWeek: Array(weeks[i].dropFirst(dropped)),
                                                                                               horizon: policy.horizonHours).map { v in quantiles.map { _ in v } },
                                                    source: "seasonal naive")
                    default:
                        forecast = forecasts[r.name]!
                    }
                    let lastKnown = history.lastIndex { !$0.isNaN }.map { histories[i].series.time(of: $0) }
                    let fresh = lastKnown.map { t - ($0 + 3600) <= policy.maxDataAge } ?? false
                    // A VM without a host queues its restores behind no other (the other strategies' wakes queue nowhere).
                    vms.append(PlanningVM(name: r.name, host: r.hostURI ?? "replay:" + r.name, labels: r.labels, vcpus: r.vcpus, memoryBytes: replay.memoryBytes[i],
                                          knownHours: history.filter { !$0.isNaN }.count, forecast: forecast, hibernatedSince: sleeping[i]?.start,
                                          restoreSeconds: replay.restoreSeconds[i],
                                          staleSince: fresh || sleeping[i] != nil ? nil : (lastKnown ?? t)))
                    vms[vms.count - 1].historyHours = PlanningVM.historyHours(of: history)
                    if strategy == .torpor { vms[vms.count - 1].notPredictable = block.notPredictable[r.name] }
                    // Woken early: it runs since that wake (its last sleep ended there), as its power record says.
                    vms[vms.count - 1].wokenEarlyAt = sleeping[i] == nil && asleep[i].last?.end == lastUnplannedWake[i] ? lastUnplannedWake[i] : nil
                    let measured = MeasuredHistory(values: history, start: histories[i].series.start,
                                                   sleeps: asleep[i].map { $0.start...$0.end } + (sleeping[i].map { [$0.start...t] } ?? []),
                                                   lastUnplannedWake: lastUnplannedWake[i], clock: clock)
                    vms[vms.count - 1].quietHours = measured.quietHours(threshold: settings[i].restoreAbove)
                    vms[vms.count - 1].idleHours = measured.quietHours(threshold: settings[i].hibernateBelow)
                    demandCalls[i].removeAll { $0.hour < t - PlanningInputs.demandCallsKept }
                    vms[vms.count - 1].falseAlarms = measured.falseAlarms(calls: demandCalls[i], quantile: policy.tiers[settings[i].tier]!.quantile,
                                                                          threshold: settings[i].restoreAbove)
                    vms[vms.count - 1].unmetDemandAt = PlanningInputs.unmetDemand(calls: demandCalls[i], asleepSince: sleeping[i]?.start, now: t, settings: settings[i],
                                                                                  callQuantile: Planner.callQuantile(policy, settings[i])) { from, until in
                        replay.demand[i].slice(from: from, to: until, excluding: asleep[i].map { $0.start..<$0.end })
                    }
                }
                let input = PlanningInput(now: t, vms: vms, events: replay.events.filter { $0.known(at: t) }, policy: policy, policySHA256: "backtest",
                                          model: strategy.rawValue, dataWatermark: t)
                let plan = Planner.plan(input)
                for (name, calls) in Planner.demandCalls(input) { demandCalls[index[name]!] += calls }
                for (i, r) in records.enumerated() {
                    let hourEnd = t + 3600
                    // When a restore starts: at the executor's first pass from its time, execute_every later at worst (the
                    // planner plans it that much early); the VM is back its restore time after: by its deadline, sooner
                    // when the host's restore queue starts it early, later when a deadline already here makes it late.
                    func started(_ restore: Plan.Action) -> EpochSeconds { restore.at.seconds + policy.executeEvery }
                    func back(_ restore: Plan.Action?) -> EpochSeconds? { restore.map { started($0) + restoreSeconds[i] } }
                    if let current = sleeping[i] {
                        // A restore under way goes on: a newer plan replaces only actions not started.
                        if current.restore.map({ $0 > t }) ?? true {
                            let restore = plan.actions.first { $0.vm == r.name && $0.action == .restore }
                            sleeping[i]!.restore = restore.map(started) ?? t
                            sleeping[i]!.wake = back(restore) ?? t + restoreSeconds[i]
                        }
                    } else if let hibernate = plan.actions.first(where: { $0.vm == r.name && $0.action == .hibernate }), hibernate.at.seconds < hourEnd {
                        let restore = plan.action(hibernate.pairedWith ?? ""), wake = back(restore)
                        // The executor's pre-flight: it hibernates only while the VM's demand is under hibernate_below
                        // (the sample a moment falls in: the collector's newest then, stamped at its interval's end; under
                        // the idle timeout: has stayed under it for min_idle since the VM last woke), and tries again on
                        // its next passes while the hour lasts.
                        let demand = replay.demand[i], from = max(hibernate.at.seconds, asleep[i].last?.end ?? t), until = min(hourEnd, wake ?? .max)
                        let threshold = settings[i].hibernateBelow
                        func idle(busy: Bool, from: EpochSeconds, to: EpochSeconds) -> EpochSeconds? {
                            demand.firstIdle(for: hibernate.idleWait(busy: busy)!, from: from, to: to, threshold: threshold,
                                             countingFrom: asleep[i].last?.end ?? .min)
                        }
                        // A carried wait holds until the VM is busy again (measured while it ran), min_idle from then.
                        let busyFrom = hibernate.busyCheckStart(planHour: t, wokeAt: asleep[i].last?.end)
                        let busy = hibernate.afterIdleOnceBusySeconds == nil ? nil
                            : demand.slice(from: busyFrom, to: until, excluding: asleep[i].map { $0.start..<$0.end }).firstDemand(from: busyFrom, to: until, threshold: threshold)
                        let start = hibernate.afterIdleSeconds.map { _ in
                            idle(busy: false, from: from, to: busy ?? until) ?? busy.flatMap { idle(busy: true, from: max(from, $0), to: until) }
                        } ?? demand.firstCalm(from: from, to: until, threshold: threshold)
                        // As the executor: no sleep once its restore is due, or too close to its deadline ("not worth sleeping").
                        if let start, restore.map({ hibernate.notWorthStarting(at: start, restore: $0) == nil }) ?? true {
                            sleeping[i] = (start, restore.map(started), wake)
                        }
                    }
                    guard let current = sleeping[i] else { continue }
                    let planned = current.wake ?? .max
                    var end: EpochSeconds?
                    // Demand before the planned restore starts wakes the VM, late by the restore time (a demand signal's
                    // restore, `signal:` in the journal); once the restore has started, the VM is back when it finishes.
                    if let demand = replay.demand[i].firstDemand(from: max(current.start, t), to: min(current.restore ?? .max, planned, hourEnd),
                                                                 threshold: settings[i].restoreAbove) {
                        let woken = min(planned, demand + restoreSeconds[i])
                        lastUnplannedWake[i] = woken
                        end = woken
                    } else if planned <= hourEnd {
                        end = planned
                    }
                    if let end {
                        if end > current.start { asleep[i].append(Downtime(start: current.start, end: end)) }
                        sleeping[i] = nil
                    }
                    // Every hour the sleep spent time in (a late restore may finish in the next) holds what production's
                    // history does.
                    let sleeps = asleep[i].map { $0.start...$0.end } + (sleeping[i].map { [$0.start...hourEnd] } ?? [])
                    var hour = t, k = offset + h
                    while hour < (end ?? hourEnd) && k < seen[i].values.count {
                        replay.holdAfterSleeps(sleeps, vm: i, hour: k, in: &seen[i], counts: &seenCounts[i])
                        hour += 3600
                        k += 1
                    }
                }
            }
            for i in records.indices { if let current = sleeping[i] { asleep[i].append(Downtime(start: current.start, end: to)) } }
        }
        return asleep
    }
}

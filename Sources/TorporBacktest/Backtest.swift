import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporTrain

/// What decides when a VM sleeps in a replay.
public enum Strategy: String, CaseIterable, Codable, Sendable {
    /// torpor: the planner on the promoted model's forecast (trained before the replay), else the hour-of-week profile.
    case torpor
    /// The planner on a seasonal-naive forecast (the same hour yesterday, for every quantile).
    case seasonalNaive = "seasonal-naive"
    /// The planner on the actual future (perfect foresight): the most that can be captured.
    case oracle
    /// Hibernate after `min_idle` of measured demand under `hibernate_below`; restore when demand appears (late).
    case reactive
    /// A fixed schedule: asleep from 19:00 to 07:00 UTC (configurable) on weekdays and all weekend.
    case officeHours = "office-hours"
}

/// The score of one strategy over the replay (one VM, or the fleet when summed).
public struct Score: Codable, Equatable, Sendable {
    /// Hours asleep while actual demand stayed under `restore_above`.
    public var capturedHours = 0
    /// Hours with actual demand at or over `restore_above`, and those of them spent asleep.
    public var demandHours = 0
    public var violatedHours = 0
    /// Demand returning after an idle stretch, those that found the VM asleep, those preceded by a completed restore.
    public var episodes = 0
    public var missedEpisodes = 0
    public var proactiveEpisodes = 0
    public var hibernations = 0
    /// Hours with a known demand (missing hours count nowhere: missing is not idle).
    public var knownHours = 0
    /// Hours replayed (VM-hours, for churn per VM-day).
    public var replayedHours = 0
    /// Saved state written, estimated: the VM's allocated memory per hibernation (a libvirt save image holds the
    /// guest's RAM; the state pool then stores only the chunks it has not seen).
    public var stateBytes: Int64 = 0

    public static func + (a: Score, b: Score) -> Score {
        Score(capturedHours: a.capturedHours + b.capturedHours, demandHours: a.demandHours + b.demandHours,
              violatedHours: a.violatedHours + b.violatedHours, episodes: a.episodes + b.episodes,
              missedEpisodes: a.missedEpisodes + b.missedEpisodes, proactiveEpisodes: a.proactiveEpisodes + b.proactiveEpisodes,
              hibernations: a.hibernations + b.hibernations, knownHours: a.knownHours + b.knownHours,
              replayedHours: a.replayedHours + b.replayedHours, stateBytes: a.stateBytes + b.stateBytes)
    }

    /// Hibernate/restore cycles per VM-day replayed.
    public var churnPerVMDay: Double { replayedHours == 0 ? 0 : Double(hibernations) / (Double(replayedHours) / 24) }

    public var violationShare: Double { demandHours == 0 ? 0 : Double(violatedHours) / Double(demandHours) }
    public var missedEpisodeShare: Double { episodes == 0 ? 0 : Double(missedEpisodes) / Double(episodes) }
    public var proactiveShare: Double { episodes == 0 ? 0 : Double(proactiveEpisodes) / Double(episodes) }
}

/// The replay's result: per strategy, the fleet's score and each VM's.
public struct BacktestReport: Codable, Equatable, Sendable {
    public var from: String
    public var to: String
    public var forecast: String
    public var fleet: [String: Score]
    public var vms: [String: [String: Score]]
    /// Per VM: the actual hourly demand (null = missing) and the hours torpor had it asleep, for charts.
    public var timelines: [String: Timeline]

    public struct Timeline: Codable, Equatable, Sendable {
        public var demand: [Double?]
        public var asleep: [Bool]
        public var restoreAbove: Double
    }
}

/// Replays history hour by hour through the production planner (the same `Planner` and `DemandForecaster` code) and
/// scores each strategy against what actually happened: every hour, each strategy decides from the data before that
/// hour only; the VM is asleep from a planned hibernation's hour until its restore's deadline hour.
public struct Backtest {
    public let store: Store
    public var policy: Policy
    public let from: EpochSeconds
    public let to: EpochSeconds
    /// The office-hours schedule: asleep from this hour (UTC) to `officeOpens` on weekdays, and all weekend.
    public var officeCloses = 19
    public var officeOpens = 7
    /// Walk-forward: every this many days, train on the data before that day only (nothing is recorded in the registry)
    /// and forecast the following days with the new model if it is promoted, else keep the previous one, as the nightly
    /// job does. nil: the newest promoted model trained before the replay serves the whole replay.
    public var retrainEveryDays: Int?
    public var training = TrainingConfig()
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
        let (records, series, events, memory) = try store.read { db in
            let records = try VMRepository.all(in: db)
            let context = blocks.contains { $0.forecaster.needsContext }
            return (records, try records.map { try HourlySeries.load(vm: $0.name, from: historyStart, to: end, context: context, in: db) },
                    try EventRepository.overlapping(from: from, to: end, in: db),
                    try records.map { r in try r.memoryBytes ?? SampleReader.samples(vm: r.name, metric: "mem_capacity", from: historyStart, to: end, in: db)
                        .map { Int64($0.value) }.max() ?? 0 })
        }
        let offset = Int((from - historyStart) / 3600), hours = Int((to - from) / 3600)
        let calendar = try store.read { try CalendarHours.load(vms: records, from: from, to: end, in: $0) }
        var fleet: [String: Score] = [:], perVM: [String: [String: Score]] = [:], timelines: [String: BacktestReport.Timeline] = [:]
        for strategy in strategies {
            let asleep = try simulate(strategy, records: records, series: series, events: events, calendar: calendar, offset: offset, hours: hours,
                                      blocks: blocks)
            for (i, r) in records.enumerated() {
                let settings = policy.settings(vm: r.name, labels: r.labels)
                var score = Self.score(actual: Array(series[i].values[offset..<offset + hours]), asleep: asleep[i], settings: settings)
                score.stateBytes = Int64(score.hibernations) * memory[i]
                perVM[r.name, default: [:]][strategy.rawValue] = score
                if strategy == .torpor {
                    timelines[r.name] = .init(demand: series[i].values[offset..<offset + hours].map { $0.isNaN ? nil : Double($0) },
                                              asleep: asleep[i], restoreAbove: settings.restoreAbove)
                }
                fleet[strategy.rawValue] = (fleet[strategy.rawValue] ?? Score()) + score
            }
        }
        return BacktestReport(from: UTC.format(from), to: UTC.format(to), forecast: forecastLabel, fleet: fleet, vms: perVM, timelines: timelines)
    }

    /// torpor's forecasters over the replay, and how the report names them.
    func forecastBlocks() throws -> ([ForecastBlock], String) {
        func unpredictable(_ run: ModelRun?) -> [String: String] {
            Dictionary(uniqueKeysWithValues: (run?.vms ?? []).filter { !$0.predictable }.map { ($0.vm, $0.reason) })
        }
        var current = try DemandForecaster(store: store, horizon: policy.horizonHours, trainedBefore: from)
        guard let days = retrainEveryDays else {
            let newest = try store.read { try ModelRegistry.newest(trainedBefore: from, in: $0) }
            return ([ForecastBlock(start: from, forecaster: current, notPredictable: unpredictable(newest))],
                    current.run.map { "model #\($0.id)" } ?? "hour-of-week profile (no model trained before \(UTC.format(from)))")
        }
        var blocks: [ForecastBlock] = [], promoted = 0
        for start in stride(from: from, to: to, by: EpochSeconds.Stride(max(1, days) * 86_400)) {
            log("training on the data before \(UTC.format(start))")
            let trained = try Trainer(store: store, config: training).train(now: start)
            if trained.run.promoted, let model = trained.model {
                current = try DemandForecaster(promoted: (trained.run, model), horizon: policy.horizonHours)
                promoted += 1
            }
            log("  \(trained.run.reason)")
            blocks.append(ForecastBlock(start: start, forecaster: current, notPredictable: unpredictable(trained.run)))
        }
        return (blocks, "walk-forward: retrained every \(days) d on the data before each block (\(promoted) of \(blocks.count) runs promoted)")
    }

    /// Per VM, per replayed hour: asleep or not.
    func simulate(_ strategy: Strategy, records: [VMRecord], series: [HourlySeries], events: [EventRecord], calendar: CalendarHours,
                  offset: Int, hours: Int, blocks: [ForecastBlock]) throws -> [[Bool]] {
        let quantiles = blocks[0].forecaster.quantiles
        var asleep = [[Bool]](repeating: [Bool](repeating: false, count: hours), count: records.count)
        switch strategy {
        case .officeHours:
            for i in records.indices {
                for h in 0..<hours {
                    let t = from + Int64(h) * 3600
                    let hour = (t / 3600) % 24, weekday = ((t / 86_400) + 3) % 7   // 0 = Monday
                    asleep[i][h] = weekday >= 5 || hour >= officeCloses || hour < officeOpens
                }
            }
        case .reactive:
            for (i, r) in records.enumerated() {
                let s = policy.settings(vm: r.name, labels: r.labels)
                guard s.excluded == nil else { continue }
                var quiet = 0, sleeping = false
                for h in 0..<hours {
                    let a = series[i].values[offset + h]
                    asleep[i][h] = sleeping
                    if sleeping {
                        if !a.isNaN && Double(a) >= s.restoreAbove { sleeping = false; quiet = 0 }   // woken by the demand, late
                    } else if !a.isNaN && Double(a) < s.hibernateBelow {
                        quiet += 1
                        if Int64(quiet) * 3600 >= s.minIdle { sleeping = true }
                    } else {
                        quiet = 0
                    }
                }
            }
        case .torpor, .seasonalNaive, .oracle:
            var sleepingSince = [EpochSeconds?](repeating: nil, count: records.count)
            var wakeAt = [EpochSeconds?](repeating: nil, count: records.count)
            // What production would know: a sleeping VM reports nothing, so its hours asleep are missing in the history
            // the planner reads later (the journal's hibernated intervals). The oracle keeps everything.
            var seen = series
            for h in 0..<hours {
                let t = from + Int64(h) * 3600
                let histories = records.indices.map { i in
                    (vm: records[i].name, series: seen[i].prefix(offset + h))
                }
                let block = blocks.last { $0.start <= t } ?? blocks[0]
                let forecasts = strategy == .torpor ? block.forecaster.forecast(histories, calendar: calendar) : [:]
                var vms: [PlanningVM] = []
                for (i, r) in records.enumerated() {
                    let history = histories[i].series.values
                    let forecast: QuantileForecast
                    switch strategy {
                    case .oracle:
                        forecast = QuantileForecast(start: t, quantiles: quantiles,
                                                    values: (0..<policy.horizonHours).map { k in
                                                        let v = series[i].values[offset + h + k]
                                                        return quantiles.map { _ in v }
                                                    }, source: "oracle")
                    case .seasonalNaive:
                        forecast = QuantileForecast(start: t, quantiles: quantiles,
                                                    values: (0..<policy.horizonHours).map { k in
                                                        let j = history.count + k - 24 * (k / 24 + 1)
                                                        let v = j >= 0 ? history[j] : .nan
                                                        return quantiles.map { _ in v }
                                                    }, source: "seasonal naive")
                    default:
                        forecast = forecasts[r.name]!
                    }
                    let lastKnown = history.lastIndex { !$0.isNaN }.map { series[i].start + Int64($0) * 3600 }
                    let fresh = lastKnown.map { t - ($0 + 3600) <= policy.maxDataAge } ?? false
                    vms.append(PlanningVM(name: r.name, host: r.hostURI ?? "replay", labels: r.labels, vcpus: r.vcpus, memoryBytes: nil,
                                          knownHours: history.filter { !$0.isNaN }.count, forecast: forecast, hibernatedSince: sleepingSince[i],
                                          staleSince: fresh || sleepingSince[i] != nil ? nil : (lastKnown ?? t)))
                    if strategy == .torpor { vms[vms.count - 1].notPredictable = block.notPredictable[r.name] }
                }
                let plan = Planner.plan(PlanningInput(now: t, vms: vms, events: events, policy: policy, policySHA256: "backtest",
                                                      model: strategy.rawValue, dataWatermark: t))
                for (i, r) in records.enumerated() {
                    if sleepingSince[i] != nil {
                        let restore = plan.actions.first { $0.vm == r.name && $0.action == .restore }
                        wakeAt[i] = restore?.deadline?.seconds ?? t
                        if wakeAt[i]! <= t { sleepingSince[i] = nil }
                    } else if let h = plan.actions.first(where: { $0.vm == r.name && $0.action == .hibernate }), h.at.seconds < t + 3600 {
                        sleepingSince[i] = t
                        wakeAt[i] = plan.action(h.pairedWith ?? "")?.deadline?.seconds
                        if let w = wakeAt[i], w <= t { sleepingSince[i] = nil }   // not worth an hour
                    }
                    asleep[i][h] = sleepingSince[i] != nil
                    guard asleep[i][h], strategy != .oracle else { continue }
                    seen[i].values[offset + h] = .nan
                    // A demand signal (`torpor-execute --wake-on`) wakes it when demand comes, late like the reactive
                    // policy: that hour counts as asleep.
                    let actual = series[i].values[offset + h]
                    if !actual.isNaN && Double(actual) >= policy.settings(vm: r.name, labels: r.labels).restoreAbove { sleepingSince[i] = nil }
                }
            }
        }
        return asleep
    }

    /// Scores one VM's sleep against its actual demand (hourly; missing hours are not scored).
    static func score(actual: [Float], asleep: [Bool], settings: Policy.VMSettings) -> Score {
        var s = Score(replayedHours: actual.count)
        var previousKnown: Float?, sleptSinceDemand = false
        for (h, a) in actual.enumerated() {
            if h > 0 && asleep[h] && !asleep[h - 1] { s.hibernations += 1 }
            if h == 0 && asleep[0] { s.hibernations += 1 }
            if asleep[h] { sleptSinceDemand = true }
            guard !a.isNaN else { continue }
            s.knownHours += 1
            let demand = Double(a) >= settings.restoreAbove
            if demand {
                s.demandHours += 1
                if asleep[h] { s.violatedHours += 1 }
                if let p = previousKnown, Double(p) < settings.restoreAbove {
                    s.episodes += 1
                    if asleep[h] { s.missedEpisodes += 1 } else if sleptSinceDemand { s.proactiveEpisodes += 1 }
                }
                sleptSinceDemand = false
            } else if asleep[h] {
                s.capturedHours += 1
            }
            previousKnown = a
        }
        return s
    }
}

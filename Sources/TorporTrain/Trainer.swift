import Foundation
import GRDB
import TorporCore
import TorporForecast
import TorporHash
import TorporStore

/// How a nightly training run is set up.
public struct TrainingConfig: Sendable {
    public var lookback = 168
    public var horizon = 24
    /// The model's quantiles: the usual tiers'. The hour-of-week profile serves the lower ones the planner offers
    /// (`QuantileForecast.standardQuantiles`): trained for q0.1 and q0.25 too, the model lost them to the baselines every
    /// week (by up to 2.5×) on the 50 Bitbrains VMs and its q0.5 fell behind seasonal naive (bench/RESULTS.md).
    public var quantiles: [Float] = [0.5, 0.9, 0.99]
    public var hiddenSize = 32
    public var maxEpochs = 12
    public var seed: UInt64 = 42
    /// History read before `now`.
    public var historyDays = 90
    /// The most recent days, held out for validation (never trained on).
    public var validationDays = 7
    /// VMs with fewer days of known data are not predictable.
    public var minimumDays = 3
    /// VMs with fewer known hours in the validation days (the collector down, the VM absent) are not predictable: a
    /// verdict on a handful of hours is one by chance. Hours torpor kept it asleep count with the known ones.
    public var minimumValidationHours = 24
    /// Windows per epoch, at most (sampled with the seed): an epoch stays seconds long on large fleets.
    public var windowsPerEpoch = 20_000
    /// The last one in this many of each VM's training windows, by time, is held out for early stopping (never trained
    /// on, nor are the windows whose targets reach into it; promotion uses the validation days, which early stopping
    /// never sees); 0 = no early stopping. Off by default: on the 50 Bitbrains VMs a held-out twentieth (then every
    /// twentieth window, sharing most hours with its neighbours) cost the model its edge over seasonal naive at q0.5
    /// (0.0623 vs 0.0603), and the promotion gate already keeps an overfitted model from the planner.
    public var stoppingEvery = 0
    /// Epochs without a better early-stopping loss before training stops (the best epoch's weights are kept).
    public var patience = 3
    /// A VM is not predictable ("no skill") when neither the model nor a baseline beats its overall quantiles on the
    /// validation days, unless the overall quantiles already miss by less than this (mean pinball, in demand units:
    /// a VM whose demand moves by less than about a point of CPU is as good as constant, and quiet VMs stay plannable).
    public var noSkillFloor = 1.0
    /// The inputs; memory, network and disk use are off by default: on the 50 Bitbrains VMs they cost the model its
    /// q0.5 edge over seasonal naive (bench/RESULTS.md).
    public var input = ModelInput(usesContext: false)
    /// The fleet's clock (`WeekClock`; the planner's `--zone`): that of the model's time features (`input`'s) and of the
    /// hour-of-week profile the model is measured against.
    public var clock: WeekClock {
        get { input.clock }
        set { input = ModelInput(usesContext: input.usesContext, clock: newValue) }
    }

    public init() {}
}

/// One global forecaster across VMs with per-VM scaling. Inputs per hour: see `ModelInput` (demand, the same hour six
/// days earlier, memory, network and disk use, time encodings). Outputs: for each of the next
/// `horizon` hours and each quantile, the change from the same hour the day before (`ModelInput.base`: a seasonal skip connection),
/// trained with the masked pinball loss. Promotion: the model must beat the best baseline's pinball loss on the
/// validation days, **per quantile**: it serves the quantiles where it does, and each other quantile falls back to the
/// baseline that forecast it best (the hour-of-week profile, or seasonal naive: `Baseline.servable`), as does every
/// quantile of a VM the model does not forecast best; a model that wins none is not promoted and the planner keeps the
/// previous promoted model (or the profile). Nor is one that would serve worse than the model serving now, on the
/// validation hours neither trained on.
public struct Trainer {
    public let store: Store
    public let config: TrainingConfig

    public init(store: Store, config: TrainingConfig = TrainingConfig()) {
        self.store = store
        self.config = config
    }

    func window(_ s: HourlySeries, end: Int, scale: Float) -> ModelInput.Window {
        config.input.window(s, end: end, scale: scale, lookback: config.lookback, horizon: config.horizon)
    }

    /// The model's mean loss over `count` windows (`window(i)` builds the i-th), built and run 512 at a time (one batch
    /// of all of them needs a forward pass's workspace for each), weighted by each chunk's known targets as one batch
    /// would be: the same up to float rounding (exactly the same up to 512 windows).
    func meanLoss(_ model: Forecaster, count: Int, window: (Int) -> ModelInput.Window) -> Float {
        var sum = 0.0, weight = 0.0
        for start in stride(from: 0, to: count, by: 512) {
            let chunk = (start..<min(count, start + 512)).map(window)
            let mask = chunk.flatMap(\.mask), known = Double(mask.reduce(0, +))
            guard known > 0 else { continue }
            sum += Double(model.loss(chunk.flatMap(\.input), targets: chunk.flatMap(\.target), mask: mask, batch: chunk.count, steps: config.lookback)) * known
            weight += known
        }
        return weight > 0 ? Float(sum / weight) : 0
    }

    /// Trains, evaluates against the baselines, and records the run (promoted or not) in the registry; `recorded` is
    /// false when a run in the same hour as `now` (training reads whole hours) was already trained on the same data
    /// with the same settings (a second nightly job, a retry): that run is returned and nothing is trained or recorded.
    public func run(now: EpochSeconds, log: (String) -> Void = { _ in }) throws -> (run: ModelRun, recorded: Bool) {
        let serving = try servingForecaster(try store.read { try ModelRegistry.promoted(trainedBefore: now, in: $0) }, now: now)
        let data = try load(now: now, context: serving?.needsContext == true)
        // And compared with the same model: the one promoted from earlier hours' runs (a retry after it was demoted is
        // judged against what serves then, not answered with the run judged against it), unless that run serves now
        // itself (trained again, it would be compared with its twin). Runs recorded before this was kept match whatever it is.
        let comparedWith = try store.read { try ModelRegistry.promoted(trainedBefore: UTC.floor(now) - 1, in: $0) }.map { "#\($0.run.id)" } ?? "none"
        func same(in db: Database) throws -> ModelRun? {
            try ModelRegistry.runs(dataEndingFrom: UTC.floor(now), to: UTC.floor(now) + 3600, in: db).first {
                $0.hyperparameters[Self.inputsKey] == data.fingerprint
                    && (($0.hyperparameters[Self.comparedKey] ?? comparedWith) == comparedWith || $0.id == serving?.run?.id)
            }
        }
        if let same = try store.read(same) { return (same, false) }
        let trained = try fit(data, now: now, serving: serving, log: log)
        // Asked again when recording: a run started at the same time (two nightly jobs at once) may have recorded it.
        return try store.transaction { db in
            if let same = try same(in: db) { return (same, false) }
            var run = trained.run
            run.hyperparameters[Self.comparedKey] = comparedWith
            run.id = try ModelRegistry.insert(run, model: trained.model, in: db)
            return (run, true)
        }
    }

    /// Trains and evaluates on the data before `now`, without recording anything (a backtest's walk-forward): the run
    /// (id 0) and its model file, nil when no VM had enough history. `incumbent`: the model serving at `now` (a promoted
    /// run and its file), which the new one must serve at least as well as to be promoted.
    public func train(now: EpochSeconds, incumbent: (run: ModelRun, model: Data)? = nil, log: (String) -> Void = { _ in }) throws -> (run: ModelRun, model: Data?) {
        let serving = try servingForecaster(incumbent, now: now)
        return try fit(try load(now: now, context: serving?.needsContext == true), now: now, serving: serving, log: log)
    }

    /// The model serving at `now` (`incumbent`: the newest promoted run and its file) as production serves it, on the
    /// training's clock; nil when none would serve (none promoted, too old, another version's input set).
    func servingForecaster(_ incumbent: (run: ModelRun, model: Data)?, now: EpochSeconds) throws -> DemandForecaster? {
        guard let incumbent else { return nil }
        var serving = try DemandForecaster(promoted: incumbent, quantiles: config.quantiles, horizon: config.horizon, now: now)
        serving.clock = config.clock
        return serving.run == nil ? nil : serving
    }

    /// What a run learns from: every VM's hourly history over the `historyDays` before the hour `now` falls in (whole
    /// hours only, as the planner reads them: an hour `now` falls inside would end on part of its peak) and the calendar, with a
    /// fingerprint of them and of everything else that shapes the model (the settings, the BLAS kernels and threads).
    struct TrainingData {
        var from: EpochSeconds
        var series: [(vm: String, series: HourlySeries)]
        /// Per VM, the hours of `series` missing for its sleeps (torpor's hibernations), and so not for want of data.
        var slept: [String: Set<Int>] = [:]
        var calendar: CalendarHours
        var fingerprint: String
    }

    /// The hyperparameter under which a run records its `TrainingData.fingerprint`.
    static let inputsKey = "inputs_sha256"
    /// The hyperparameter under which a run records the model promoted from earlier hours' runs when it ran (`#id`, or
    /// none): what it was compared with, when that model served.
    static let comparedKey = "serving_before"

    /// `context`: memory, network and disk are loaded even when this run's inputs do not read them (the serving model's
    /// do, and it is compared on what production would give it).
    func load(now: EpochSeconds, context: Bool = false) throws -> TrainingData {
        let hour = UTC.floor(now)
        let from = hour - Int64(config.historyDays) * 86_400
        let records = try store.read { try VMRepository.all(in: $0) }
        // The events known by `now` (a walk-forward's model learns nothing recorded after its day).
        let calendar = try store.read { try CalendarHours.load(vms: records, from: from, to: hour + Int64(config.horizon) * 3600, knownBy: now, in: $0) }
        var slept: [String: Set<Int>] = [:]
        let series = try records.map(\.name).map { vm in
            try store.read { db in
                let sleeps = try JournalRepository.hibernatedIntervals(vm: vm, from: HourlySeries.sleepsFrom(from), now: now, in: db)
                let s = try HourlySeries.load(vm: vm, from: from, to: hour, excluded: sleeps, context: config.input.usesContext || context, in: db)
                slept[vm] = HourlySeries.indices(touchedBy: sleeps, first: s.start, count: s.values.count).filter { s.values[$0].isNaN }
                return (vm, s)
            }
        }
        let hash = SHA256()
        func add(_ text: String) { hash.update(Array((text + "\n").utf8)) }
        func add(_ values: [Float]) { values.withUnsafeBytes { hash.update($0) } }
        for setting in Mirror(reflecting: config).children {   // every setting, new ones too; the inputs by their features (and clock)
            add("\(setting.label ?? "") \((setting.value as? ModelInput)?.features ?? "\(setting.value)")")
        }
        add("\(BLAS.coreName), \(BLAS.threads) threads")
        add("features \(config.input.features); target \(ModelInput.target)")
        for (vm, s) in series {
            add("\(vm) \(s.start) \(s.step)")
            add(s.values)
            for c in s.context { add("\(c.count)"); add(c) }
            for (hour, categories) in (calendar.byVM[vm] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let known = calendar.knownFrom[vm]?[hour] ?? [:]
                add("\(hour) " + categories.map { c in c.rawValue + (known[c].map { "@\($0)" } ?? "") }.sorted().joined(separator: ","))
            }
        }
        return TrainingData(from: from, series: series, slept: slept, calendar: calendar, fingerprint: hash.finalizeHex())
    }

    func fit(_ data: TrainingData, now: EpochSeconds, serving: DemandForecaster?, log: (String) -> Void) throws -> (run: ModelRun, model: Data?) {
        let started = Date()
        let from = data.from, calendar = data.calendar
        var trained: [(vm: String, series: HourlySeries, split: Int, scale: Float)] = []
        var verdicts: [ModelRun.VMVerdict] = []
        // Windows are built a batch at a time from where they end (all of them at once took about 3 MB per VM: gigabytes
        // for a fleet of thousands).
        var train: [(series: Int, end: Int)] = [], stopping: [(series: Int, end: Int)] = []
        var validation: [(vm: String, series: HourlySeries, end: Int, scale: Float)] = []
        var scales: [String: Float] = [:]
        for (vm, s) in data.series {
            let split = s.values.count - config.validationDays * 24
            let knownTrain = split > 0 ? s.values[..<split].filter { !$0.isNaN } : []
            guard knownTrain.count >= config.minimumDays * 24, split - config.horizon > config.lookback + 144 else {
                let needed = knownTrain.count < config.minimumDays * 24 ? "\(config.minimumDays * 24) needed"
                    : "one training window needs more than \(config.lookback + 144 + config.horizon) hours"
                verdicts.append(.init(vm: vm, predictable: false, better: "none", reason: "too little history (\(knownTrain.count) known hours before the validation days; \(needed))"))
                continue
            }
            let scale = max(1, knownTrain.sorted()[knownTrain.count * 99 / 100])
            scales[vm] = scale
            trained.append((vm, s, split, scale))
            // The last 1 / `stoppingEvery` of the windows, by time, is held out for early stopping, and a window is trained
            // on only if its targets end before the first held-out one's begin: a held-out window (every n-th, as once)
            // shares 165 of its 168 input hours and 21 of its 24 targets with its neighbours, and its loss only follows
            // the training loss.
            // Only windows with a known target: a VM absent for weeks would otherwise fill batches with windows that
            // teach nothing, and count as gradient steps towards `leastSteps`.
            let ends = stride(from: config.lookback + 144, through: split - config.horizon, by: 3)
                .filter { config.input.hasKnownTarget(s, end: $0, horizon: config.horizon) }
            let (fit, held) = Self.stoppingSplit(ends: ends, every: config.stoppingEvery, horizon: config.horizon)
            train += fit.map { (trained.count - 1, $0) }
            stopping += held.map { (trained.count - 1, $0) }
            for end in stride(from: split, through: s.values.count - config.horizon, by: 24) { validation.append((vm, s, end, scale)) }
        }
        var hyper: [String: String] = ["lookback": "\(config.lookback)", "horizon": "\(config.horizon)", "hidden": "\(config.hiddenSize)",
                                       "epochs": "\(config.maxEpochs)", "seed": "\(config.seed)",
                                       "quantiles": config.quantiles.map { "\($0)" }.joined(separator: ","), "features": config.input.features,
                                       "validation_days": "\(config.validationDays)",
                                       Self.inputsKey: data.fingerprint]
        guard !train.isEmpty, !validation.isEmpty else {
            let run = ModelRun(createdAt: now, dataFrom: from, dataTo: now, hyperparameters: hyper, metrics: [:], promoted: false,
                               reason: "no VM has enough history to train on", seconds: Date().timeIntervalSince(started), vms: verdicts)
            return (run, nil)
        }
        let shape = ForecasterShape(inputSize: config.input.featureCount, hiddenSize: config.hiddenSize, layers: 1, horizon: config.horizon, quantiles: config.quantiles)
        let model = Forecaster(shape: shape, seed: config.seed)
        let optimizer = AdamW(for: model, learningRate: 3e-3)
        var random = SeededRandom(seed: config.seed)
        let batch = 32
        hyper["windows"] = "\(train.count)"
        let windowAt = { (w: (series: Int, end: Int)) in self.window(trained[w.series].series, end: w.end, scale: trained[w.series].scale) }
        var best: (loss: Float, epoch: Int, weights: [[Float]]) = (.infinity, 0, [])
        var steps = 0, stepsAtBest = 0, divergedIn: Int?
        epochs: for epoch in 1...config.maxEpochs {
            train.shuffle(using: &random)
            var total: Float = 0, batches = 0
            for start in stride(from: 0, to: min(train.count, config.windowsPerEpoch) - batch + 1, by: batch) {
                let chunk = train[start..<start + batch].map(windowAt)
                let x = chunk.flatMap(\.input), y = chunk.flatMap(\.target), m = chunk.flatMap(\.mask)
                let loss = x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in m.withUnsafeBufferPointer { mp in
                    model.lossAndGradients(xp.baseAddress!, targets: yp.baseAddress!, mask: mp.baseAddress!, batch: batch, steps: config.lookback)
                } } }
                // A loss that is no number (an input out of float range, a step that blew up) would spread through every
                // weight at the next update: training stops, and the model is not promoted.
                guard loss.isFinite else {
                    log("epoch \(epoch)/\(config.maxEpochs): the training loss is not finite (\(loss)): training stopped")
                    divergedIn = epoch
                    break epochs
                }
                total += loss
                optimizer.update(model)
                batches += 1
            }
            steps += batches
            let stopLoss = stopping.isEmpty ? Float.nan : meanLoss(model, count: stopping.count) { windowAt(stopping[$0]) }
            log("epoch \(epoch)/\(config.maxEpochs): training pinball loss \(batches > 0 ? total / Float(batches) : 0)"
                + (stopping.isEmpty ? "" : ", early-stopping loss \(stopLoss)"))
            if stopLoss < best.loss || best.weights.isEmpty || stopping.isEmpty {
                best = (stopLoss, epoch, model.parameters.map(\.values))
                stepsAtBest = steps
            } else if epoch - best.epoch >= config.patience {
                log("early stop: no better early-stopping loss since epoch \(best.epoch)")
                break
            }
        }
        // The best epoch's weights.
        for (tensor, values) in zip(model.parameters, best.weights) { values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: values.count) } }
        // An update that blew a weight up after the last finite loss: diverged too.
        if divergedIn == nil, !best.weights.allSatisfy({ $0.allSatisfy(\.isFinite) }) { divergedIn = best.epoch }
        let uplift = calendarUplift(model, trained: trained, calendar: calendar)
        hyper["calendar"] = uplift.values.keys.map(\.rawValue).sorted().joined(separator: ",")
        hyper["best_epoch"] = "\(best.epoch)"
        hyper["stopping_every"] = "\(config.stoppingEvery)"
        hyper["week_clock"] = config.clock.zone
        // A model trained on other kernels or another number of threads differs in its last bits (float sums in another
        // order): what a replay must give to train the same model.
        hyper["blas"] = "\(BLAS.coreName), \(BLAS.threads) threads"
        // Validation: pinball per quantile in scaled units, model vs each baseline (a baseline's point forecast stands
        // for every quantile), over the known hours of the held-out days where every candidate has a forecast: all are
        // judged on the same hours. The model is judged as production serves it (the profile where it has no forecast: the
        // quantiles' baselines are chosen from these sums), and the profile as production makes it (from the history the
        // planner reads, moved by the recent level).
        let q = config.quantiles
        var sums: [String: [Double]] = [:], counts: [String: Double] = [:], perVM: [String: [String: [Double]]] = [:]
        var covered: [String: Double] = [:], coverageCount = 0.0, mase: [String: [Double]] = [:]
        var perVMHours: [String: Double] = [:]
        for v in validation {
            let w = window(v.series, end: v.end, scale: v.scale)
            let known = calendar.known(by: v.series.time(of: v.end))   // the events a forecast made then would have seen
            let out = model.predict(w.input, batch: 1, steps: config.lookback)
            let history = Array(v.series.values[..<v.end])
            let hoursOfWeek = config.clock.hoursOfWeek(from: v.series.start, count: v.end + config.horizon)
            var candidates: [String: [[Float]]] = [:]
            // The baselines from the history the planner reads (its fallback's), not all training has: a seasonal naive
            // reaching back further than production's would be chosen on forecasts production cannot make.
            let read = min(history.count, DemandForecaster.historyHours(lookback: config.lookback))
            let servedHistory = Array(history.suffix(read)), servedWeeks = Array(hoursOfWeek.suffix(read + config.horizon))
            let profile = Baseline.servedProfile(history: servedHistory, hoursOfWeek: servedWeeks,
                                                 horizon: config.horizon, quantiles: q).values.map { $0.map { $0 / v.scale } }
            // Where the model has no forecast, the profile (checked before the uplift: as production, not an uplift on nothing).
            candidates["model"] = config.input.quantiles(out, series: v.series, end: v.end, scale: v.scale, quantiles: q.count).enumerated()
                .map { k, f in f.contains(where: \.isNaN) ? profile[k]
                    : uplift.apply(f, categories: known.categories(vm: v.vm, hour: v.series.time(of: v.end + k)), scale: v.scale).map { $0 / v.scale } }
            for b in Baseline.allCases where b != .hourOfWeekProfile {
                let f = b.forecast(history: servedHistory, hoursOfWeek: servedWeeks, horizon: config.horizon)
                candidates["\(b)"] = f.map { value in q.map { _ in value / v.scale } }
            }
            candidates["\(Baseline.hourOfWeekProfile)"] = profile
            let overall = Baseline.overallQuantiles(history: history, quantiles: q).map { $0 / v.scale }
            candidates[Self.noSkill] = [[Float]](repeating: overall, count: config.horizon)
            // MASE of each candidate's median (or middle quantile) against seasonal naive's in-sample error.
            let actuals = (0..<config.horizon).map { k in v.end + k < v.series.values.count ? v.series.values[v.end + k] / v.scale : .nan }
            let middle = q.firstIndex { abs($0 - 0.5) < 1e-6 } ?? q.count / 2
            for (name, f) in candidates {
                let value = Evaluation.mase(forecast: f.map { $0[middle] }, actual: actuals, history: history.map { $0 / v.scale })
                if value.isFinite { mase[name, default: []].append(value) }
            }
            for k in 0..<config.horizon where v.end + k < v.series.values.count && !v.series.values[v.end + k].isNaN
                && candidates.values.allSatisfy({ !$0[k].contains(where: \.isNaN) }) {
                let actual = v.series.values[v.end + k] / v.scale
                perVMHours[v.vm, default: 0] += 1
                for (name, f) in candidates {
                    for (j, tau) in q.enumerated() {
                        let loss = Evaluation.pinball(actual: actual, forecast: f[k][j], quantile: tau)
                        sums[name, default: [Double](repeating: 0, count: q.count)][j] += loss
                        perVM[v.vm, default: [:]][name, default: [Double](repeating: 0, count: q.count)][j] += loss * Double(v.scale)
                    }
                    counts[name, default: 0] += 1
                }
                if let f = candidates["model"]?[k], !f.contains(where: \.isNaN) {
                    for (j, tau) in q.enumerated() where actual <= f[j] { covered["\(tau)", default: 0] += 1 }
                    coverageCount += 1
                }
            }
        }
        var metrics: [String: Double] = [:]
        for (name, s) in sums { for (j, tau) in q.enumerated() { metrics["pinball q\(tau) \(name)"] = s[j] / max(1, counts[name] ?? 1) } }
        for (name, values) in mase where !values.isEmpty { metrics["mase \(name)"] = values.reduce(0, +) / Double(values.count) }
        // Coverage: the share of actuals at or under each quantile's forecast (q0.9 should cover about 90 %).
        for tau in q where coverageCount > 0 { metrics["coverage q\(tau) model"] = (covered["\(tau)"] ?? 0) / coverageCount }
        // The mean and the overall quantiles are reported, not bars to clear: promotion is against the best of the
        // seasonal and profile baselines.
        let references: Set<String> = ["\(Baseline.mean)", Self.noSkill]
        let baselines = sums.keys.filter { $0 != "model" && !references.contains($0) }
        var failures: [String] = [], served: [Float] = []
        for tau in q {
            let mine = metrics["pinball q\(tau) model"] ?? .infinity
            let best = baselines.map { (name: $0, loss: metrics["pinball q\(tau) \($0)"]!) }.min { $0.loss < $1.loss }
            if let best, mine >= best.loss {
                failures.append("q\(tau): \(String(format: "%.5f", mine)) ≥ \(best.name) \(String(format: "%.5f", best.loss))")
            } else if mine.isFinite {
                served.append(tau)
            }
        }
        // A model that took too few steps is its initial weights, or nearly: a fit by chance on the validation days is no
        // skill (a new install's few VMs and weeks give fewer windows than one batch).
        hyper["steps"] = "\(stepsAtBest)"   // those the kept weights had
        let notTrained = divergedIn.map { "not promoted: training diverged in epoch \($0) (its loss or a weight was not a finite number)" }
            ?? (stepsAtBest >= Self.leastSteps ? nil
                : "not promoted: \(train.count) training windows gave \(stepsAtBest) gradient steps, fewer than \(Self.leastSteps) (more VMs or more history needed)")
        if notTrained != nil { served = [] }
        // Where the model does not serve, each quantile's best baseline does (the first of `Baseline.servable` on a tie).
        let fallbacks = q.map { tau in
            Baseline.servable.compactMap { b in metrics["pinball q\(tau) \(b)"].map { (baseline: b, loss: $0) } }.min { $0.loss < $1.loss }?.baseline ?? .hourOfWeekProfile
        }
        let fallbacksEntry = DemandForecaster.fallbacksEntry(quantiles: q, fallbacks)
        hyper["fallbacks"] = fallbacksEntry
        // Hours a VM slept through in the validation days stand with its known ones for the floor: one torpor keeps
        // asleep most of the day is judged on the hours it ran, not set aside for being asleep.
        let slept = Dictionary(uniqueKeysWithValues: trained.map { t in (t.vm, data.slept[t.vm]?.filter { $0 >= t.split }.count ?? 0) })
        func judged(_ served: [Float]) -> [ModelRun.VMVerdict] {
            perVM.sorted { $0.key < $1.key }.compactMap { vm, losses in
                func verdict(_ fallbacks: [Baseline]) -> ModelRun.VMVerdict? {
                    Self.verdict(vm: vm, losses: losses, hours: perVMHours[vm] ?? 0, quantiles: q, served: served, fallbacks: fallbacks,
                                 noSkillFloor: config.noSkillFloor, minimumHours: config.minimumValidationHours, slept: slept[vm] ?? 0)
                }
                // Promoting nothing while a model serves: that model's fallbacks serve the VM now, this run's own once it
                // no longer serves (too old, demoted), before the next run judges again: predictable only on both.
                guard served.isEmpty, let theirs = serving?.fallbacks, theirs != fallbacks else { return verdict(fallbacks) }
                return Self.onBoth(now: verdict(theirs), later: verdict(fallbacks))
            }
        }
        var judgedVMs = judged(served)
        let scalesMetadata = Dictionary(uniqueKeysWithValues: scales.map { ("scale.\($0.key)", "\($0.value)") })
        func modelFile(serving served: [Float]) throws -> Data {
            try ModelFile.encode(model, metadata: scalesMetadata.merging(["features": config.input.features, "target": ModelInput.target,
                                                                          "served_quantiles": served.map { "\($0)" }.joined(separator: ","),
                                                                          "fallbacks": fallbacksEntry,
                                                                          "lookback": "\(config.lookback)"].merging(uplift.metadata) { a, _ in a }) { a, _ in a })
        }
        // Against the model serving now (as production serves it; none when it no longer would: too old, another input
        // set): the new one, as production would serve it (on the VMs it wins, for the quantiles it won), must do at
        // least as well, or the serving one stays. Compared on the validation hours neither trained on (after the end
        // of the serving one's training data, its own validation days held out: nightly, all of them); each chose where
        // and for what it serves on validation days of its own, which overlap.
        var losesToServing: String?, versusServing = ""
        if !served.isEmpty, notTrained == nil, let serving, let servingRun = serving.run {
            let since = UTC.floor(servingRun.dataTo) - Int64(Int(servingRun.hyperparameters["validation_days"] ?? "") ?? 7) * 86_400
            let run = ModelRun(createdAt: now, dataFrom: from, dataTo: now, hyperparameters: hyper, metrics: [:], promoted: true, reason: "", seconds: 0, vms: judgedVMs)
            var candidate = try DemandForecaster(promoted: (run, try modelFile(serving: served)), quantiles: q, horizon: config.horizon)
            candidate.clock = config.clock
            let name = servingRun.id > 0 ? "model #\(servingRun.id)" : "the serving model"
            hyper["compared_with"] = name
            if let losses = Self.servedLosses(candidate, serving, windows: validation, from: since, calendar: calendar) {
                metrics["vs serving: pinball of this model as served"] = losses.candidate
                metrics["vs serving: pinball of the serving model"] = losses.serving
                metrics["vs serving: hours compared"] = losses.hours
                let comparison = "mean pinball \(String(format: "%.5f", losses.candidate)) \(losses.candidate > losses.serving ? ">" : "≤") "
                    + "\(String(format: "%.5f", losses.serving)) over \(Int(losses.hours)) validation hours neither trained on"
                versusServing = "; serves at least as well as \(name) (\(comparison))"
                if losses.candidate > losses.serving {
                    losesToServing = "not promoted: it would serve worse than \(name), which keeps serving (\(comparison))"
                    hyper["lost_to_serving"] = "\(servingRun.id)"
                    served = []
                    judgedVMs = judged(served)
                }
            } else {
                hyper["compared_with"] = name + ": no validation hour after its training data, not compared"
            }
        }
        // Promotion is per quantile: the model serves the quantiles it forecasts better than the best baseline, and
        // each other quantile's best baseline keeps it.
        let promoted = !served.isEmpty
        verdicts += judgedVMs
        for t in trained where perVM[t.vm] == nil {
            verdicts.append(.init(vm: t.vm, predictable: false, better: "none",
                                  reason: "no known hours in the last \(config.validationDays) days: its forecasts cannot be judged"))
        }
        let servedText = served.map { "q\($0)" }.joined(separator: ", ")
        let reason = notTrained ?? losesToServing ?? (!promoted && failures.isEmpty
            ? "not promoted: no hour of the last \(config.validationDays) days has known demand to compare it with the baselines on (the collector down?)"
            : failures.isEmpty ? "beats the best baseline on every quantile over the last \(config.validationDays) days" + versusServing
            : promoted ? "promoted for \(servedText) only (\(Self.keeping(q, served: served, fallbacks: fallbacks))): " + failures.joined(separator: "; ") + versusServing
            : "not promoted: " + failures.joined(separator: "; "))
        hyper["served_quantiles"] = served.map { "\($0)" }.joined(separator: ",")
        let blob = try modelFile(serving: served)
        let run = ModelRun(createdAt: now, dataFrom: from, dataTo: now, hyperparameters: hyper, metrics: metrics, promoted: promoted,
                           reason: reason, seconds: Date().timeIntervalSince(started), vms: verdicts.sorted { $0.vm < $1.vm })
        return (run, blob)
    }

    /// A VM's training window ends (ascending) split for early stopping: the last 1 / `every` held out (none when 0),
    /// and trained on only those whose targets, `horizon` hours from their end, end before the first held-out one's.
    static func stoppingSplit(ends: [Int], every: Int, horizon: Int) -> (train: [Int], held: [Int]) {
        guard every > 0, !ends.isEmpty else { return (ends, []) }
        let heldFrom = ends[ends.count - max(1, ends.count / every)]
        return (ends.filter { $0 + horizon <= heldFrom }, ends.filter { $0 >= heldFrom })
    }

    /// The mean pinball loss per hour and quantile, in scaled units, of two forecasters as production serves them
    /// (`DemandForecaster`: each from the history it reads), over the known hours the `windows` forecast where both have a
    /// forecast; and the hours compared. Nil when there are none.
    static func servedLosses(_ candidate: DemandForecaster, _ serving: DemandForecaster, windows: [(vm: String, series: HourlySeries, end: Int, scale: Float)],
                             from since: EpochSeconds, calendar: CalendarHours) -> (candidate: Double, serving: Double, hours: Double)? {
        var sums = (candidate: 0.0, serving: 0.0), hours = 0.0
        // The windows that end together are forecast together (one batch per forecaster).
        for (end, group) in Dictionary(grouping: windows, by: \.end).sorted(by: { $0.key < $1.key }) {
            func forecasts(_ f: DemandForecaster) -> [String: QuantileForecast] {
                let read = min(end, f.historyHours)
                return f.forecast(group.map { ($0.vm, $0.series.prefix(end).dropFirst(end - read)) }, calendar: calendar.known(by: group[0].series.time(of: end)))
            }
            let candidates = forecasts(candidate), served = forecasts(serving)
            for v in group {
                guard let a = candidates[v.vm]?.values, let b = served[v.vm]?.values else { continue }
                for k in 0..<min(a.count, b.count) where v.end + k < v.series.values.count && v.series.time(of: v.end + k) >= since {
                    let actual = v.series.values[v.end + k]
                    guard !actual.isNaN, !a[k].contains(where: \.isNaN), !b[k].contains(where: \.isNaN) else { continue }
                    for (j, tau) in candidate.quantiles.enumerated() {
                        sums.candidate += Evaluation.pinball(actual: actual / v.scale, forecast: a[k][j] / v.scale, quantile: tau)
                        sums.serving += Evaluation.pinball(actual: actual / v.scale, forecast: b[k][j] / v.scale, quantile: tau)
                    }
                    hours += 1
                }
            }
        }
        guard hours > 0 else { return nil }
        let per = hours * Double(candidate.quantiles.count)
        return (sums.candidate / per, sums.serving / per, hours)
    }

    /// The fewest gradient steps the kept weights had (those up to the epoch kept) for a model to be promoted.
    static let leastSteps = 20

    /// The forecast without skill: the VM's overall quantiles, whatever the hour.
    static let noSkill = "overallQuantiles"

    /// A VM's verdict on two mixes that may serve it in turn (`now`, then `later`): the first that finds it not
    /// predictable, else `later`'s.
    static func onBoth(now: ModelRun.VMVerdict?, later: ModelRun.VMVerdict?) -> ModelRun.VMVerdict? {
        now?.predictable == false ? now : later
    }

    /// What keeps the quantiles the model does not serve: "the profile keeps the others", or "the same hour the day
    /// before keeps q0.5, the profile the others".
    static func keeping(_ quantiles: [Float], served: [Float], fallbacks: [Baseline]) -> String {
        let serving = Baseline.serving(fallbacks, quantiles: quantiles, open: quantiles.indices.filter { !served.contains(quantiles[$0]) })
        let others = serving.others.map { "\($0.baseline.servedName) keeps \($0.quantiles)" }
        guard serving.profile else { return others.joined(separator: ", ") }
        return others.isEmpty ? "the profile keeps the others" : (others + ["the profile the others"]).joined(separator: ", ")
    }

    /// A VM's verdict from its validation losses (`losses`: per candidate, the pinball loss summed per quantile over
    /// `hours` in its demand units), judged on what production would serve it: the model (for the `served` quantiles,
    /// each other quantile's baseline, `fallbacks`) where it beats the baselines, else the baselines (named
    /// `hourOfWeekProfile`, the profile and any seasonal naive that serves a quantile). A baseline that forecasts it
    /// better at a quantile it does not serve is never served, so it neither vouches for the VM nor keeps the model from it.
    static func verdict(vm: String, losses: [String: [Double]], hours: Double, quantiles: [Float], served: [Float],
                        fallbacks: [Baseline]? = nil, noSkillFloor: Double, minimumHours: Int, slept: Int = 0) -> ModelRun.VMVerdict? {
        let profileName = "\(Baseline.hourOfWeekProfile)"
        let fallbacks = fallbacks ?? quantiles.map { _ in .hourOfWeekProfile }
        let fallbackSums = quantiles.indices.compactMap { losses["\(fallbacks[$0])"]?[$0] }
        guard let modelSums = losses["model"], fallbackSums.count == quantiles.count else { return nil }
        guard hours + Double(slept) >= Double(minimumHours) else {
            return .init(vm: vm, predictable: false, better: "none",
                         reason: "its forecasts cannot be judged on \(Int(hours)) known hours of the validation days (\(minimumHours) needed, known or asleep)")
        }
        let perLoss = max(1, hours) * Double(quantiles.count)   // mean pinball per hour and quantile
        let baselines = fallbackSums.reduce(0, +) / perLoss
        let model = quantiles.indices.map { served.contains(quantiles[$0]) ? modelSums[$0] : fallbackSums[$0] }.reduce(0, +) / perLoss
        let best = !served.isEmpty && model < baselines ? (name: "model", loss: model) : (name: profileName, loss: baselines)
        let reference = (losses[noSkill]?.reduce(0, +)).map { $0 / perLoss } ?? .infinity
        let profileAlone = fallbacks.allSatisfy { $0 == .hourOfWeekProfile }
        if best.loss >= reference && reference >= noSkillFloor {
            return .init(vm: vm, predictable: false, better: best.name,
                         reason: "no skill: no forecast torpor serves beats its overall quantiles (pinball \(String(format: "%.3g", best.loss)) of "
                            + "\(best.name == "model" ? "model" : profileAlone ? profileName : "baselines") ≥ \(String(format: "%.3g", reference)))")
        }
        return .init(vm: vm, predictable: true, better: best.name,
                     reason: best.name == "model" ? "the model forecasts it best"
                        : served.isEmpty ? (profileAlone ? "the profile serves it" : "the baselines serve it") + " (no model promoted)"
                        : (profileAlone ? "the profile forecasts it" : "the baselines forecast it") + " better than the model")
    }

    /// The calendar uplift, fitted on the model's residuals over the training days' hours when events were on.
    func calendarUplift(_ model: Forecaster, trained: [(vm: String, series: HourlySeries, split: Int, scale: Float)],
                        calendar: CalendarHours) -> CalendarUplift {
        var refs: [(vm: String, series: HourlySeries, end: Int, scale: Float)] = []
        for t in trained {
            for end in stride(from: config.lookback + 144, through: t.split - config.horizon, by: 6)
            where (0..<config.horizon).contains(where: { !calendar.categories(vm: t.vm, hour: t.series.time(of: end + $0)).isEmpty }) {
                refs.append((t.vm, t.series, end, t.scale))
            }
        }
        var samples: [(Set<EventRecord.Category>, [Float])] = []
        for start in stride(from: 0, to: refs.count, by: 512) {
            let chunk = refs[start..<min(refs.count, start + 512)]
            let output = model.predict(chunk.flatMap { window($0.series, end: $0.end, scale: $0.scale).input }, batch: chunk.count, steps: config.lookback)
            for (i, r) in chunk.enumerated() {
                let slice = output[i * model.shape.outputs..<i * model.shape.outputs + config.horizon * config.quantiles.count]
                let forecast = config.input.quantiles(slice, series: r.series, end: r.end, scale: r.scale, quantiles: config.quantiles.count)
                for k in 0..<config.horizon {
                    let categories = calendar.categories(vm: r.vm, hour: r.series.time(of: r.end + k))
                    let actual = r.series.values[r.end + k]
                    guard !categories.isEmpty, !actual.isNaN, !forecast[k].contains(where: \.isNaN) else { continue }
                    samples.append((categories, forecast[k].map { (actual - $0) / r.scale }))
                }
            }
        }
        return CalendarUplift.fit(samples, quantiles: config.quantiles)
    }

}

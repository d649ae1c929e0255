import Foundation
import GRDB
import TorporCore
import TorporForecast
import TorporStore

/// Forecasts the demand of VMs for the next hours with the registry's newest **promoted** model, for the VMs it
/// forecasts better than the baselines and at the quantiles it was promoted for. Every other quantile and VM (the model
/// lost on this VM, a VM newer than the model, the hour unknown yesterday and a week before) gets the baseline that forecast that quantile
/// best when the model was promoted (`fallbacks`: the hour-of-week quantile profile of the VM's own history, or the
/// same hour the day or week before); with no model serving, the baselines the newest run chose, else the profile.
public struct DemandForecaster {
    public let quantiles: [Float]
    public let horizon: Int
    /// The model's run, when one is promoted and serves.
    public let run: ModelRun?
    /// Why the promoted model does not serve (trained for an older input set, another target, a shorter horizon or
    /// none of `quantiles`); nil when it serves or none is promoted.
    public let unservedBecause: String?
    private(set) var model: Forecaster?
    let scales: [String: Float]
    let lookback: Int
    let modelInput: ModelInput
    /// For each of `quantiles`, the model's output column (nil where the model has no such quantile).
    let modelColumns: [Int?]
    /// For each of `quantiles`, whether the model serves it (it forecast it better than the best baseline); the
    /// quantile's fallback serves the others.
    let served: [Bool]
    /// For each of `quantiles`, the baseline served where the model does not serve it (the model file's `fallbacks`:
    /// the best at that quantile on its validation days; with no model serving, the newest run's); the profile for a
    /// quantile none was chosen for.
    let fallbacks: [Baseline]
    /// The run that chose `fallbacks` (the model's, or with no model serving the newest run); nil for the profile alone,
    /// or a run not recorded (a candidate the trainer judges, a walk-forward's week).
    let fallbacksChosenBy: Int64?
    /// What calendar events add to the model's forecasts.
    public let uplift: CalendarUplift
    /// The clock of the hour-of-week profile (`WeekClock`: the zone whose office hours the fleet keeps).
    public var clock = WeekClock.utc
    /// The zone of the profile the model was measured against when it was promoted (its run's `week_clock`), if a
    /// model serves: the quantiles it serves were chosen against that profile, so `clock` should be the same.
    public var trainedClockZone: String? { run?.hyperparameters["week_clock"] }

    /// Loads the promoted model (if any) from `store`, and the newest run (whose fallbacks serve when no model does);
    /// with `trainedBefore`, only runs whose training data ended by then (a backtest must not forecast with a model
    /// that saw the future). With `trainedBefore` (the planner's now), a run trained on data ending more than
    /// `maxModelAge` before it is not used.
    public init(store: Store, quantiles: [Float] = QuantileForecast.standardQuantiles, horizon: Int = 24, trainedBefore: EpochSeconds = .max) throws {
        let (promoted, newest) = try store.read { db in
            (try ModelRegistry.promoted(trainedBefore: trainedBefore, in: db), try ModelRegistry.newest(trainedBefore: trainedBefore, in: db))
        }
        try self.init(promoted: promoted, newest: newest, quantiles: quantiles, horizon: horizon, now: trainedBefore == .max ? nil : trainedBefore)
    }

    /// The oldest a promoted model's data may be to be served: trained nightly, a model this old means every run since
    /// failed or lost to the baselines, and the fleet may have changed since it was judged.
    public static let maxModelAge: Int64 = 14 * 86_400

    /// Forecasts with `promoted` (a promoted run and its model file, with the fallbacks it was promoted with), or
    /// when no model serves with the fallbacks `newest` (the newest run, promoted or not) chose, else the profile.
    /// A model trained for other quantiles serves the ones it shares with `quantiles` (after an upgrade adds a
    /// quantile, yesterday's model goes on serving until the nightly run replaces it).
    /// `now`: a run older than `maxModelAge` then is not used (nil: not checked, as a backtest's own models).
    public init(promoted: (run: ModelRun, model: Data)?, newest: ModelRun? = nil, quantiles: [Float] = QuantileForecast.standardQuantiles, horizon: Int = 24,
                now: EpochSeconds? = nil) throws {
        self.quantiles = quantiles
        self.horizon = horizon
        // A model file this torpor cannot read (another version's format, a damaged blob) is not served: the profile
        // forecasts, and the VMs judged on it stay running (`unpredictable`), rather than no plan at all.
        var undecodable: String?
        let decoded = promoted.flatMap { promoted -> (model: Forecaster, metadata: [String: String])? in
            do { return try ModelFile.decode(promoted.model, source: "model #\(promoted.run.id)") } catch {
                undecodable = "model #\(promoted.run.id) unused: its file cannot be read (\(error)); the next promoted model replaces it"
                return nil
            }
        }
        // The fallbacks the serving model was promoted with; with none serving, the newest run's.
        var chosen = (entry: Self.fallbacksEntry(of: newest, now: now), run: newest?.id)
        if let promoted, let file = decoded {
            let input = ModelInput(features: file.metadata["features"] ?? "")
            let served = (file.metadata["served_quantiles"] ?? "").split(separator: ",").compactMap { Float($0) }
            let columns = quantiles.map { q in file.model.shape.quantiles.firstIndex { abs($0 - q) < 1e-6 } }
            let serves = quantiles.indices.map { j in columns[j] != nil && served.contains { abs($0 - quantiles[j]) < 1e-6 } }
            // A model file of another version's input set or target definition is not used (the nightly run replaces it).
            let unserved = input == nil
                ? ModelInput.unknownZone(in: file.metadata["features"] ?? "").map {
                    "its clock's zone \($0) is not one this system's zoneinfo knows; install it, or train on a zone it knows (--zone)"
                } ?? "its input set is not one this version reads (another torpor's); the next promoted model replaces it"
                : file.metadata["target"] != ModelInput.target ? "its target is not one this version reads (another torpor's); the next promoted model replaces it"
                : input.map({ $0.featureCount }) != file.model.shape.inputSize || !CalendarUplift(metadata: file.metadata).fits(quantiles: file.model.shape.quantiles.count)
                    ? "its file does not hold together (input size, calendar uplift): damaged; the next promoted model replaces it"
                : !serves.contains(true) ? "it serves none of the quantiles asked for"
                : now.map({ $0 - promoted.run.dataTo > Self.maxModelAge }) == true
                    ? "trained on data up to \(UTC.format(promoted.run.dataTo)), more than \(DurationText.format(Self.maxModelAge)) old, and no model promoted since (torpor-train list says why)"
                : nil
            let usable = unserved == nil
            unservedBecause = unserved.map { "model #\(promoted.run.id) unused: \($0)" }
            modelColumns = usable ? columns : quantiles.map { _ in nil }
            self.served = usable ? serves : quantiles.map { _ in false }
            if usable { chosen = (file.metadata["fallbacks"], promoted.run.id) }
            run = usable ? promoted.run : nil
            modelInput = input ?? ModelInput(usesContext: false)
            model = usable ? file.model : nil
            var scales: [String: Float] = [:]
            let modelWins = Set(promoted.run.vms.filter { $0.better == "model" }.map(\.vm))
            for (key, value) in file.metadata where key.hasPrefix("scale.") {
                let vm = String(key.dropFirst("scale.".count))
                if modelWins.contains(vm), let scale = Float(value), scale.isFinite, scale > 0 { scales[vm] = scale }   // else the baselines serve it
            }
            self.scales = scales
            lookback = Int(file.metadata["lookback"] ?? promoted.run.hyperparameters["lookback"] ?? "") ?? 168
            uplift = CalendarUplift(metadata: file.metadata)
        } else {
            run = nil; unservedBecause = undecodable; model = nil; scales = [:]; lookback = 168; uplift = CalendarUplift()
            modelInput = ModelInput(usesContext: false)
            modelColumns = quantiles.map { _ in nil }; served = quantiles.map { _ in false }
        }
        fallbacks = Self.fallbacks(chosen.entry, quantiles: quantiles)
        fallbacksChosenBy = chosen.run.flatMap { $0 > 0 ? $0 : nil }   // 0: a run not recorded
    }

    /// The fallbacks a run chose (its `fallbacks`), unless it is older than `maxModelAge` at `now`.
    static func fallbacksEntry(of run: ModelRun?, now: EpochSeconds?) -> String? {
        guard let run, now.map({ $0 - run.dataTo <= Self.maxModelAge }) ?? true else { return nil }
        return run.hyperparameters["fallbacks"]
    }

    /// For each of `quantiles`, its baseline in a recorded `fallbacks` entry (`quantile:baseline`, comma-separated); the
    /// profile for a quantile it does not name, or names a baseline this version does not serve.
    static func fallbacks(_ text: String?, quantiles: [Float]) -> [Baseline] {
        let chosen = (text ?? "").split(separator: ",").compactMap { entry -> (quantile: Float, baseline: Baseline)? in
            let parts = entry.split(separator: ":")
            guard parts.count == 2, let q = Float(parts[0]), let b = Baseline(name: String(parts[1])), Baseline.servable.contains(b) else { return nil }
            return (q, b)
        }
        return quantiles.map { q in chosen.first { abs($0.quantile - q) < 1e-6 }?.baseline ?? .hourOfWeekProfile }
    }

    /// The model file entry of `fallbacks` (one baseline per quantile of `quantiles`).
    static func fallbacksEntry(quantiles: [Float], _ fallbacks: [Baseline]) -> String {
        zip(quantiles, fallbacks).map { "\($0):\($1)" }.joined(separator: ",")
    }

    /// The VMs whose forecast has no skill, and why: those the newest training run (`newest`, promoted or not) found
    /// without skill or without recent data, those the run whose model serves them found so, and those the newest run
    /// judged on its model where that model does not serve them now (unusable: the profile, never judged, serves them).
    /// Either run's doubt keeps a VM running; but a newest run that lost to the serving model judged skill on the
    /// profile, and its doubt of skill does not count for the VMs the serving model forecasts (its doubt of data does).
    public func unpredictable(newest: ModelRun?) -> [String: String] {
        var result: [String: String] = [:]
        for v in run?.vms ?? [] where !v.predictable && servesModel(v.vm) { result[v.vm] = v.reason }
        // A newest run that lost to this model judged its VMs' skill on the profile: no doubt of the model that serves.
        let lostToThis = run.map { newest?.hyperparameters["lost_to_serving"] == "\($0.id)" } ?? false
        for v in newest?.vms ?? [] {
            if lostToThis && v.better != "none" && servesModel(v.vm) { continue }
            if !v.predictable {
                result[v.vm] = v.reason
            } else if v.better == "model", !servesModel(v.vm), let newest {
                result[v.vm] = "judged on model #\(newest.id), which does not serve it now" + (unservedBecause.map { " (\($0))" } ?? "")
            }
        }
        return result
    }

    /// Whether the model forecasts `vm` (the profile serves every other VM, and the quantiles the model does not).
    func servesModel(_ vm: String) -> Bool { model != nil && scales[vm] != nil }

    /// The same forecaster with its own copy of the model, for use on another thread.
    public func copy() -> DemandForecaster {
        var twin = self
        twin.model = model?.copy()
        return twin
    }

    /// Whether `forecast` reads the histories' context (memory, network, disk): load it only then.
    public var needsContext: Bool { model != nil && modelInput.usesContext }

    /// How much history `forecast` wants before the first forecast hour.
    public var historyHours: Int { Self.historyHours(lookback: lookback) }

    /// How much history a forecaster of `lookback` hours reads before the first forecast hour: four weeks for the
    /// profile, or the lookback and the six days of lags before it.
    public static func historyHours(lookback: Int) -> Int { max(28 * 24, lookback + 144) }

    /// Forecasts each VM's next `horizon` hours from its history, which must end at the first forecast hour; the model's
    /// forecasts rise (or fall) by the calendar uplift at the hours `calendar` has events on.
    public func forecast(_ histories: [(vm: String, series: HourlySeries)], calendar: CalendarHours = CalendarHours()) -> [String: QuantileForecast] {
        var result: [String: QuantileForecast] = [:]
        var modelled: [(vm: String, series: HourlySeries, scale: Float)] = []
        for (vm, series) in histories {
            result[vm] = fallback(series)
            if let scale = scales[vm], series.values.count >= lookback + 144 { modelled.append((vm, series, scale)) }
        }
        guard let model, let run, !modelled.isEmpty else { return result }
        // A horizon longer than the model's: the model's hours, the fallback's after them.
        let modelHours = min(horizon, model.shape.horizon)
        let input = modelled.flatMap { modelInput.window($0.series, end: $0.series.values.count, scale: $0.scale, lookback: lookback, horizon: modelHours).input }
        let output = model.predict(input, batch: modelled.count, steps: lookback)
        let perVM = model.shape.outputs
        for (i, m) in modelled.enumerated() {
            let modelQuantiles = model.shape.quantiles
            let slice = output[i * perVM..<i * perVM + modelHours * modelQuantiles.count]
            let fromModel = modelInput.quantiles(slice, series: m.series, end: m.series.values.count, scale: m.scale, quantiles: modelQuantiles.count)
            guard var merged = result[m.vm] else { continue }
            var used = 0
            for k in 0..<modelHours where fromModel[k].allSatisfy(\.isFinite) {
                let hour = merged.start + Int64(k) * 3600
                let model = uplift.apply(fromModel[k], categories: calendar.categories(vm: m.vm, hour: hour), scale: m.scale).sorted()
                merged.values[k] = merge(model: model, profile: merged.values[k])
                used += 1
            }
            if used > 0 {
                let partial = served.contains(false)
                    ? " for " + quantiles.indices.filter { served[$0] }.map { "q\(quantiles[$0])" }.joined(separator: ", ") + ", " + fallbackText(open: quantiles.indices.filter { !served[$0] }) : ""
                merged.source = "model #\(run.id)" + partial + (used == horizon ? "" : " (\(horizon - used) h from the baselines)")
            }
            result[m.vm] = merged
        }
        return result
    }

    /// One hour's quantiles from the model's outputs (`model`, in its own quantiles' order) and the fallback's
    /// (`profile`): the model's where it serves them, and where the fallback has none; the fallback's elsewhere, kept
    /// between the model's served values on either side so that quantiles never cross (the promoted model's stand).
    func merge(model: [Float], profile: [Float]) -> [Float] {
        var values = quantiles.indices.map { j -> Float in
            if served[j] || profile[j].isNaN { return modelColumns[j].map { model[$0] } ?? profile[j] }
            return profile[j]
        }
        values.holdBetween(served)
        return values
    }

    /// The fallback forecast of the series' history (`Baseline.servedFallback`): each quantile's baseline, the
    /// hour-of-week quantile profile moved by the VM's recent level where it has left the profile by a point or more
    /// (`Baseline.recentLevelShift`, never below zero: a VM whose load changed is forecast at its new level within a
    /// day, not weeks later), or the same hour the day or week before.
    func fallback(_ series: HourlySeries) -> QuantileForecast {
        let hoursOfWeek = series.hoursOfWeek(clock, beyond: horizon)
        let (values, shift) = Baseline.servedFallback(history: series.values, hoursOfWeek: hoursOfWeek, horizon: horizon, quantiles: quantiles, fallbacks: fallbacks)
        let others = Baseline.serving(fallbacks, quantiles: quantiles, open: Array(quantiles.indices)).others.map { "\($0.baseline.servedName) for \($0.quantiles)" }
        let source = "hour-of-week profile" + (clock == .utc ? "" : " (\(clock.zone))") + (shift.map { String(format: ", level %+.1f", $0) } ?? "")
            + (others.isEmpty ? "" : "; " + others.joined(separator: "; "))
        return QuantileForecast(start: series.start + Int64(series.values.count) * series.step, quantiles: quantiles, values: values, source: source)
    }

    /// What forecasts where no model does: "hour-of-week profile", or the baselines a run chose ("baselines of run #3:
    /// the same hour the day before for q0.5, the profile for the others").
    public var baselinesName: String {
        guard fallbacks.contains(where: { $0 != .hourOfWeekProfile }) else { return "hour-of-week profile" }
        return "baselines" + (fallbacksChosenBy.map { " of run #\($0)" } ?? "") + ": " + fallbackText(open: Array(quantiles.indices))
    }

    /// What serves the quantiles `open` (indices of `quantiles`) the model does not: "the same hour the day before for
    /// q0.5, the profile for the others".
    func fallbackText(open: [Int]) -> String {
        let serving = Baseline.serving(fallbacks, quantiles: quantiles, open: open)
        return (serving.others.map { "\($0.baseline.servedName) for \($0.quantiles)" } + (serving.profile ? ["the profile for the others"] : [])).joined(separator: ", ")
    }
}

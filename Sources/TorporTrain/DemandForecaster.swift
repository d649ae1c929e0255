import Foundation
import GRDB
import TorporCore
import TorporForecast
import TorporStore

/// Quantile forecasts of one VM's hourly demand from `start` on.
public struct QuantileForecast: Equatable, Sendable {
    /// The start of the first forecast hour (the hour that holds the planning time).
    public var start: EpochSeconds
    public var quantiles: [Float]
    /// Per hour, per quantile (ascending); NaN where nothing can be said (never read as idle).
    public var values: [[Float]]
    /// What made it: `model #N`, or the baseline that stands in.
    public var source: String

    public init(start: EpochSeconds, quantiles: [Float], values: [[Float]], source: String) {
        self.start = start; self.quantiles = quantiles; self.values = values; self.source = source
    }

    /// The forecast of quantile `q` per hour (nil when `q` is not one of the forecast's quantiles).
    public func series(quantile q: Float) -> [Float]? {
        quantiles.firstIndex { abs($0 - q) < 1e-6 }.map { j in values.map { $0[j] } }
    }
}

/// Forecasts the demand of VMs for the next hours with the registry's newest **promoted** model, for the VMs it
/// forecasts better than the baselines and at the quantiles it was promoted for; every other VM (no promoted model, the model lost on this VM, a VM newer than
/// the model, the hour unknown all week) gets the hour-of-week quantile profile of its own history.
public struct DemandForecaster {
    public let quantiles: [Float]
    public let horizon: Int
    /// The model's run, when one is promoted.
    public let run: ModelRun?
    let model: Forecaster?
    let scales: [String: Float]
    let lookback: Int
    let modelInput: ModelInput
    /// The indices of the quantiles the model serves (those it forecast better than the best baseline); the
    /// hour-of-week profile serves the others.
    let servedQuantiles: Set<Int>
    /// What calendar events add to the model's forecasts.
    public let uplift: CalendarUplift

    /// Loads the promoted model (if any) from `store`; with `trainedBefore`, only a model whose training data ended by
    /// then (a backtest must not forecast with a model that saw the future).
    public init(store: Store, quantiles: [Float] = [0.5, 0.9, 0.99], horizon: Int = 24, trainedBefore: EpochSeconds = .max) throws {
        try self.init(promoted: try store.read { try ModelRegistry.promoted(trainedBefore: trainedBefore, in: $0) }, quantiles: quantiles, horizon: horizon)
    }

    /// Forecasts with `promoted` (a promoted run and its model file), or with the profile alone when nil.
    public init(promoted: (run: ModelRun, model: Data)?, quantiles: [Float] = [0.5, 0.9, 0.99], horizon: Int = 24) throws {
        self.quantiles = quantiles
        self.horizon = horizon
        if let promoted {
            let file = try ModelFile.decode(promoted.model, source: "model #\(promoted.run.id)")
            let input = ModelInput(features: file.metadata["features"] ?? "")
            // A model file of an older input set or target definition is not used (the nightly run replaces it).
            let served = (file.metadata["served_quantiles"] ?? "").split(separator: ",").compactMap { Float($0) }
            let usable = file.model.shape.quantiles == quantiles && file.model.shape.horizon >= horizon && input != nil
                && file.metadata["target"] == ModelInput.target && !served.isEmpty
            servedQuantiles = usable ? Set(quantiles.indices.filter { j in served.contains { abs($0 - quantiles[j]) < 1e-6 } }) : []
            run = usable ? promoted.run : nil
            modelInput = input ?? ModelInput(usesContext: false)
            model = usable ? file.model : nil
            var scales: [String: Float] = [:]
            let modelWins = Set(promoted.run.vms.filter { $0.better == "model" }.map(\.vm))
            for (key, value) in file.metadata where key.hasPrefix("scale.") {
                let vm = String(key.dropFirst("scale.".count))
                if modelWins.contains(vm), let scale = Float(value) { scales[vm] = scale }
            }
            self.scales = scales
            lookback = Int(file.metadata["lookback"] ?? promoted.run.hyperparameters["lookback"] ?? "") ?? 168
            uplift = CalendarUplift(metadata: file.metadata)
        } else {
            run = nil; model = nil; scales = [:]; lookback = 168; uplift = CalendarUplift(); modelInput = ModelInput(usesContext: false); servedQuantiles = []
        }
    }

    /// Whether `forecast` reads the histories' context (memory, network, disk): load it only then.
    public var needsContext: Bool { model != nil && modelInput.usesContext }

    /// How much history `forecast` wants before the first forecast hour.
    public var historyHours: Int { max(28 * 24, lookback + 144) }

    /// Forecasts each VM's next `horizon` hours from its history, which must end at the first forecast hour; the model's
    /// forecasts rise (or fall) by the calendar uplift at the hours `calendar` has events on.
    public func forecast(_ histories: [(vm: String, series: HourlySeries)], calendar: CalendarHours = CalendarHours()) -> [String: QuantileForecast] {
        var result: [String: QuantileForecast] = [:]
        var modelled: [(vm: String, series: HourlySeries, scale: Float)] = []
        for (vm, series) in histories {
            result[vm] = profile(series)
            if let scale = scales[vm], series.values.count >= lookback + 144 { modelled.append((vm, series, scale)) }
        }
        guard let model, let run, !modelled.isEmpty else { return result }
        let input = modelled.flatMap { modelInput.window($0.series, end: $0.series.values.count, scale: $0.scale, lookback: lookback, horizon: horizon).input }
        let output = model.predict(input, batch: modelled.count, steps: lookback)
        let perVM = model.shape.outputs
        for (i, m) in modelled.enumerated() {
            let slice = output[i * perVM..<i * perVM + horizon * quantiles.count]
            let fromModel = ModelInput.quantiles(slice, series: m.series, end: m.series.values.count, scale: m.scale, quantiles: quantiles.count)
            guard var merged = result[m.vm] else { continue }
            var used = 0
            for k in 0..<horizon where !fromModel[k].contains(where: \.isNaN) {
                let hour = merged.start + Int64(k) * 3600
                let model = uplift.apply(fromModel[k].map { max(0, $0) }, categories: calendar.categories(vm: m.vm, hour: hour), scale: m.scale)
                let profile = merged.values[k]
                // Quantiles the model does not serve come from the profile (the model's where the profile never saw
                // this hour of the week), sorted so that they never cross.
                merged.values[k] = quantiles.indices.map { j in servedQuantiles.contains(j) || profile[j].isNaN ? model[j] : profile[j] }.sorted()
                used += 1
            }
            if used > 0 {
                let partial = servedQuantiles.count < quantiles.count
                    ? " for " + servedQuantiles.sorted().map { "q\(quantiles[$0])" }.joined(separator: ", ") + ", the profile for the others" : ""
                merged.source = "model #\(run.id)" + partial + (used == horizon ? "" : " (\(horizon - used) h from the hour-of-week profile)")
            }
            result[m.vm] = merged
        }
        return result
    }

    /// The hour-of-week quantile profile of the series' history, moved by the VM's recent level where it has left the
    /// profile by a point or more (`Baseline.recentLevelShift`, never below zero): a VM whose load changed is forecast
    /// at its new level within a day, not weeks later.
    func profile(_ series: HourlySeries) -> QuantileForecast {
        let firstHourOfWeek = Int(((series.start / 3600) + 72) % 168)   // hours since Monday 00:00 (1970-01-01 was a Thursday)
        var values = Baseline.hourOfWeekQuantiles(history: series.values, firstHourOfWeek: firstHourOfWeek, horizon: horizon, quantiles: quantiles)
        var source = "hour-of-week profile"
        if let shift = Baseline.recentLevelShift(history: series.values, firstHourOfWeek: firstHourOfWeek), abs(shift) >= 1 {
            values = values.map { $0.map { $0.isNaN ? $0 : max(0, $0 + shift) } }
            source += String(format: ", level %+.1f", shift)
        }
        return QuantileForecast(start: series.start + Int64(series.values.count) * series.step, quantiles: quantiles, values: values, source: source)
    }
}

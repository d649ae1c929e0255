import TorporCore

/// Forecasts that a model must beat, each made from the history before a forecast's first step.
/// All skip missing values: a baseline never reads a gap as zero.
public enum Baseline: Equatable, Sendable, CaseIterable {
    /// The same hour yesterday (for steps ahead beyond a day: the latest day before the forecast); where that hour is
    /// missing (a gap, a sleep), the same hour of the same weekday in an earlier week, never another weekday's.
    case seasonalNaiveDay
    /// The same hour last week.
    case seasonalNaiveWeek
    /// The median of the history at the same hour of the week (as a point forecast; the trainer evaluates the profile
    /// with its quantiles, `hourOfWeekQuantiles`; the planner falls back to those moved by `recentLevelShift`).
    case hourOfWeekProfile
    /// The mean of the history.
    case mean

    /// Forecasts `horizon` steps after `history` (hourly steps; `hoursOfWeek`: the hour of the week of each step of
    /// the history and the horizon, `WeekClock`; seasonal naive reads days on that clock, UTC's without it). NaN where
    /// the baseline has nothing to go on.
    public func forecast(history: [Float], hoursOfWeek: [Int], horizon: Int) -> [Float] {
        let n = history.count
        switch self {
        case .seasonalNaiveDay, .seasonalNaiveWeek:
            // Days back on the fleet's clock: the same local hour across a daylight-saving change.
            let period = self == .seasonalNaiveDay ? 1 : 7, steps = LocalHourSteps(hoursOfWeek: hoursOfWeek)
            // A missing hour read from the same weekday only: a Monday morning the VM slept (or the collector missed)
            // through, read from the weekend before it, would keep the VM asleep through every Monday morning after.
            return (0..<horizon).map { k in
                steps.seasonalNaiveStep(n + k, before: n, period: period) { !history[$0].isNaN }.map { history[$0] } ?? .nan
            }
        case .hourOfWeekProfile:
            var byHour = [[Float]](repeating: [], count: 168)
            for (i, v) in history.enumerated() where !v.isNaN { byHour[hoursOfWeek[i]].append(v) }
            return (0..<horizon).map { k in
                let values = byHour[hoursOfWeek[n + k]].sorted()
                return values.isEmpty ? .nan : values[values.count / 2]
            }
        case .mean:
            let known = history.filter { !$0.isNaN }
            let m = known.isEmpty ? Float.nan : known.reduce(0, +) / Float(known.count)
            return [Float](repeating: m, count: horizon)
        }
    }
}

/// Forecast quality on known actuals only (pairs where the actual or the forecast is NaN are skipped).
public enum Evaluation {
    /// The pinball (quantile) loss of a forecast of quantile `q`.
    public static func pinball(forecast: [Float], actual: [Float], quantile q: Float) -> Double {
        mean(zip(forecast, actual).map { f, a in pinball(actual: a, forecast: f, quantile: q) }, forecast, actual)
    }

    /// The pinball loss of one forecast of quantile `q`.
    public static func pinball(actual: Float, forecast: Float, quantile q: Float) -> Double {
        let u = Double(actual - forecast)
        return u >= 0 ? Double(q) * u : Double(q - 1) * u
    }

    /// The share of actuals at or under the forecast (a q90 forecast should cover about 90 %).
    public static func coverage(forecast: [Float], actual: [Float]) -> Double {
        mean(zip(forecast, actual).map { f, a in a <= f ? 1 : 0 }, forecast, actual)
    }

    /// Mean absolute error scaled by the in-sample mean absolute error of seasonal naive (`period` steps) on `history`:
    /// below 1 beats seasonal naive.
    public static func mase(forecast: [Float], actual: [Float], history: [Float], period: Int = 24) -> Double {
        let naiveErrors = (period..<history.count).compactMap { i -> Double? in
            history[i].isNaN || history[i - period].isNaN ? nil : Double(abs(history[i] - history[i - period]))
        }
        guard !naiveErrors.isEmpty else { return .nan }
        let scale = naiveErrors.reduce(0, +) / Double(naiveErrors.count)
        return mean(zip(forecast, actual).map { f, a in Double(abs(a - f)) }, forecast, actual) / scale
    }

    private static func mean(_ terms: [Double], _ forecast: [Float], _ actual: [Float]) -> Double {
        let kept = zip(terms, zip(forecast, actual)).filter { !$0.1.0.isNaN && !$0.1.1.isNaN }.map(\.0)
        return kept.isEmpty ? .nan : kept.reduce(0, +) / Double(kept.count)
    }
}

extension Baseline {
    /// The per-VM hour-of-week profile as quantiles: for each step ahead, the empirical quantiles of the history's
    /// known values at the same hour of the week (linear interpolation); NaN for an hour the history never saw.
    /// `hoursOfWeek`: the hour of the week of each step of the history and the horizon (`WeekClock`).
    public static func hourOfWeekQuantiles(history: some Collection<Float>, hoursOfWeek: [Int], horizon: Int, quantiles: [Float]) -> [[Float]] {
        var byHour = [[Float]](repeating: [], count: 168)
        for (i, v) in history.enumerated() where !v.isNaN { byHour[hoursOfWeek[i]].append(v) }
        for h in byHour.indices { byHour[h].sort() }
        return (0..<horizon).map { k in
            let values = byHour[hoursOfWeek[history.count + k]]
            return quantiles.map { empiricalQuantile(sorted: values, $0) }
        }
    }

    /// How far the series' recent level sits from its hour-of-week profile: the median, over the last `hours` known hours
    /// of the last week, of each value less the profile's median at its hour of the week, the profile made from the
    /// history before that week. nil with less than a week of history before it, or fewer than `hours` / 4 known hours
    /// in it (a VM asleep or absent says nothing about its level: missing is not idle). A few hours suffice: a VM that
    /// slept most of the week was awake mostly when its forecast restored it, and how it ran then is its level (on the
    /// Bitbrains walk-forward, requiring 12 left such VMs restored for weeks for demand they no longer had).
    public static func recentLevelShift(history: [Float], hoursOfWeek: [Int], hours: Int = 24) -> Float? {
        let weekStart = history.count - 168
        guard weekStart >= 168 else { return nil }
        let reference = hourOfWeekQuantiles(history: history[..<weekStart], hoursOfWeek: hoursOfWeek, horizon: 168, quantiles: [0.5])
        var residuals: [Float] = []
        var i = history.count - 1
        while i >= weekStart && residuals.count < hours {
            let value = history[i], typical = reference[i - weekStart][0]
            if !value.isNaN && !typical.isNaN { residuals.append(value - typical) }
            i -= 1
        }
        guard residuals.count >= hours / 4 else { return nil }
        return residuals.sorted()[residuals.count / 2]
    }

    /// The forecast production falls back to where the model has none (`DemandForecaster.profile`): the hour-of-week
    /// quantile profile moved by the recent level (`recentLevelShift`) where that has left the profile by a point or more,
    /// never below zero; and the shift applied. What the trainer holds the model to, so that it is promoted only for
    /// beating the forecast it would replace.
    public static func servedProfile(history: [Float], hoursOfWeek: [Int], horizon: Int, quantiles: [Float]) -> (values: [[Float]], shift: Float?) {
        let values = hourOfWeekQuantiles(history: history, hoursOfWeek: hoursOfWeek, horizon: horizon, quantiles: quantiles)
        guard let shift = recentLevelShift(history: history, hoursOfWeek: hoursOfWeek), abs(shift) >= 1 else { return (values, nil) }
        return (values.map { $0.map { $0.isNaN ? $0 : max(0, $0 + shift) } }, shift)
    }

    /// The baselines production serves where the model does not (a quantile it was not promoted for, a VM it does not
    /// forecast), each quantile the one that forecast it best on the validation days: the hour-of-week profile (as
    /// `servedProfile` makes it) or seasonal naive, a point forecast standing for that quantile.
    public static let servable: [Baseline] = [.hourOfWeekProfile, .seasonalNaiveDay, .seasonalNaiveWeek]

    /// The baseline of that name (`"\(baseline)"`), if there is one.
    public init?(name: String) {
        guard let named = Baseline.allCases.first(where: { "\($0)" == name }) else { return nil }
        self = named
    }

    /// How a served forecast names the baseline.
    public var servedName: String {
        switch self {
        case .seasonalNaiveDay: "the same hour the day before"
        case .seasonalNaiveWeek: "the same hour the week before"
        case .hourOfWeekProfile: "the profile"
        case .mean: "the mean"
        }
    }

    /// Who serves the quantiles `open` (indices of `quantiles`) of `fallbacks`: each baseline but the profile that serves
    /// some of them, with those quantiles ("q0.5, q0.9"), and whether the profile serves any; for the texts that say so.
    static func serving(_ fallbacks: [Baseline], quantiles: [Float], open: [Int]) -> (others: [(baseline: Baseline, quantiles: String)], profile: Bool) {
        let others = servable.filter { $0 != .hourOfWeekProfile }.compactMap { b -> (baseline: Baseline, quantiles: String)? in
            let qs = open.filter { fallbacks[$0] == b }
            return qs.isEmpty ? nil : (b, qs.map { "q\(quantiles[$0])" }.joined(separator: ", "))
        }
        return (others, open.contains { fallbacks[$0] == .hourOfWeekProfile })
    }

    /// The forecast served where the model has none: for each of `quantiles`, the one of its baseline (`fallbacks`,
    /// `servable`): seasonal naive's point forecast at the quantiles it serves, kept as it is (two that would cross
    /// swap), and the profile's quantiles as `servedProfile` makes them held between those (so that quantiles never
    /// cross); and the profile's level shift. Seasonal naive serves only an hour the profile knows and it has a value for
    /// (an hour of the week the profile never saw stays missing: another day's value is no reading of it).
    public static func servedFallback(history: [Float], hoursOfWeek: [Int], horizon: Int, quantiles: [Float], fallbacks: [Baseline]) -> (values: [[Float]], shift: Float?) {
        var (values, shift) = servedProfile(history: history, hoursOfWeek: hoursOfWeek, horizon: horizon, quantiles: quantiles)
        let kept = quantiles.indices.map { fallbacks[$0] != .hourOfWeekProfile }
        let naiveQuantiles = quantiles.indices.filter { kept[$0] }
        guard !naiveQuantiles.isEmpty else { return (values, shift) }
        var points: [Baseline: [Float]] = [:]
        for j in naiveQuantiles where points[fallbacks[j]] == nil {
            points[fallbacks[j]] = fallbacks[j].forecast(history: history, hoursOfWeek: hoursOfWeek, horizon: horizon)
        }
        for k in 0..<horizon where !values[k].contains(where: \.isNaN) {
            let naive = naiveQuantiles.map { points[fallbacks[$0]]![k] }
            guard !naive.contains(where: \.isNaN) else { continue }
            for (j, value) in zip(naiveQuantiles, naive.sorted()) { values[k][j] = value }
            values[k].holdBetween(kept)
        }
        return (values, shift)
    }

    /// The empirical quantiles of all the history's known values, whatever the hour: the forecast without skill that
    /// a forecast must beat to say anything about *when* demand comes.
    public static func overallQuantiles(history: [Float], quantiles: [Float]) -> [Float] {
        let values = history.filter { !$0.isNaN }.sorted()
        return quantiles.map { empiricalQuantile(sorted: values, $0) }
    }

    /// Quantile `q` of sorted values with linear interpolation; NaN when there are none.
    static func empiricalQuantile(sorted values: [Float], _ q: Float) -> Float {
        guard !values.isEmpty else { return .nan }
        let position = q * Float(values.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(values.count - 1, lo + 1)
        return values[lo] + (values[hi] - values[lo]) * (position - Float(lo))
    }
}

extension Array where Element == Float {
    /// Holds each known value not `kept` between the nearest kept values below and above it, which stay as they are:
    /// quantiles that never cross, whichever forecast each came from.
    mutating func holdBetween(_ kept: [Bool]) {
        for j in indices where !kept[j] && !self[j].isNaN {
            if let below = indices[..<j].last(where: { kept[$0] }) { self[j] = Swift.max(self[j], self[below]) }
            if let above = indices[(j + 1)...].first(where: { kept[$0] }) { self[j] = Swift.min(self[j], self[above]) }
        }
    }
}

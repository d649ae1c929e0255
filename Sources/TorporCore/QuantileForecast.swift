import Foundation

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

    /// The quantiles torpor forecasts: 0.1 and 0.25 for VMs whose owners take the most risk (the hour-of-week profile
    /// serves them: the model is trained for TorporTrain's `TrainingConfig.quantiles`), 0.5, 0.9 and 0.99 for the usual
    /// bronze, silver and gold tiers. A tier may choose any quantile from the lowest to the highest (`series`).
    public static let standardQuantiles: [Float] = [0.1, 0.25, 0.5, 0.9, 0.99]

    /// The forecast of quantile `q` per hour: one of the forecast's quantiles, or linearly interpolated between the two
    /// around it (they are ascending each hour; NaN stays NaN); nil when `q` is outside them.
    public func series(quantile q: Float) -> [Float]? {
        if let j = quantiles.firstIndex(where: { abs($0 - q) < 1e-6 }) { return values.map { $0[j] } }
        guard let upper = quantiles.firstIndex(where: { $0 > q }), upper > 0 else { return nil }
        let lower = upper - 1, weight = (q - quantiles[lower]) / (quantiles[upper] - quantiles[lower])
        return values.map { $0[lower] + weight * ($0[upper] - $0[lower]) }
    }

    /// This forecast with quantile `q` among its own (interpolated by `series` when it is not one), so that a record of it
    /// shows the quantile a tier decides by; nil when `q` is outside its quantiles.
    public func including(quantile q: Float) -> QuantileForecast? {
        guard !quantiles.contains(where: { abs($0 - q) < 1e-6 }) else { return self }
        guard let series = series(quantile: q), let j = quantiles.firstIndex(where: { $0 > q }) else { return nil }
        var with = self
        with.quantiles.insert(q, at: j)
        for h in values.indices { with.values[h].insert(series[h], at: j) }
        with.source += ", q\(q) interpolated"
        return with
    }
}

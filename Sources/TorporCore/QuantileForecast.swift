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

    /// The quantiles torpor forecasts and a policy's tiers choose from: 0.1 and 0.25 for VMs whose owners take the most
    /// risk (the hour-of-week profile serves them: the model is trained for TorporTrain's `TrainingConfig.quantiles`), 0.5, 0.9 and
    /// 0.99 for the usual bronze, silver and gold tiers.
    public static let standardQuantiles: [Float] = [0.1, 0.25, 0.5, 0.9, 0.99]

    /// The forecast of quantile `q` per hour (nil when `q` is not one of the forecast's quantiles).
    public func series(quantile q: Float) -> [Float]? {
        quantiles.firstIndex { abs($0 - q) < 1e-6 }.map { j in values.map { $0[j] } }
    }
}

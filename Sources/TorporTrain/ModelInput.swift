import Foundation
import TorporCore

/// What the forecaster reads and predicts, shared by training and forecasting so the two never drift apart.
/// Inputs per hour: demand / scale, the same hour six days earlier / scale (days on the fleet's clock, as every look back
/// here: `LocalHourSteps`), optionally the VM's memory, network and disk
/// use (`HourlySeries.context`), each followed by a present flag (a missing value reads 0 with its flag 0, so the model
/// can tell a sleep or a gap from measured idleness), then hour-of-day and day-of-week encodings on the fleet's clock
/// (`WeekClock`: local office hours keep their features across a daylight-saving change).
/// Outputs per future hour and quantile: the change from the same hour the day before (or, where that is missing, the
/// same hour a week before), divided by the VM's scale (a seasonal skip connection).
public struct ModelInput: Equatable, Sendable {
    /// Whether memory, network and disk use are inputs.
    public let usesContext: Bool
    /// The clock of the hour-of-day and day-of-week features.
    public let clock: WeekClock

    public init(usesContext: Bool, clock: WeekClock = .utc) { self.usesContext = usesContext; self.clock = clock }

    /// The input set a model file records in its `features`; nil for one this version cannot build (or a zone this
    /// system does not know).
    public init?(features: String) {
        let (inputs, zone) = Self.split(features)
        guard let clock = zone.map(WeekClock.init(zone:)) ?? .utc,
              let match = [true, false].first(where: { ModelInput(usesContext: $0).features == inputs }) else { return nil }
        usesContext = match
        self.clock = clock
    }

    /// How `features` names a clock other than UTC's (after the last feature).
    static let clockMark = ";clock="

    /// `features` without its clock, and the clock's zone when it names one.
    static func split(_ features: String) -> (inputs: String, zone: String?) {
        guard let mark = features.range(of: clockMark) else { return (features, nil) }
        return (String(features[..<mark.lowerBound]), String(features[mark.upperBound...]))
    }

    /// The zone `features` names that this system's zoneinfo does not know, if it names one.
    public static func unknownZone(in features: String) -> String? {
        split(features).zone.flatMap { WeekClock(zone: $0) == nil ? $0 : nil }
    }

    /// The features, in order, as recorded in the model file, with the clock when it is not UTC.
    public var features: String {
        (["demand", "same_hour_6d_ago"] + (usesContext ? HourlySeries.contextNames : [])).map { "\($0),\($0)_present," }.joined()
            + "hour_sin,hour_cos,dow_sin,dow_cos" + (clock == .utc ? "" : Self.clockMark + clock.zone)
    }
    public var featureCount: Int { 2 * (usesContext ? 2 + HourlySeries.contextNames.count : 2) + 4 }
    public static let target = "change from the same hour yesterday, else a week before / scale"

    public struct Window { public var input: [Float]; public var target: [Float]; public var mask: [Float] }

    /// The window of `lookback` hours before index `end` of `s`, with the targets of the `horizon` hours from `end`
    /// (masked where the actual or what it is a change from, `base`, is missing, or beyond the series).
    public func window(_ s: HourlySeries, end: Int, scale: Float, lookback: Int, horizon: Int) -> Window {
        var input: [Float] = []
        input.reserveCapacity(lookback * featureCount)
        let steps = localSteps(s, from: end - lookback, to: end + horizon)
        for h in end - lookback..<end {
            let earlier = steps.sameHour(h, daysBefore: 6)
            let v = h >= 0 ? s.values[h] : .nan, week = earlier >= 0 ? s.values[earlier] : .nan
            let hourOfWeek = steps.hourOfWeek(h)!
            let hour = Float(hourOfWeek % 24), day = Float(hourOfWeek / 24)   // Monday 0
            Self.append(v / scale, to: &input)
            Self.append(week / scale, to: &input)
            for c in usesContext ? s.context : [] {
                Self.append(h >= 0 && h < c.count ? c[h] : .nan, to: &input)
            }
            input += [sin(2 * .pi * hour / 24), cos(2 * .pi * hour / 24), sin(2 * .pi * day / 7), cos(2 * .pi * day / 7)]
        }
        var target: [Float] = [], mask: [Float] = []
        for t in end..<end + horizon {
            let ok = Self.targetKnown(s.values, t, before: end, steps)
            target.append(ok ? (s.values[t] - Self.base(s.values, t, before: end, steps)) / scale : 0)
            mask.append(ok ? 1 : 0)
        }
        return Window(input: input, target: target, mask: mask)
    }

    /// The steps of `s` from `from` to `to` on this input's clock, and the week before them that the look backs read.
    func localSteps(_ s: HourlySeries, from: Int, to: Int) -> LocalHourSteps {
        LocalHourSteps(clock: clock, start: s.start, steps: from - 169..<to)
    }

    /// Whether the target at step `t` of a forecast from `end` is known: the actual and what it is a change from
    /// (`base`) are measured.
    static func targetKnown(_ values: [Float], _ t: Int, before end: Int, _ steps: LocalHourSteps) -> Bool {
        t < values.count && !values[t].isNaN && !base(values, t, before: end, steps).isNaN
    }

    /// Whether a window ending at `end` has any known target among its `horizon` hours: one without teaches nothing
    /// (its loss and gradient are zero), yet a step on it would still move the weights by the optimiser's momentum.
    public func hasKnownTarget(_ s: HourlySeries, end: Int, horizon: Int) -> Bool {
        let steps = localSteps(s, from: end, to: end + horizon)
        return (end..<end + horizon).contains { Self.targetKnown(s.values, $0, before: end, steps) }
    }

    /// Appends a value and its present flag: `x, 1`, or `0, 0` where it is missing (never read as idle).
    static func append(_ x: Float, to input: inout [Float]) {
        input.append(x.isNaN ? 0 : x)
        input.append(x.isNaN ? 0 : 1)
    }

    /// What the outputs are a change from at step `t`: seasonal naive's value (`LocalHourSteps.seasonalNaiveStep`, on
    /// the fleet's clock), up to a week back. Yesterday's at that hour; where that is missing (a sleep, a gap), the same
    /// weekday's a week before, never another weekday's: a Monday morning after a weekend asleep is not anchored on the
    /// idle Saturday. NaN if neither is known. Only hours before the forecast's first (`end`) are read: on the day the
    /// clocks go forward, the same hour a day before an hour late in the forecast is one of the forecast's own, unknown
    /// when it is made (the day before it is read instead).
    static func base(_ values: [Float], _ t: Int, before end: Int, _ steps: LocalHourSteps) -> Float {
        steps.seasonalNaiveStep(t, before: end, period: 1, maxDays: 7) { $0 < values.count && !values[$0].isNaN }.map { values[$0] } ?? .nan
    }

    /// Turns the model's outputs for a window ending at `end` into demand per future hour and quantile (in the
    /// series' units), sorted so that quantiles never cross. NaN where the same hour is unknown both yesterday and a
    /// week before.
    public func quantiles(_ output: ArraySlice<Float>, series s: HourlySeries, end: Int, scale: Float, quantiles count: Int) -> [[Float]] {
        let horizon = output.count / count, steps = localSteps(s, from: end, to: end + horizon)
        return (0..<horizon).map { k in
            let base = Self.base(s.values, end + k, before: end, steps)
            // Demand is never below zero: a change below the anchor's value is served as none (as the planner reads it,
            // and as validation and the calendar uplift's residuals must judge it). Unknown or diverged stays so (NaN, an
            // infinity: Swift's max would make them 0, idle; the forecaster serves the profile for such an hour).
            return (0..<count).map { j in
                let v = base + output[output.startIndex + k * count + j] * scale
                return v.isFinite ? max(0, v) : v
            }.sorted()
        }
    }

    public func quantiles(_ output: [Float], series s: HourlySeries, end: Int, scale: Float, quantiles count: Int) -> [[Float]] {
        quantiles(output[...], series: s, end: end, scale: scale, quantiles: count)
    }
}

import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporTrain

/// Trade-off curves: each strategy replayed at several settings, so that strategies are compared at equal violations
/// rather than at one setting. Every strategy but office hours sweeps `hibernate_below` and `min_idle` (the policy's
/// defaults); torpor also the decision quantile of every tier and the idle timeout (off and on); office hours sweeps
/// its closing time.
public struct BacktestSweep {
    /// One setting's fleet score for one strategy.
    public struct Point: Codable, Equatable, Sendable {
        public var strategy: String
        public var setting: String
        public var capturedHours: Double
        public var violationShare: Double
        public var missedEpisodeShare: Double
    }

    /// The replay every setting varies (its policy, period and prepared forecasters).
    public let base: Backtest

    public init(_ base: Backtest) { self.base = base }

    public func run(log: (String) -> Void = { _ in }) throws -> [Point] {
        let policy = base.policy
        func replay(_ p: Policy, _ strategies: [Strategy], officeCloses: Int? = nil) throws -> BacktestReport {
            var b = base
            b.policy = p
            if let officeCloses { b.officeCloses = officeCloses }
            return try b.run(strategies)
        }
        var points: [Point] = []
        func add(_ strategy: Strategy, _ setting: String, _ report: BacktestReport) {
            guard let s = report.fleet[strategy.rawValue] else { return }
            points.append(Point(strategy: strategy.rawValue, setting: setting, capturedHours: s.capturedHours,
                                violationShare: s.violationShare, missedEpisodeShare: s.missedEpisodeShare))
        }
        for below in [2.0, 5.0, 10.0] {
            for idle in [2, 4, 8] {
                var p = policy
                p.defaults.hibernateBelow = below
                p.defaults.minIdle = Int64(idle) * 3600
                let setting = "hibernate_below \(below), min_idle \(idle)h"
                for q in QuantileForecast.standardQuantiles {
                    for name in p.tiers.keys { p.tiers[name]!.quantile = q }
                    let report = try replay(p, q == QuantileForecast.standardQuantiles[0] ? [.torpor, .seasonalNaive] : [.torpor])
                    add(.torpor, setting + ", q\(q)" + (p.defaults.idleTimeout == true ? ", idle timeout" : ""), report)
                    add(.seasonalNaive, setting, report)   // its quantiles are all one value: q does not matter
                    var other = p
                    other.defaults.idleTimeout = !(p.defaults.idleTimeout ?? false)
                    add(.torpor, setting + ", q\(q)" + (other.defaults.idleTimeout! ? ", idle timeout" : ""), try replay(other, [.torpor]))
                }
                add(.reactive, setting, try replay(p, [.reactive]))
                log("swept " + setting)
            }
        }
        for closes in [17, 19, 21] {
            add(.officeHours, "asleep from \(closes):00", try replay(policy, [.officeHours], officeCloses: closes))
        }
        return points
    }

    /// For each strategy, the most idle VM-hours captured at or under `violations` (a share of demand intervals).
    public static func capturedAt(violations limit: Double, _ points: [Point]) -> [String: Point] {
        var best: [String: Point] = [:]
        for p in points where p.violationShare <= limit {
            if best[p.strategy].map({ p.capturedHours > $0.capturedHours }) ?? true { best[p.strategy] = p }
        }
        return best
    }
}

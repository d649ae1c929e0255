import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporTrain

/// Trade-off curves: each strategy replayed at several settings, so that strategies are compared at equal violations
/// rather than at one setting. Every strategy but office hours sweeps `hibernate_below` (up to the policy's
/// `restore_above`, its most aggressive value: `hibernateBelows`) and `min_idle` (the policy's defaults) over the same
/// values; the planner's strategies also the idle timeout (off and on), and torpor the decision quantile of every tier
/// (`quantiles`; seasonal naive's quantiles are one value); office hours sweeps its closing time.
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

    /// The decision quantiles torpor is swept over: the forecast's own and q0.75 (interpolated) in the widest step of
    /// their grid, from the median to q0.9.
    public static let quantiles: [Float] = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]

    /// The values of `hibernate_below` swept under a policy that restores above `restoreAbove`: those of 2, 5 and 10
    /// under it, and `restoreAbove` itself (no band between sleeping and waking: the thresholds' most aggressive setting).
    static func hibernateBelows(restoreAbove: Double) -> [Double] {
        [2.0, 5.0, 10.0].filter { $0 < restoreAbove } + [restoreAbove]
    }

    /// `policy` with the defaults' `hibernate_below` at `below`; each of `vms` (name, labels) whose merged settings
    /// then restore above less (a group's or its own lower `restore_above`) hibernates below that instead (the most
    /// aggressive setting it allows): a variant is never one that production would refuse (`Policy.conflicts`).
    static func policy(_ policy: Policy, hibernatingBelow below: Double, vms: [(name: String, labels: [String: String])]) -> Policy {
        var p = policy
        p.defaults.hibernateBelow = below
        for vm in vms {
            let s = p.settings(vm: vm.name, labels: vm.labels)
            guard s.excluded == nil, s.hibernateBelow > s.restoreAbove else { continue }
            p.setHibernateBelow(s.restoreAbove, vm: vm.name)
        }
        return p
    }

    /// One replay of the sweep: a policy, the strategies replayed with it, and the points it gives (each strategy's
    /// fleet score under a setting's name).
    struct Replay {
        var policy: Policy
        var officeCloses: Int?
        var points: [(strategy: Strategy, setting: String)]
        var strategies: [Strategy] { points.map(\.strategy).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
    }

    /// Every replay of the sweep, in the order of its points; `vms` (name, labels): the fleet its policies must hold for.
    func replays(vms: [(name: String, labels: [String: String])]) -> [Replay] {
        let policy = base.policy
        var replays: [Replay] = []
        for below in Self.hibernateBelows(restoreAbove: policy.defaultRestoreAbove) {
            for idle in [2, 4, 8, 24] {
                var p = Self.policy(policy, hibernatingBelow: below, vms: vms)
                p.defaults.minIdle = Int64(idle) * 3600
                let setting = "hibernate_below \(below), min_idle \(idle)h"
                func torpor(_ p: Policy, _ q: Float) -> String { setting + ", q\(q)" + (p.defaults.idleTimeout == true ? ", idle timeout" : "") }
                for q in Self.quantiles {
                    for name in p.tiers.keys { p.tiers[name]!.quantile = q }
                    // Seasonal naive's quantiles are all one value: q does not matter, it is replayed once each way.
                    var other = p
                    other.defaults.idleTimeout = !(p.defaults.idleTimeout ?? false)
                    for policy in [p, other] {
                        let naive = q == Self.quantiles[0] ? [(Strategy.seasonalNaive, torpor(policy, q).replacingOccurrences(of: ", q\(q)", with: ""))] : []
                        replays.append(Replay(policy: policy, points: [(.torpor, torpor(policy, q))] + naive))
                    }
                }
                replays.append(Replay(policy: p, points: [(.reactive, setting)]))
            }
        }
        for closes in [17, 19, 21] {
            replays.append(Replay(policy: policy, officeCloses: closes, points: [(.officeHours, "closing at \(closes):00")]))
        }
        return replays
    }

    /// Runs every replay, `workers` at a time (each worker on its own copy of the forecasters); the points come in the
    /// same order whatever `workers` is.
    public func run(workers: Int = 1, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> [Point] {
        try run(replays(vms: try base.store.read { try VMRepository.all(in: $0) }.map { ($0.name, $0.labels) }), workers: workers, log: log)
    }

    func run(_ replays: [Replay], workers: Int, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> [Point] {
        // Each worker uses only its own backtest (its own forecasters), which nobody else touches while the sweep runs.
        nonisolated(unsafe) let backtests = (0..<max(1, min(workers, replays.count))).map { $0 == 0 ? base : base.withOwnForecasters() }
        let progress = SweepProgress(count: replays.count), officeCloses = base.officeCloses
        let work: @Sendable (Int) -> Void = { worker in
            var b = backtests[worker]
            while let j = progress.next() {
                let replay = replays[j]
                b.policy = replay.policy
                b.officeCloses = replay.officeCloses ?? officeCloses
                let result = Result { () throws -> [Point] in
                    let report = try b.run(replay.strategies)
                    return replay.points.compactMap { strategy, setting in
                        report.fleet[strategy.rawValue].map { s in
                            Point(strategy: strategy.rawValue, setting: setting, capturedHours: s.capturedHours,
                                  violationShare: s.violationShare, missedEpisodeShare: s.missedEpisodeShare)
                        }
                    }
                }
                log("swept \(progress.finish(j, result)) of \(replays.count): " + replay.points.map { "\($0.strategy.rawValue) \($0.setting)" }.joined(separator: "; "))
            }
        }
        if backtests.count == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: backtests.count, execute: work) }
        return try progress.results.flatMap { try $0!.get() }
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

/// The sweep's shared state between workers: the next replay to take and each replay's result.
private final class SweepProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = 0, finished = 0
    private(set) var results: [Result<[BacktestSweep.Point], Error>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    /// The index of the next replay nobody has taken, nil when all are taken.
    func next() -> Int? {
        lock.withLock {
            guard taken < results.count else { return nil }
            defer { taken += 1 }
            return taken
        }
    }

    /// Records replay `j`'s result; returns how many replays have finished.
    func finish(_ j: Int, _ result: Result<[BacktestSweep.Point], Error>) -> Int {
        lock.withLock {
            results[j] = result
            finished += 1
            return finished
        }
    }
}

import GRDB
import TorporCore

/// A plan's call for demand in the hour it was made in, for a VM that ran (`Planner.demandCalls`): its forecast of
/// `quantile` for that hour, which was at or over the VM's `restore_above`.
public struct DemandCall: Equatable, Sendable {
    /// The start of the hour.
    public var hour: EpochSeconds
    public var quantile: Float
    public var forecast: Float

    public init(hour: EpochSeconds, quantile: Float, forecast: Float) {
        self.hour = hour; self.quantile = quantile; self.forecast = forecast
    }

    /// Whether the call claimed at least what a call at `quantile` for demand at or over `threshold` claims: a forecast
    /// at least that high, at that quantile or a lower one (a policy's own calls, not a trial policy's weaker ones).
    public func claims(demandAtLeast threshold: Double, quantile: Float) -> Bool {
        self.quantile <= quantile + 1e-6 && Double(forecast) >= threshold
    }
}

/// The hours a plan's forecast called for demand in while the VM ran: the planner later judges them against measured
/// demand (forecast demand that did not come).
public enum DemandCallRepository {
    /// Records the calls of the plan for the hour starting at `hour` (each call's own `hour`), per VM and quantile (again: once; a
    /// call at the same quantile keeps the highest forecast), and forgets calls more than `keep` seconds older than `hour`.
    public static func record(_ calls: [String: [DemandCall]], hour: EpochSeconds, keep: Int64, in db: Database) throws {
        for (vm, call) in calls.sorted(by: { $0.key < $1.key }).flatMap({ vm, calls in calls.map { (vm, $0) } }) {
            try db.execute(sql: """
                INSERT INTO demand_call (vm, hour, quantile, forecast) VALUES (?, ?, ?, ?)
                ON CONFLICT (vm, hour, quantile) DO UPDATE SET forecast = max(forecast, excluded.forecast)
                """, arguments: [vm, call.hour, Double(call.quantile), Double(call.forecast)])
        }
        try db.execute(sql: "DELETE FROM demand_call WHERE hour < ?", arguments: [hour - keep])
    }

    /// Per VM, the calls for the hours in [from, to), by ascending hour.
    public static func calls(from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [String: [DemandCall]] {
        var result: [String: [DemandCall]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT vm, hour, quantile, forecast FROM demand_call WHERE hour >= ? AND hour < ? ORDER BY vm, hour, quantile",
                                    arguments: [from, to]) {
            result[row["vm"], default: []].append(DemandCall(hour: row["hour"], quantile: Float(row["quantile"] as Double),
                                                             forecast: Float(row["forecast"] as Double)))
        }
        return result
    }
}

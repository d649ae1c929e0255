import GRDB
import TorporCore

/// The hours a plan's forecast called for demand in while the VM ran (`Planner.demandCalls`): the planner later judges
/// them against measured demand (forecast demand that did not come).
public enum DemandCallRepository {
    /// Records that the plan for the hour starting at `hour` called for demand in it for `vms` (again: once), and forgets
    /// calls more than `keep` seconds older than it.
    public static func record(_ vms: [String], hour: EpochSeconds, keep: Int64, in db: Database) throws {
        for vm in vms {
            try db.execute(sql: "INSERT OR IGNORE INTO demand_call (vm, hour) VALUES (?, ?)", arguments: [vm, hour])
        }
        try db.execute(sql: "DELETE FROM demand_call WHERE hour < ?", arguments: [hour - keep])
    }

    /// Per VM, the called hours in [from, to), ascending.
    public static func calls(from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [String: [EpochSeconds]] {
        var result: [String: [EpochSeconds]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT vm, hour FROM demand_call WHERE hour >= ? AND hour < ? ORDER BY vm, hour",
                                    arguments: [from, to]) {
            result[row["vm"], default: []].append(row["hour"])
        }
        return result
    }
}

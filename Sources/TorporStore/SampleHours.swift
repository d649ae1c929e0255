import Foundation
import GRDB
import TorporCore

/// Each VM's samples summed up per hour (`sample_hour`: the highest and the lowest sample of each hour of each metric),
/// so that the planner and the trainer read a VM's month of 5-minute samples as its 720 hours. Whatever changes samples
/// sums their hours up again from the samples, in the same transaction (`SampleWriter.finish`, `SampleRetention`). A VM
/// whose samples were stored before the summary existed (`vm.hours_complete` = 0) is read from its samples until
/// `complete` has summed it up.
public enum SampleHours {
    /// Sums up again, from the samples, the hours of one VM's metric that [from, through] touches: an hour left without
    /// samples leaves the summary.
    public static func refresh(vm: Int64, metric: Int64, from: EpochSeconds, through: EpochSeconds, in db: Database) throws {
        let first = UTC.floor(from), end = UTC.floor(through) + 3600
        try db.cachedStatement(sql: "DELETE FROM sample_hour WHERE vm_id = ? AND metric_id = ? AND hour >= ? AND hour < ?")
            .execute(arguments: [vm, metric, first, end])
        try db.cachedStatement(sql: """
            INSERT INTO sample_hour (vm_id, metric_id, hour, high, low)
            SELECT vm_id, metric_id, time - ((time % 3600) + 3600) % 3600 AS h, max(value), min(value) FROM sample
            WHERE vm_id = ? AND metric_id = ? AND time >= ? AND time < ? GROUP BY h
            """).execute(arguments: [vm, metric, first, end])
    }

    /// Sums up every hour of one VM whose samples were stored before the summary, and marks it complete; a VM already
    /// complete is left alone. Returns whether it summed anything up.
    @discardableResult
    public static func complete(vm: Int64, in db: Database) throws -> Bool {
        guard try Bool.fetchOne(db, sql: "SELECT hours_complete = 0 FROM vm WHERE id = ?", arguments: [vm]) == true else { return false }
        try db.execute(sql: "DELETE FROM sample_hour WHERE vm_id = ?", arguments: [vm])
        try db.execute(sql: """
            INSERT INTO sample_hour (vm_id, metric_id, hour, high, low)
            SELECT vm_id, metric_id, time - ((time % 3600) + 3600) % 3600 AS h, max(value), min(value) FROM sample
            WHERE vm_id = ? GROUP BY metric_id, h
            """, arguments: [vm])
        try db.execute(sql: "UPDATE vm SET hours_complete = 1 WHERE id = ?", arguments: [vm])
        return true
    }

    /// How many VMs' samples from before the summary are not summed up yet.
    public static func pendingVMs(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM vm WHERE hours_complete = 0") ?? 0
    }
}

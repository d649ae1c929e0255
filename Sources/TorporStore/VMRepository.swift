import Foundation
import GRDB
import TorporCore

/// A VM as the store knows it.
public struct VMRecord: Codable, Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var hostURI: String?
    public var labels: [String: String]
    public var vcpus: Int?
    public var memoryBytes: Int64?
}

/// Reads and writes the `vm` table.
public enum VMRepository {
    /// The id of VM `name`, creating the row when it is new.
    public static func id(of name: String, in db: Database, now: EpochSeconds) throws -> Int64 {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM vm WHERE name = ?", arguments: [name]) { return id }
        try db.execute(sql: "INSERT INTO vm (name, created_at) VALUES (?, ?)", arguments: [name, now])
        return db.lastInsertedRowID
    }

    /// Records allocated vCPUs and memory observed at `observedAt`, unless a later observation is already stored.
    public static func setAllocation(vm: Int64, vcpus: Int?, memoryBytes: Int64?, observedAt: EpochSeconds, in db: Database) throws {
        try db.execute(sql: """
            UPDATE vm SET vcpus = coalesce(?, vcpus), memory_bytes = coalesce(?, memory_bytes), allocation_observed_at = ?
            WHERE id = ? AND (allocation_observed_at IS NULL OR allocation_observed_at <= ?)
            """, arguments: [vcpus, memoryBytes, observedAt, vm, observedAt])
    }

    /// Records where a VM runs and its labels (from the hypervisor's inventory).
    public static func setPlacement(vm: Int64, hostURI: String, labels: [String: String], in db: Database) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(labels), as: UTF8.self)
        try db.execute(sql: "UPDATE vm SET host_uri = ?, labels = ? WHERE id = ?", arguments: [hostURI, json, vm])
    }

    /// Records the host a VM runs on, keeping its labels.
    public static func setHost(vm: Int64, hostURI: String, in db: Database) throws {
        try db.execute(sql: "UPDATE vm SET host_uri = ? WHERE id = ?", arguments: [hostURI, vm])
    }

    public static func all(in db: Database) throws -> [VMRecord] {
        try Row.fetchAll(db, sql: "SELECT id, name, host_uri, labels, vcpus, memory_bytes FROM vm ORDER BY name").map { row in
            let labelsJSON: String = row["labels"]
            return VMRecord(id: row["id"], name: row["name"], hostURI: row["host_uri"],
                            labels: (try? JSONDecoder().decode([String: String].self, from: Data(labelsJSON.utf8))) ?? [:],
                            vcpus: row["vcpus"], memoryBytes: row["memory_bytes"])
        }
    }
}

extension JSONEncoder {
    /// Deterministic JSON: sorted keys, so equal content gives equal bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

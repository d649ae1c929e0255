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

/// A VM the inventory found shut off with libvirt's saved image of it: from `since` (the first inventory in a row that
/// did) to `seen` (the latest).
public struct SavedDomain: Equatable, Sendable {
    public var vm: String
    public var host: String
    public var since: EpochSeconds
    public var seen: EpochSeconds

    public init(vm: String, host: String, since: EpochSeconds, seen: EpochSeconds) {
        self.vm = vm; self.host = host; self.since = since; self.seen = seen
    }
}

/// What ingest makes of a libvirt domain found under a VM's name (`VMRepository.claim`).
public enum DomainClaim: Equatable, Sendable {
    /// The VM's domain: its readings are the VM's, and it is where the VM is.
    case holds
    /// The VM's own domain, defined but not running on a host other than the VM's (a migration left it behind):
    /// its readings are not the VM's.
    case idleCopy
    /// Another domain holds the name.
    case clash(NameClash)
}

/// A libvirt domain whose name another host's domain holds in the store.
public struct NameClash: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let host: String
    public let uuid: String
    public let recordedHost: String
    /// nil: recorded before torpor kept UUIDs.
    public let recordedUUID: String?

    public var description: String {
        "\(name) on \(host) (uuid \(uuid)) is not \(name) on \(recordedHost) (\(recordedUUID.map { "uuid " + $0 } ?? "uuid not recorded yet")), "
            + "which holds the name: VM names must be unique across the fleet; its libvirt readings are not stored and torpor "
            + "leaves it alone. Rename the domain on \(host); if \(recordedHost)'s is gone, that host's next collection or "
            + "inventory lets go of the name, or `torpor-ingest release \(name)` if the host is gone for good"
    }
}

/// Reads and writes the `vm` table.
public enum VMRepository {
    /// The id of VM `name`, creating the row when it is new.
    public static func id(of name: String, in db: Database, now: EpochSeconds) throws -> Int64 {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM vm WHERE name = ?", arguments: [name]) { return id }
        try db.execute(sql: "INSERT INTO vm (name, created_at) VALUES (?, ?)", arguments: [name, now])
        return db.lastInsertedRowID
    }

    /// Records allocated vCPUs and memory observed at `observedAt`, each unless a later observation of it is stored.
    public static func setAllocation(vm: Int64, vcpus: Int?, memoryBytes: Int64?, observedAt: EpochSeconds, in db: Database) throws {
        if let vcpus {
            try db.execute(sql: "UPDATE vm SET vcpus = ?1, vcpus_observed_at = ?2 WHERE id = ?3 AND (vcpus_observed_at IS NULL OR vcpus_observed_at <= ?2)",
                           arguments: [vcpus, observedAt, vm])
        }
        if let memoryBytes {
            try db.execute(sql: "UPDATE vm SET memory_bytes = ?1, memory_observed_at = ?2 WHERE id = ?3 AND (memory_observed_at IS NULL OR memory_observed_at <= ?2)",
                           arguments: [memoryBytes, observedAt, vm])
        }
    }

    /// Records where a VM runs and its labels (from the hypervisor's inventory).
    public static func setPlacement(vm: Int64, hostURI: String, labels: [String: String], in db: Database) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(labels), as: UTF8.self)
        try db.execute(sql: "UPDATE vm SET host_uri = ?, labels = ? WHERE id = ?", arguments: [hostURI, json, vm])
    }

    /// Records whether the inventory (or the collector, which sees it running) at `now` found the VM shut off with
    /// libvirt's saved image of it (`SavedDomain`). A replay of a time before the latest sighting changes nothing.
    public static func setSaved(vm: Int64, _ saved: Bool, now: EpochSeconds, in db: Database) throws {
        try db.execute(sql: """
            UPDATE vm SET libvirt_saved_since = CASE WHEN ?1 THEN coalesce(libvirt_saved_since, ?2) END, libvirt_saved_seen = CASE WHEN ?1 THEN ?2 END
            WHERE id = ?3 AND (libvirt_saved_seen IS NULL OR libvirt_saved_seen <= ?2)
            """, arguments: [saved, now, vm])
    }

    /// The VMs on a host that the latest inventory found shut off with libvirt's saved image of them.
    public static func saved(in db: Database) throws -> [SavedDomain] {
        try Row.fetchAll(db, sql: """
            SELECT name, host_uri, libvirt_saved_since, libvirt_saved_seen FROM vm WHERE libvirt_saved_seen IS NOT NULL AND host_uri IS NOT NULL ORDER BY name
            """).map {
            SavedDomain(vm: $0["name"], host: $0["host_uri"], since: $0["libvirt_saved_since"], seen: $0["libvirt_saved_seen"])
        }
    }

    /// A VM whose libvirt domain collections found running on two hosts (`hosts`): from `since` to `seen`, each
    /// collection between finding it so (a gap of more than `runningCopiesGap` starts a new row).
    public struct RunningCopies: Equatable, Sendable {
        public var vm: String
        /// The host the store places it on.
        public var onRecord: String?
        public var hosts: [String]
        public var since: EpochSeconds
        public var seen: EpochSeconds
    }

    /// The longest time between two collections that found a VM on two hosts for them to be one row (two collections
    /// every 5 minutes, one of them missed).
    public static let runningCopiesGap: EpochSeconds = 10 * 60

    /// Records that VM `vm`'s domain runs on each of `hosts` at `now` (a replay of an earlier time changes nothing).
    public static func setRunningCopies(vm: Int64, hosts: [String], now: EpochSeconds, in db: Database) throws {
        try db.execute(sql: """
            UPDATE vm SET copies_hosts = ?1, copies_since = CASE WHEN copies_seen >= ?2 - ?4 THEN copies_since ELSE ?2 END, copies_seen = ?2
            WHERE id = ?3 AND (copies_seen IS NULL OR copies_seen <= ?2)
            """, arguments: [hosts.sorted().joined(separator: "\n"), now, vm, runningCopiesGap])
    }

    /// The VMs last found running on two hosts at a time in [from, to], by name.
    public static func runningCopies(from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [RunningCopies] {
        try Row.fetchAll(db, sql: "SELECT name, host_uri, copies_hosts, copies_since, copies_seen FROM vm WHERE copies_seen BETWEEN ? AND ? ORDER BY name",
                         arguments: [from, to]).map {
            RunningCopies(vm: $0["name"], onRecord: $0["host_uri"], hosts: ($0["copies_hosts"] as String? ?? "").split(separator: "\n").map(String.init),
                          since: $0["copies_since"], seen: $0["copies_seen"])
        }
    }

    /// The VMs found running on two hosts at a time lately (within `runningCopiesGap` of `now`), by name: each stays on
    /// the host on record whichever host finds it running (the collector's and the inventory's rule).
    public static func lately(twoCopiesBy now: EpochSeconds, in db: Database) throws -> Set<String> {
        Set(try runningCopies(from: now - runningCopiesGap, to: now, in: db).map(\.vm))
    }

    /// The host the store places VM `name` on, nil when none (released, never placed, unknown).
    public static func host(of name: String, in db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT host_uri FROM vm WHERE name = ?", arguments: [name])
    }

    /// The host on record of each VM placed on one, by VM id.
    public static func hostsOnRecord(in db: Database) throws -> [Int64: String] {
        Dictionary(try Row.fetchAll(db, sql: "SELECT id, host_uri FROM vm WHERE host_uri IS NOT NULL").map { ($0["id"], $0["host_uri"]) },
                   uniquingKeysWith: { a, _ in a })
    }

    /// Records the host a VM runs on, keeping its labels.
    public static func setHost(vm: Int64, hostURI: String, in db: Database) throws {
        try db.execute(sql: "UPDATE vm SET host_uri = ? WHERE id = ?", arguments: [hostURI, vm])
    }

    /// What ingest makes of libvirt domain `uuid` found on `host` under VM `vm`'s name (recording the UUID when the
    /// domain holds the name). On the host on record, or for a name no host holds, the domain holds it (the first, one
    /// redefined on its host, one that took over a released name: the VM rebuilt, its history goes on). On another host,
    /// the VM's own domain holds it when it runs there (a migration: the caller moves the VM), and is the copy a
    /// migration left behind when it does not; another domain there is a clash (names are the fleet's keys: its samples
    /// would mix with the VM's, and the executor would act on the wrong domain). A VM recorded on a host before UUIDs
    /// were kept is that host's until it lists or lets go of the name.
    static func claim(vm: Int64, uuid: String, host: String, running: Bool, in db: Database) throws -> DomainClaim {
        guard let row = try Row.fetchOne(db, sql: "SELECT name, host_uri, libvirt_uuid FROM vm WHERE id = ?", arguments: [vm]) else { return .holds }
        let recordedUUID: String? = row["libvirt_uuid"], recordedHost: String? = row["host_uri"]
        if let recordedHost, recordedHost != host {
            guard recordedUUID == uuid else {
                return .clash(NameClash(name: row["name"], host: host, uuid: uuid, recordedHost: recordedHost, recordedUUID: recordedUUID))
            }
            return running ? .holds : .idleCopy
        }
        if recordedUUID != uuid { try db.execute(sql: "UPDATE vm SET libvirt_uuid = ? WHERE id = ?", arguments: [uuid, vm]) }
        return .holds
    }

    /// What a host's collection or inventory makes of its listing (every domain it has, with the id of the VM of its
    /// name): `claim` for each domain whose UUID is known (one without is not checked: it holds), then, when every UUID
    /// is known, `releaseNames` of the VMs the host no longer lists. By VM id.
    public static func claimListing(host: String, _ domains: [(vm: Int64, name: String, uuid: String?, running: Bool)],
                                    in db: Database) throws -> [Int64: DomainClaim] {
        var claims: [Int64: DomainClaim] = [:]
        for d in domains {
            claims[d.vm] = try d.uuid.map { try claim(vm: d.vm, uuid: $0, host: host, running: d.running, in: db) } ?? .holds
        }
        if domains.allSatisfy({ $0.uuid != nil }) { try releaseNames(host: host, listed: Set(domains.map(\.name)), in: db) }
        return claims
    }

    /// Lets go of the names of the VMs on record on `host` that it no longer has (every domain it has is `listed`, at
    /// least one: a host that lists none may be one that answered wrongly). Such a VM has no host until a domain of its
    /// name is found again, on any host.
    static func releaseNames(host: String, listed: Set<String>, in db: Database) throws {
        guard !listed.isEmpty else { return }
        let held = try String.fetchAll(db, sql: "SELECT name FROM vm WHERE host_uri = ?", arguments: [host])
        for name in held where !listed.contains(name) { try release(name, in: db) }
    }

    /// What `release` found.
    public enum Release: Equatable, Sendable {
        case released
        /// The VM held no domain or host already (released before, or never placed).
        case alreadyFree
        case unknownVM
    }

    /// Lets go of VM `name`'s domain and host (an operator's `torpor-ingest release`, for a host gone for good), and of
    /// its record of running on two hosts: one of them gone, a hold on its saves until both are collected again would
    /// last a day.
    @discardableResult
    public static func release(_ name: String, in db: Database) throws -> Release {
        try db.execute(sql: """
            UPDATE vm SET libvirt_uuid = NULL, host_uri = NULL, libvirt_saved_since = NULL, libvirt_saved_seen = NULL,
                          copies_hosts = NULL, copies_since = NULL, copies_seen = NULL
            WHERE name = ? AND (libvirt_uuid IS NOT NULL OR host_uri IS NOT NULL OR copies_seen IS NOT NULL)
            """, arguments: [name])
        if db.changesCount > 0 { return .released }
        return try Bool.fetchOne(db, sql: "SELECT 1 FROM vm WHERE name = ?", arguments: [name]) == true ? .alreadyFree : .unknownVM
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

import Foundation
import GRDB
import TorporCore

/// Which host each libvirt URI reached (`libvirt_host`): the identity libvirt gave (host name, host UUID, driver scope)
/// and when a collection or an inventory last reached it under that URI, so that one host read under two URIs by
/// separate runs (a person's inventory under another spelling) is told from two hosts.
public enum HostIdentityRepository {
    /// The URI other than `uri` that last reached the host `identity` within `within` seconds of `now` (either side: a
    /// replay's `--now` may be earlier or later than what the live runs recorded), and when.
    public static func otherURI(reaching identity: String, besides uri: String, now: EpochSeconds, within: Int64, in db: Database) throws -> (uri: String, seen: EpochSeconds)? {
        try Row.fetchOne(db, sql: """
            SELECT host_uri, seen FROM libvirt_host WHERE identity = ? AND host_uri != ? AND abs(seen - ?) < ? ORDER BY seen DESC LIMIT 1
            """, arguments: [identity, uri, now, within]).map { ($0["host_uri"], $0["seen"]) }
    }

    /// Records that `uri` reached the host `identity` at `now` (the last read recorded, whatever its time).
    public static func record(uri: String, identity: String, now: EpochSeconds, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO libvirt_host (host_uri, identity, seen) VALUES (?, ?, ?)
            ON CONFLICT (host_uri) DO UPDATE SET identity = excluded.identity, seen = excluded.seen
            """, arguments: [uri, identity, now])
    }
}

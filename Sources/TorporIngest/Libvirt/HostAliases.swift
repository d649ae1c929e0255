import GRDB
import TorporCore
import TorporStore
import TorporVirt

/// The URIs of one run's `--uri` list that reach one host (libvirt gives the same `HostIdentity` through both). A host
/// listed under two URIs (`qemu:///system` and `qemu+ssh://this-host/system`) would have each of its VMs found running
/// on two hosts, and every hibernation of them held. The host's first URI is collected; each later one is refused, as
/// bad input naming the first.
public struct HostAliases {
    private var firstURI: [HostIdentity: String] = [:]

    public init() {}

    /// Refuses `uri` when an earlier URI reached the host `identity` names; nil (libvirt could not say, as with the
    /// test driver) is never refused.
    public mutating func admit(_ uri: String, _ identity: HostIdentity?) throws(IngestError) {
        guard let identity else { return }
        if let earlier = firstURI[identity] {
            throw .badInput(source: uri, line: nil, message: "the same host as \(earlier) (\(identity)): read once, under \(earlier); "
                            + "list each host once (--uri, TORPOR_LIBVIRT_URI), or give two hosts cloned with one name and SMBIOS UUID "
                            + "a host_uuid each (libvirtd.conf, or virtqemud.conf)")
        }
        firstURI[identity] = uri
    }

    /// How long a URI that reached a host holds it against another URI of a later run: three 5-minute collections.
    /// Longer, a host moved to another URI for good (its collector's URI changed) is collected under the new one.
    public static let heldAcrossRunsFor: Int64 = 15 * 60

    /// Refuses `uri` when another URI reached the host `identity` names within `heldAcrossRunsFor` of `now`, in
    /// another run (a person's inventory under another spelling than the collector's): its running VMs would be taken
    /// for copies on two hosts, their hibernations held and their samples dropped. Else records that `uri` reached it.
    /// nil (libvirt could not say, as with the test driver) is never refused.
    public static func admitAcrossRuns(_ uri: String, _ identity: HostIdentity?, now: EpochSeconds, in db: Database) throws {
        guard let identity else { return }
        if let other = try HostIdentityRepository.otherURI(reaching: identity.description, besides: uri, now: now, within: heldAcrossRunsFor, in: db) {
            throw IngestError.badInput(source: uri, line: nil, message: "the same host as \(other.uri) (\(identity)), which the store read under that URI at "
                                       + "\(UTC.format(other.seen)): read each host under one URI (--uri, TORPOR_LIBVIRT_URI, an inventory by hand); "
                                       + "a host moved to this URI for good is read under it once \(DurationText.format(heldAcrossRunsFor)) have passed "
                                       + "without reading it under the other; two hosts cloned with one name and SMBIOS UUID need a host_uuid each "
                                       + "(libvirtd.conf, or virtqemud.conf)")
        }
        try HostIdentityRepository.record(uri: uri, identity: identity.description, now: now, in: db)
    }
}

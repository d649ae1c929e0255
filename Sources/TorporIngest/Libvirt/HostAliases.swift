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
}

import Foundation
import TorporIngest
import TorporVirt

/// `wake --all` when torpor's store cannot be opened (a disk full, a file damaged): libvirt alone wakes what it holds
/// saved on the given hosts (a managed save: `start` restores its memory), so that an operator can always wake the
/// fleet. Without torpor's records it wakes only what cannot be a second copy: nothing while one of the hosts does not
/// answer (a copy there could not be ruled out), and no domain whose own UUID is on another of the hosts (running,
/// paused, saved there too, or started by this wake). A sleep only the state pool holds is not woken (libvirt holds no
/// image of it; the store knows the copy), nor one whose image libvirt can no longer read (removed or cut behind its
/// back, though its flag still says saved): started, it would boot afresh and write its disks, and the pool's copy of
/// its memory, if any, could never be restored. Labels are read from each domain's torpor metadata (the inventory's source).
public enum StorelessWake {
    /// What the wake did.
    public struct Report: Sendable {
        /// Started from libvirt's saved image (with `dryRun`: would be), as "vm on host".
        public var woken: [String] = []
        /// Saved and left asleep, as "vm on host: why".
        public var left: [String] = []
        /// Paused, not resumed (by request or for a save it has its memory; for a fault a person looks), as "vm on host: why".
        public var paused: [String] = []
        /// Started, but libvirt booted it afresh (its image gone or cut): the memory is lost.
        public var bootedAfresh: [String] = []
        /// Hosts that did not answer, with why: nothing is started then.
        public var hostsStopped: [String] = []
    }

    /// One domain as a host lists it.
    struct Listed {
        let host: String
        let domain: VirtDomain
        let state: DomainState
        let saved: Bool
    }

    /// Wakes every domain `hosts`' libvirt holds saved whose torpor labels include `labels`; `dryRun`: says which. A VM
    /// `locks` says another torpor-execute acts on (its store may be unreadable only to this user) is left to it.
    public static func wakeAll(hosts: [String], labels: [String: String], dryRun: Bool, locks: VMLocks? = nil,
                               connect: (String) throws -> VirtConnection = { try VirtConnection.open(uri: $0) }) -> Report {
        var report = Report()
        /// Whether `domain`'s own torpor labels include `labels`.
        func chosen(_ domain: VirtDomain) throws -> Bool {
            let own = try domain.metadata(namespaceURI: InventoryIngester.labelsNamespace).map { InventoryIngester.parseLabels($0).labels } ?? [:]
            return labels.allSatisfy { own[$0.key] == $0.value }
        }
        var listed: [Listed] = [], unknown: [(host: String, domain: VirtDomain, error: VirtError)] = []
        for host in hosts {
            do {
                let connection = try connect(host)
                for domain in try connection.domains() {
                    do throws(VirtError) {
                        let state = try domain.info().state
                        var saved = false
                        if state == .shutOff { saved = try domain.hasManagedSaveImage() }
                        listed.append(Listed(host: host, domain: domain, state: state, saved: saved))
                    } catch {
                        // Gone since it was listed (a transient one stopped): nothing; another failure: it may be a copy.
                        if !error.isNoDomain { unknown.append((host, domain, error)) }
                    }
                }
            } catch {
                report.hostsStopped.append("\(host): \(error)")
            }
        }
        // Which hosts have each UUID on them, other than shut off without a saved state.
        var onHosts: [String: Set<String>] = [:]
        for d in listed where d.state != .shutOff || d.saved { onHosts[d.domain.uuid, default: []].insert(d.host) }
        for u in unknown {
            onHosts[u.domain.uuid, default: []].insert(u.host)
            report.left.append("\(u.domain.name) on \(u.host): libvirt could not say its state (\(u.error)): not woken, nor any copy of it")
        }
        for d in listed.sorted(by: { ($0.host, $0.domain.name) < ($1.host, $1.domain.name) }) {
            let vm = "\(d.domain.name) on \(d.host)"
            do {
                guard d.saved || d.state == .paused, try chosen(d.domain) else { continue }
                if d.state == .paused {
                    let reason = (try? d.domain.pauseReason()) ?? nil
                    let text = "\(vm): paused \(reason.map { "\($0)" } ?? "") (by request or for a save: virsh -c \(d.host) resume \(d.domain.name); for a fault, a person looks first)"
                    // Paused for a save (torpor's, cut short with the store): asleep-to-be, so the wake is not whole.
                    if reason == .save { report.left.append(text) } else { report.paused.append(text) }
                    continue
                }
                let elsewhere = (onHosts[d.domain.uuid] ?? []).subtracting([d.host]).sorted()
                guard elsewhere.isEmpty else {
                    report.left.append("\(vm): its domain (\(d.domain.uuid)) is on \(elsewhere.joined(separator: ", ")) too; started, two copies would write its disks")
                    continue
                }
                guard report.hostsStopped.isEmpty else {
                    report.left.append("\(vm): not started while a host does not answer (a copy there cannot be ruled out): virsh -c \(d.host) start \(d.domain.name)")
                    continue
                }
                if locks?.heldByAnother(d.domain.name) == true {
                    report.left.append("\(vm): another torpor-execute acts on it (its lock is held): left to it")
                    continue
                }
                if let unusable = d.domain.unusableManagedSaveImage(localPath: nil) {
                    report.left.append("\(vm): \(unusable): not started (libvirt boots a VM whose image is gone or cut afresh, without its memory); the "
                                       + "state pool may hold it (wake it once the store opens); else try again, or virsh -c \(d.host) start \(d.domain.name)")
                    continue
                }
                guard !dryRun else { report.woken.append(vm); continue }
                try d.domain.start()
                report.woken.append(vm)
                if (try? d.domain.bootedAfresh()) == true { report.bootedAfresh.append(vm) }
            } catch {
                report.left.append("\(vm): \(error)")
            }
        }
        return report
    }
}

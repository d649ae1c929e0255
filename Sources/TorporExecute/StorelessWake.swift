import Foundation
import TorporIngest
import TorporVirt

/// `wake --all` when torpor's store cannot be opened (a disk full, a file damaged): libvirt alone wakes what it holds
/// saved on the given hosts (a managed save: `start` restores its memory), so that an operator can always wake the
/// fleet. Without torpor's records, a sleep only the state pool holds is not woken (libvirt holds no image of it, and
/// the store knows the copy), and a saved domain whose own UUID runs on another of the hosts is left: started, two
/// copies would write its disks. Labels are read from each domain's torpor metadata (the inventory's source).
public enum StorelessWake {
    /// What the wake did.
    public struct Report: Sendable {
        /// Started from libvirt's saved image (with `dryRun`: would be), as "vm on host".
        public var woken: [String] = []
        /// Left asleep (a copy running elsewhere, paused: named, not resumed), as "vm on host: why".
        public var left: [String] = []
        /// Started, but libvirt booted it afresh (its image gone or cut): the memory is lost.
        public var bootedAfresh: [String] = []
        /// Hosts that did not answer, with why.
        public var hostsStopped: [String] = []
    }

    /// Wakes every domain `hosts`' libvirt holds saved whose torpor labels include `labels`; `dryRun`: says which.
    public static func wakeAll(hosts: [String], labels: [String: String], dryRun: Bool,
                               connect: (String) throws -> VirtConnection = { try VirtConnection.open(uri: $0) }) -> Report {
        var report = Report()
        /// Whether `domain`'s own torpor labels include `labels`.
        func chosen(_ domain: VirtDomain) throws -> Bool {
            let own = try domain.metadata(namespaceURI: InventoryIngester.labelsNamespace).map { InventoryIngester.parseLabels($0).labels } ?? [:]
            return labels.allSatisfy { own[$0.key] == $0.value }
        }
        var connections: [(host: String, connection: VirtConnection)] = []
        for host in hosts {
            do { connections.append((host, try connect(host))) } catch { report.hostsStopped.append("\(host): \(error)") }
        }
        // The UUIDs running on each host answering: a saved domain running elsewhere is a copy, not woken. A paused one
        // is named, not resumed: paused by a person or a save torpor began, it has its memory; for a fault, a person looks.
        var runningOn: [String: String] = [:]
        for (host, connection) in connections {
            do {
                for domain in try connection.domains() {
                    let state = try domain.info().state
                    if state.runs { runningOn[domain.uuid] = host }
                    guard state == .paused, let reason = try domain.pauseReason(), try chosen(domain) else { continue }
                    report.left.append("\(domain.name) on \(host): paused \(reason) (by request or for a save: virsh -c \(host) resume \(domain.name); "
                                       + "for a fault, a person looks first)")
                }
            } catch {
                report.hostsStopped.append("\(host): \(error)")
            }
        }
        for (host, connection) in connections where !report.hostsStopped.contains(where: { $0.hasPrefix(host + ": ") }) {
            let saved: [String]
            do { saved = try connection.savedDomainNames() } catch { report.hostsStopped.append("\(host): \(error)"); continue }
            for name in saved.sorted() {
                let vm = "\(name) on \(host)"
                do {
                    let domain = try connection.domain(named: name)
                    guard try chosen(domain) else { continue }
                    if let elsewhere = runningOn[domain.uuid], elsewhere != host {
                        report.left.append("\(vm): its domain (\(domain.uuid)) runs on \(elsewhere); started here, two copies would write its disks")
                        continue
                    }
                    guard !dryRun else { report.woken.append(vm); continue }
                    try domain.start()
                    report.woken.append(vm)
                    if try domain.bootedAfresh() == true { report.bootedAfresh.append(vm) }
                } catch {
                    report.left.append("\(vm): \(error)")
                }
            }
        }
        return report
    }
}

import TorporCore
import TorporStore
import TorporVirt

/// One VM found on a libvirt host.
public struct InventoryEntry: Codable, Equatable, Sendable {
    public var name: String
    public var uuid: String
    public var state: String
    public var vcpus: Int
    public var memoryBytes: Int64
    public var labels: [String: String]
    /// Shut off with libvirt's saved image of it (asleep, torpor's doing or not).
    public var saved: Bool
}

/// Registers a libvirt host's domains as VMs: name, host URI, allocated vCPUs and memory, and labels.
/// Labels come from the domain's `<metadata>` element in torpor's namespace, written as `key=value` pairs
/// separated by commas, semicolons or spaces: `<torpor:labels xmlns:torpor="http://torpor.dev/xmlns/1">tier=gold,group=web</torpor:labels>`.
public struct InventoryIngester {
    public static let labelsNamespace = "http://torpor.dev/xmlns/1"
    public let store: Store

    public init(store: Store) { self.store = store }

    /// The VMs registered, the domains left out because another host's domain holds their name (a VM's copy a
    /// migration left behind is left out silently), and those gone between the host's listing and their reading.
    public struct Registered: Sendable {
        public var entries: [InventoryEntry]
        public var clashes: [NameClash]
        /// Domains the host listed that were gone when read (undefined, a transient one stopped, migrated away): left out,
        /// as a domain the host no longer lists is.
        public var vanished: [String]
        /// What a person must mend, said per domain: a name no VM can have (left out, its host's others registered),
        /// labels that are not `key=value` (left out: a mistyped exclusion must not pass unsaid).
        public var problems: [String] = []
    }

    /// Registers host `uri`'s domains as of `now`, the run's only host.
    public func ingest(uri: String, now: EpochSeconds) throws(IngestError) -> Registered {
        var alone = HostAliases()
        return try ingest(uri: uri, now: now, aliases: &alone)
    }

    /// Registers host `uri`'s domains as of `now`; `aliases`: the hosts of the run's URIs before this one (one of them
    /// reached again is refused).
    public func ingest(uri: String, now: EpochSeconds, aliases: inout HostAliases) throws(IngestError) -> Registered {
        let read: Read
        let connection: VirtConnection
        do { connection = try VirtConnection.open(uri: uri) } catch { throw .failure(source: uri, message: error.description) }
        let identity = connection.identity()
        try aliases.admit(uri, identity)
        do {
            read = try Self.read(try connection.domains())
        } catch {
            throw .failure(source: uri, message: error.description)
        }
        let entries = read.entries
        var registered = Registered(entries: [], clashes: [], vanished: read.vanished, problems: read.problems)
        do {
            try store.transaction { db in
                registered = Registered(entries: [], clashes: [], vanished: read.vanished, problems: read.problems)
                try HostAliases.admitAcrossRuns(uri, identity, now: now, in: db)
                let ids = try entries.map { try VMRepository.id(of: $0.entry.name, in: db, now: now) }
                // A VM lately found running on two hosts stays on the host on record (the collector's rule).
                let recorded = try VMRepository.hostsOnRecord(in: db)
                let lately = try VMRepository.lately(twoCopiesBy: now, in: db)
                let previousCollection = try DomainRuns.previousCollection(of: uri, before: now, in: db)
                let claims = try VMRepository.claimListing(host: uri, zip(ids, entries).map {
                    (vm: $0, name: $1.entry.name, uuid: $1.entry.uuid.isEmpty ? nil : $1.entry.uuid, running: $1.running)
                }, in: db)
                for (id, (entry, running, savedKnown)) in zip(ids, entries) {
                    switch claims[id] ?? .holds {
                    case .holds: break
                    case .idleCopy: continue
                    case .clash(let clash): registered.clashes.append(clash); continue
                    }
                    if running { try DomainRuns.record(host: uri, domain: entry.name, now: now, previous: previousCollection, in: db) }
                    if lately.contains(entry.name), let onRecord = recorded[id], onRecord != uri { continue }
                    registered.entries.append(entry)
                    try VMRepository.setAllocation(vm: id, vcpus: entry.vcpus, memoryBytes: entry.memoryBytes, observedAt: now, in: db)
                    try VMRepository.setPlacement(vm: id, hostURI: uri, labels: entry.labels, in: db)
                    if savedKnown { try VMRepository.setSaved(vm: id, entry.saved, now: now, in: db) }
                }
            }
        } catch let error as IngestError {
            throw error
        } catch {
            throw .failure(source: uri, message: "store: \(error)")
        }
        return registered
    }

    /// What `read` found of a host's domains.
    struct Read {
        /// Each domain's entry, whether it runs, and whether libvirt could say if it holds a saved image of it (when
        /// it could not, what the store has stays).
        var entries: [(entry: InventoryEntry, running: Bool, savedKnown: Bool)] = []
        var vanished: [String] = []
        var problems: [String] = []
    }

    /// Each listed domain's entry, and whether it runs. One gone by the time it is read (libvirt: "Domain not found")
    /// is named in `vanished`, not a failure of the whole host; one whose name no VM can have, and labels that are not
    /// `key=value`, in `problems`.
    static func read(_ domains: [VirtDomain]) throws(VirtError) -> Read {
        var read = Read()
        for domain in domains {
            if let why = SampleSession.unusable(vmName: domain.name) {
                read.problems.append("domain \(domain.name.debugDescription): its name \(why): not registered (rename it to be planned)")
                continue
            }
            do throws(VirtError) {
                let info = try domain.info()
                let parsed = try domain.metadata(namespaceURI: Self.labelsNamespace).map(Self.parseLabels) ?? (labels: [:], problems: [])
                read.problems += parsed.problems.map { "\(domain.name): \($0)" }
                // A driver that cannot tell says nothing saved (the inventory itself is not refused for it); the store's
                // record stays as it was.
                let saved: Bool?
                do { saved = info.state == .shutOff ? try domain.hasManagedSaveImage() : false } catch { saved = nil }
                read.entries.append((InventoryEntry(name: domain.name, uuid: domain.uuid, state: "\(info.state)", vcpus: info.vcpus,
                                                    memoryBytes: Int64(info.maxMemoryKiB) * 1024, labels: parsed.labels, saved: saved ?? false),
                                     info.state == .running, saved != nil))
            } catch {
                guard error.isNoDomain else { throw error }
                read.vanished.append(domain.name)
            }
        }
        return read
    }

    /// `key=value` pairs from the text content of a metadata element (spaces around `=` allowed, XML's five entities
    /// read), and what could not be read as one: a word without `=`, an empty key or value, a value with `=`, a key
    /// given twice (the last kept, as before this was said).
    public static func parseLabels(_ xml: String) -> (labels: [String: String], problems: [String]) {
        guard let open = xml.firstIndex(of: ">"), let close = xml.lastIndex(of: "<"), open < close else { return ([:], []) }
        let entities = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")]   // before the split: `;` separates
        let text = entities.reduce(String(xml[xml.index(after: open)..<close])) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            .replacingOccurrences(of: #"\s*=\s*"#, with: "=", options: .regularExpression)
        var labels: [String: String] = [:], problems: [String] = []
        for pair in text.split(whereSeparator: { $0 == "," || $0 == ";" || $0.isWhitespace }) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            // `exclude= tier=gold` reads as one pair once the spaces around `=` are gone: a value with `=` is said too.
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains("=") else {
                problems.append("label '\(pair)' is not key=value: left out (the policy's groups, tiers and exclusions go by labels)")
                continue
            }
            let key = String(parts[0])
            if let earlier = labels[key] { problems.append("label \(key) given twice: the last, \(key)=\(parts[1]), kept over \(key)=\(earlier)") }
            labels[key] = String(parts[1])
        }
        return (labels, problems)
    }
}

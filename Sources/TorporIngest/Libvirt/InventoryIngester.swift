import TorporCore
import TorporStore
import TorporVirt

/// One VM found on a libvirt host.
public struct InventoryEntry: Codable, Equatable, Sendable {
    public var name: String
    public var state: String
    public var vcpus: Int
    public var memoryBytes: Int64
    public var labels: [String: String]
}

/// Registers a libvirt host's domains as VMs: name, host URI, allocated vCPUs and memory, and labels.
/// Labels come from the domain's `<metadata>` element in torpor's namespace, written as `key=value` pairs
/// separated by commas or spaces: `<torpor:labels xmlns:torpor="http://torpor.dev/xmlns/1">tier=gold,group=web</torpor:labels>`.
public struct InventoryIngester {
    public static let labelsNamespace = "http://torpor.dev/xmlns/1"
    public let store: Store

    public init(store: Store) { self.store = store }

    public func ingest(uri: String, now: EpochSeconds) throws(IngestError) -> [InventoryEntry] {
        let entries: [InventoryEntry]
        do {
            let connection = try VirtConnection.open(uri: uri)
            entries = try connection.domains().map { domain throws(VirtError) in
                let info = try domain.info()
                let labels = try domain.metadata(namespaceURI: Self.labelsNamespace).map(Self.parseLabels) ?? [:]
                return InventoryEntry(name: domain.name, state: "\(info.state)", vcpus: info.vcpus,
                                      memoryBytes: Int64(info.maxMemoryKiB) * 1024, labels: labels)
            }
        } catch {
            throw .failure(source: uri, message: error.description)
        }
        do {
            try store.transaction { db in
                for entry in entries {
                    let id = try VMRepository.id(of: entry.name, in: db, now: now)
                    try VMRepository.setAllocation(vm: id, vcpus: entry.vcpus, memoryBytes: entry.memoryBytes, observedAt: now, in: db)
                    try VMRepository.setPlacement(vm: id, hostURI: uri, labels: entry.labels, in: db)
                }
            }
        } catch {
            throw .failure(source: uri, message: "store: \(error)")
        }
        return entries
    }

    /// `key=value` pairs from the text content of a metadata element.
    static func parseLabels(_ xml: String) -> [String: String] {
        guard let open = xml.firstIndex(of: ">"), let close = xml.lastIndex(of: "<"), open < close else { return [:] }
        let text = xml[xml.index(after: open)..<close]
        var labels: [String: String] = [:]
        for pair in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { labels[String(parts[0])] = String(parts[1]) }
        }
        return labels
    }
}

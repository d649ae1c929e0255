import ArgumentParser
import TorporIngest

struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Register the domains of a libvirt host as VMs (host URI, vCPUs, memory, labels).",
        discussion: "Labels are read from each domain's <metadata> in namespace \(InventoryIngester.labelsNamespace).")

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag

    @Option(name: .customLong("uri"), help: "The libvirt URI, e.g. qemu:///system or test:///path/node.xml (repeatable: each host in turn, one failing stops none of the others).")
    var uris: [String]

    func validate() throws {
        if uris.isEmpty { throw ValidationError("give the libvirt host: --uri URI") }
    }

    func run() throws {
        try store.refuseAwayFromTheClock(replay)
        let ingester = InventoryIngester(store: try store.openStore())
        var failures = SourceFailures()
        var aliases = HostAliases()
        for uri in uris {
            do { try register(uri, with: ingester, aliases: &aliases) } catch { failures.add(error) }
        }
        try failures.throwIfAny()
    }

    /// Registers one host's domains and says what it registered.
    private func register(_ uri: String, with ingester: InventoryIngester, aliases: inout HostAliases) throws(IngestError) {
        let registered = try ingester.ingest(uri: uri, now: store.nowSeconds, aliases: &aliases)
        for e in registered.entries {
            let labels = e.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            print("\(e.name)\t\(e.state)\t\(e.vcpus) vCPU\t\(e.memoryBytes / 1_048_576) MiB\t\(labels)")
        }
        print("\(registered.entries.count) VM(s) registered from \(uri)")
        let logger = store.logger("torpor.ingest.inventory")
        for clash in registered.clashes { logger.warning("\(uri): \(clash)") }
        for problem in registered.problems { logger.warning("\(uri): \(problem)") }
        for name in registered.vanished {
            logger.warning("\(uri): \(name) was gone by the time it was read (undefined, stopped or migrated away?): not registered")
        }
    }
}

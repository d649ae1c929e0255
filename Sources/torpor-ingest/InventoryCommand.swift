import ArgumentParser
import TorporIngest

struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Register the domains of a libvirt host as VMs (host URI, vCPUs, memory, labels).",
        discussion: "Labels are read from each domain's <metadata> in namespace \(InventoryIngester.labelsNamespace).")

    @OptionGroup var store: StoreOptions

    @Option(help: "The libvirt URI, e.g. qemu:///system or test:///path/node.xml.")
    var uri: String

    func run() throws {
        do {
            let registered = try InventoryIngester(store: try store.openStore()).ingest(uri: uri, now: store.nowSeconds)
            for e in registered.entries {
                let labels = e.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                print("\(e.name)\t\(e.state)\t\(e.vcpus) vCPU\t\(e.memoryBytes / 1_048_576) MiB\t\(labels)")
            }
            print("\(registered.entries.count) VM(s) registered from \(uri)")
            let logger = store.logger("torpor.ingest.inventory")
            for clash in registered.clashes { logger.warning("\(uri): \(clash)") }
            for name in registered.vanished {
                logger.warning("\(uri): \(name) was gone by the time it was read (undefined, stopped or migrated away?): not registered")
            }
        } catch let error as IngestError {
            throw reportFailure(error)
        }
    }
}

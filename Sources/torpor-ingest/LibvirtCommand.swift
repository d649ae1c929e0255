import ArgumentParser
import TorporIngest

struct LibvirtCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "libvirt",
        abstract: "Collect every domain's statistics from a libvirt host (run every 5 minutes).",
        discussion: """
            Stores, per domain: CPU utilization of its allocated vCPUs (percent), network receive/transmit and disk
            read/write rates (bytes/s), vCPUs, memory allocated and in use. Rates come from the previous collection's
            raw counters, kept in the store: the first run only records counters. A counter that went down (the
            domain restarted) gives no rate for that interval. Domains that are not running give no utilization:
            missing data, never zero.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag

    @Option(name: .customLong("uri"), help: "The libvirt URI, e.g. qemu:///system or qemu+ssh://host/system (repeatable: every host read, then each stored in turn, one failing stopping none of the others).")
    var uris: [String]

    func validate() throws {
        if uris.isEmpty { throw ValidationError("give the libvirt host: --uri URI") }
    }

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func run() throws {
        try store.refuseAwayFromTheClock(replay)
        let ingester = DomainStatsIngester(store: try store.openStore())
        // Each host stamped as it is read: by the clock, or a replay's --now for all.
        try runEach(ingester.collect(uris: uris, stamp: { store.nowSeconds }, live: store.now == nil), json: json, logger: store.logger("torpor.ingest.libvirt"))
    }
}

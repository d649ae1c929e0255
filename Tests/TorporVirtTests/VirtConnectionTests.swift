import Foundation
import Testing
@testable import TorporVirt

/// libvirt's in-process test driver: `test:///default` has one running domain called `test`.
@Suite struct VirtConnectionTests {
    @Test func listsTheDefaultTestDomain() throws {
        let connection = try VirtConnection(uri: "test:///default")
        let names = try connection.domains().map(\.name)
        #expect(names == ["test"])
        let info = try connection.domain(named: "test").info()
        #expect(info.state == .running)
        #expect(info.vcpus == 2)
        #expect(info.maxMemoryKiB == 8_388_608)
    }

    /// A host's identity is its name and the host UUID of its capabilities: the test driver gives no host UUID, so it
    /// has none (never taken for another URI's host); a capabilities document's UUID is the one in `<host>`.
    @Test func aHostsIdentityIsItsNameAndHostUUID() throws {
        #expect(try VirtConnection(uri: "test:///default").identity() == nil)
        let capabilities = """
            <capabilities>
              <host>
                <uuid> 5554db08-0d55-44cc-b258-40e35a7b156a </uuid>
                <cpu><arch>x86_64</arch></cpu>
              </host>
              <guest><os_type>hvm</os_type></guest>
            </capabilities>
            """
        #expect(HostIdentity.fromCapabilities(capabilities) == "5554db08-0d55-44cc-b258-40e35a7b156a")
        #expect(HostIdentity.fromCapabilities("<capabilities><host><cpu/></host><guest><uuid>x</uuid></guest></capabilities>") == nil)
        #expect(HostIdentity.fromCapabilities("<capabilities><host><uuid></uuid></host></capabilities>") == nil)
    }

    /// A URI that would make libvirt run a program (hosts come from the store, which the reviewers' group may write) is
    /// refused before libvirt sees it: the program never runs. Other URIs open as before.
    @Test func aURIThatRunsAProgramIsNeverOpened() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-ext-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = dir + "/ran", marker = dir + "/marker"
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: program, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program)
        for uri in ["qemu+ext:///system?command=\(program)", "qemu+EXT:///system?command=\(program)", "qemu+ssh://host/system?x=1;command=\(program)",
                    "qemu+ssh://host/system?netcat=\(program)", "qemu+ssh://host/system?%73ocket=/x%27%3Btouch%20F%3B%27", "qemu:///embed?root=\(dir)",
                    "qemu+ssh://-oProxyCommand=x/system"] {
            let error = #expect(throws: VirtError.self) { _ = try VirtConnection.open(uri: uri, within: 5) }
            #expect(error?.message.hasPrefix("refused: ") == true, "\(uri): \(String(describing: error))")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the program did not run")
        #expect(try VirtConnection.open(uri: "test:///default").domains().map(\.name) == ["test"])
        #expect(VirtConnection.refusal(of: "qemu+unix:///system?socket=/run/libvirt/other-sock") == nil, "a local socket's path runs nothing")
    }

    /// The test driver implements only the `state` group of domain stats (CPU, block and network stats come
    /// from the real libvirtd in the integration suite).
    @Test func domainStatsCarryTypedParameters() throws {
        let connection = try VirtConnection(uri: "test:///default")
        let stats = try connection.allDomainStats()
        #expect(stats.map(\.domainName) == ["test"])
        let record = try #require(stats.first)
        #expect(record.number("state.state") == 1)   // VIR_DOMAIN_RUNNING
        #expect(record.values["state.reason"] == .int(0))
    }

    /// Why a domain is paused: none while it runs, "by request" after a suspend, "unknown" for one defined paused.
    /// A managed-save image libvirt would boot afresh from (gone, shorter than its header, or marked partial by a save
    /// that stopped) is told apart from a finished one; the test driver cannot say whether a start booted.
    @Test func anUnusableManagedSaveImageIsToldApart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-save-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(VirtDomain.unusableManagedSaveImage(at: path) == "libvirt's saved image is not at \(path)")
        func image(_ magic: String, bytes: Int) throws {
            try (Data(magic.utf8) + Data(repeating: 0, count: max(0, bytes - magic.utf8.count))).prefix(bytes).write(to: URL(fileURLWithPath: path))
        }
        try image("", bytes: 0)
        #expect(VirtDomain.unusableManagedSaveImage(at: path) == "libvirt's saved image at \(path) is incomplete (0 bytes)")
        try image("LibvirtQemudPart", bytes: 4096)
        #expect(VirtDomain.unusableManagedSaveImage(at: path) == "libvirt's saved image at \(path) is incomplete (a save that stopped)")
        try image("LibvirtQemudSave", bytes: 50)
        #expect(VirtDomain.unusableManagedSaveImage(at: path) == "libvirt's saved image at \(path) is incomplete (50 bytes)")
        try image("LibvirtQemudSave", bytes: 4096)
        #expect(VirtDomain.unusableManagedSaveImage(at: path) == nil)
        let connection = try VirtConnection(uri: "test:///default")
        #expect(try connection.domain(named: "test").bootedAfresh() == nil)
    }

    /// Its own driver from a file: `test:///default` is one driver shared by every test in the process, and a
    /// suspended `test` there would read as paused in the tests beside it.
    @Test func pauseReasonComesFromLibvirtsState() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-paused-\(UUID().uuidString).xml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            <node>
              <domain type='test'><name>busy</name><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
              <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
                <name>held</name><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os><test:runstate>3</test:runstate>
              </domain>
            </node>
            """.write(to: file, atomically: true, encoding: .utf8)
        let connection = try VirtConnection(uri: "test://" + file.path)
        let domain = try connection.domain(named: "busy")
        #expect(try domain.info().state == .running && domain.pauseReason() == nil)
        try domain.suspend()
        #expect(try domain.pauseReason() == .user)
        let held = try connection.domain(named: "held")
        #expect(try held.info().state == .paused && held.pauseReason() == .unknown)
        #expect(PauseReason.ioError.description == "after a disk I/O error" && "\(PauseReason.other(99))" == "for reason 99")
    }

    @Test func unknownDomainIsATypedError() throws {
        let connection = try VirtConnection(uri: "test:///default")
        let error = #expect(throws: VirtError.self) { _ = try connection.domain(named: "no-such-vm") }
        #expect(error?.isNoDomain == true)
        #expect(error?.description.contains("no-such-vm") == true)
    }

    @Test func badURIFailsWithLibvirtsMessage() {
        let error = #expect(throws: VirtError.self) { _ = try VirtConnection(uri: "test:///nonexistent/node.xml") }
        #expect(error?.operation == "virConnectOpen(test:///nonexistent/node.xml)")
        #expect(error?.message.isEmpty == false)
    }

    /// `open(within:)` opens as `init` does (a host that never answers: the integration suite's KeepAliveIntegrationTests).
    @Test func openWithinATimeoutOpensAndFailsAsInitDoes() throws {
        #expect(try VirtConnection.open(uri: "test:///default", within: 30).domains().map(\.name) == ["test"])
        let refused = #expect(throws: VirtError.self) { _ = try VirtConnection.open(uri: "test:///nonexistent/node.xml", within: 30) }
        #expect(refused?.operation == "virConnectOpen(test:///nonexistent/node.xml)" && refused?.message.hasPrefix("no answer") == false)
    }

    @Test func metadataOfADomainWithoutItIsNil() throws {
        let connection = try VirtConnection(uri: "test:///default")
        #expect(try connection.domain(named: "test").metadata(namespaceURI: "http://torpor.dev/xmlns/1") == nil)
    }

    /// The domains asleep with their memory: shut off with a managed-save image; not one shut off without one, nor one
    /// running.
    @Test func savedDomainsAreThoseShutOffWithAnImage() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let connection = try VirtConnection(uri: "test://" + repository + "/sample-data/fleet.xml")
        #expect(try connection.savedDomainNames() == [])
        try connection.domain(named: "web-02").managedSave()
        try connection.domain(named: "db-01").managedSave()
        try connection.domain(named: "web-01").destroy()
        #expect(try connection.savedDomainNames() == ["db-01", "web-02"])
        try connection.domain(named: "db-01").start()
        #expect(try connection.savedDomainNames() == ["web-02"])
    }

    @Test func lifecycleEventsArriveUntilTheSubscriptionIsReleased() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let connection = try VirtConnection(uri: "test://" + repository + "/sample-data/fleet.xml")
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var events: [DomainLifecycleEvent] = []
            func add(_ e: DomainLifecycleEvent) { lock.lock(); events.append(e); lock.unlock() }
            var all: [DomainLifecycleEvent] { lock.lock(); defer { lock.unlock() }; return events }
        }
        let seen = Seen()
        var subscription: VirtEventSubscription? = try connection.onLifecycleEvent { seen.add($0) }
        let domain = try connection.domain(named: "web-01")
        try domain.managedSave()
        try domain.start()
        let deadline = Date().addingTimeInterval(10)
        while seen.all.count < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(seen.all.map(\.domain) == ["web-01", "web-01"])
        #expect(seen.all.map(\.kind) == [.stopped, .started])
        withExtendedLifetime(subscription) {}
        subscription = nil
        try domain.destroy()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(seen.all.count == 2, "no event after the subscription is released")
    }

    /// libvirt passes QEMU's stderr on in its message, a timestamp before each line: the error reads as one line, the
    /// same each time the failure recurs (a watch tells a failure once).
    @Test func anErrorReadsAsOneLineWithoutQEMUsTimestamps() {
        let message = "internal error: qemu unexpectedly closed the monitor: 2026-12-04T18:56:56.128896Z qemu-system-x86_64: error while "
            + "loading state section id 3(ram)\n2026-12-04T18:56:56.129118Z qemu-system-x86_64: load of migration failed: Input/output error"
        #expect(VirtError(code: 1, message: message, operation: "virDomainCreate(web)").description == "virDomainCreate(web): internal error: qemu "
            + "unexpectedly closed the monitor: qemu-system-x86_64: error while loading state section id 3(ram) "
            + "qemu-system-x86_64: load of migration failed: Input/output error")
        #expect(VirtError(code: 1, message: "saved 2026-12-04 at 2026-12-04T18:00:00", operation: "x").description == "x: saved 2026-12-04 at 2026-12-04T18:00:00")
    }
}

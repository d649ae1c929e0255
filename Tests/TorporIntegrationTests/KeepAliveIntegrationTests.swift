import Foundation
import Testing
import TorporStore
@testable import TorporExecute
import TorporVirt

/// A host that stops answering or drops its link mid-run, against the real libvirtd: a call waiting on a silent host
/// fails once the connection's keepalive gives up, it does not hang the run (and every other host's restores behind the
/// run's end); an executor that outlives a connection (`--follow`) opens a new one.
@Suite(.serialized) struct KeepAliveIntegrationTests {
    /// The connection goes through libvirt's ext transport: a process of ours carries the bytes to the real libvirtd
    /// (virt-ssh-helper, as on the far end of qemu+ssh). Stopping that process is a host gone silent (lost network, a
    /// frozen machine); killing it is a dropped link (libvirtd restarted, say).
    struct Carrier {
        let dir: String
        let uri: String

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-it-keepalive-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let script = dir + "/carrier.sh"
            try "#!/bin/sh\necho $$ > \(dir)/carrier.pid\nexec virt-ssh-helper \(RealGuest.uri)\n".write(toFile: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
            uri = "qemu+ext:///system?command=\(script)"
        }

        /// The process carrying the newest connection.
        func pid() throws -> Int32 {
            try #require(Int32(try String(contentsOfFile: dir + "/carrier.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        static let quickKeepAlive = VirtConnection.KeepAlive(interval: 1, count: 2)
    }

    @Test func aCallToAHostGoneSilentFailsInsteadOfHanging() throws {
        let carrier = try Carrier()
        let connection = try VirtConnection(uri: carrier.uri, keepAlive: Carrier.quickKeepAlive)
        _ = try connection.hostname()   // answers while the carrier carries
        let pid = try carrier.pid()
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }

        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Int, VirtError>?
        Thread.detachNewThread {
            do throws(VirtError) { outcome = .success(try connection.domains().count) } catch { outcome = .failure(error) }
            finished.signal()
        }
        // Not a speed goal: a bound on "hangs", two orders of magnitude over the keepalive's 1 s × 2.
        let bound = 120
        guard finished.wait(timeout: .now() + .seconds(bound)) == .success else {
            Issue.record("the call to a silent host still hangs after \(bound) s: keepalive did not close the connection")
            kill(pid, SIGCONT)
            finished.wait()
            return
        }
        guard case .failure(let error) = try #require(outcome) else {
            Issue.record("a host whose carrier is stopped answered: \(String(describing: outcome))")
            return
        }
        #expect(error.operation.hasPrefix("virConnectListAllDomains"), "the failure names the call: \(error)")
        #expect(!connection.isAlive)
    }

    @Test func anExecutorOpensANewConnectionOnceItsConnectionClosed() throws {
        let carrier = try Carrier()
        let store = try Store(path: carrier.dir + "/torpor.db")
        let executor = Executor(store: store, load: SampledLoad(interval: 1), connect: { try VirtConnection(uri: $0, keepAlive: Carrier.quickKeepAlive) })
        let first = try executor.connection(carrier.uri)
        let name = try first.hostname()
        #expect(try executor.connection(carrier.uri) === first, "opened once while it lives")
        kill(try carrier.pid(), SIGKILL)   // the link drops
        let deadline = Date().addingTimeInterval(60)
        while first.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!first.isAlive, "libvirt noticed the dropped link")
        let second = try executor.connection(carrier.uri)
        #expect(second !== first)
        #expect(try second.hostname() == name)
    }
}

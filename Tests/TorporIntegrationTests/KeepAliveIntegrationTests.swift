import Foundation
import Testing
import TorporStore
@testable import TorporExecute
import TorporVirt

/// A host that stops answering or drops its link mid-run, against the real libvirtd: a call waiting on a silent host
/// fails once the connection's keepalive gives up, it does not hang the run (and every other host's restores behind the
/// run's end); an executor that outlives a connection (`--follow`) opens a new one.
@Suite(.serialized) struct KeepAliveIntegrationTests {
    static let quickKeepAlive = VirtConnection.KeepAlive(interval: 1, count: 2)

    /// An open given up on goes on: asked again, the URI's one attempt is waited on (no second carrier, no thread or
    /// socket piling up behind a host that never answers), and its connection, come late, is taken.
    @Test func aLateOpenIsTakenByTheNextAndOneRunsPerHost() throws {
        let carrier = try SocketCarrier(delay: 3)
        defer { carrier.stop() }
        for _ in 0..<2 {
            let error = #expect(throws: VirtError.self) { _ = try VirtConnection.open(uri: carrier.uri, within: 1) }
            #expect(error?.message.hasPrefix("no answer within 1 s") == true)
        }
        let late = try VirtConnection.open(uri: carrier.uri, within: 30)
        let hostname = try late.hostname()
        #expect(late.isAlive && !hostname.isEmpty)
        #expect(carrier.starts == 1, "one attempt, however often asked")
        _ = try VirtConnection.open(uri: carrier.uri, within: 30)
        #expect(carrier.starts == 2, "once taken, the next open starts afresh")
    }

    /// A late failure is not handed to the next caller (the host may be back by then): it opens afresh.
    @Test func aLateFailureIsNotHandedOver() throws {
        let carrier = try SocketCarrier(upstream: "/nonexistent/libvirt-sock", delay: 2)
        defer { carrier.stop() }
        let first = #expect(throws: VirtError.self) { _ = try VirtConnection.open(uri: carrier.uri, within: 1) }
        #expect(first?.isNoAnswer == true)
        Thread.sleep(forTimeInterval: 6)   // the attempt has failed meanwhile (its carrier waits 2 s; room for a loaded machine)
        let second = #expect(throws: VirtError.self) { _ = try VirtConnection.open(uri: carrier.uri, within: 30) }
        #expect(second?.isNoAnswer == false, "\(String(describing: second))")
        #expect(carrier.starts == 2, "a fresh attempt, not the stale failure")
    }

    @Test func aCallToAHostGoneSilentFailsInsteadOfHanging() throws {
        let carrier = try SocketCarrier()
        defer { carrier.stop() }
        let connection = try VirtConnection(uri: carrier.uri, keepAlive: Self.quickKeepAlive)
        _ = try connection.hostname()   // answers while the carrier carries
        carrier.freeze()

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
            carrier.cut()
            finished.wait()
            return
        }
        guard case .failure(let error) = try #require(outcome) else {
            Issue.record("a host whose carrier is frozen answered: \(String(describing: outcome))")
            return
        }
        #expect(error.operation.hasPrefix("virConnectListAllDomains"), "the failure names the call: \(error)")
        #expect(!connection.isAlive)
    }

    @Test func anExecutorOpensANewConnectionOnceItsConnectionClosed() throws {
        let carrier = try SocketCarrier()
        defer { carrier.stop() }
        let store = try Store(path: carrier.dir + "/torpor.db")
        // The standard keepalive: a cut link is noticed by its end of file, and a loaded machine's stall of a few seconds
        // must not close the connection before the test looks.
        let executor = Executor(store: store, load: SampledLoad(interval: 1), connect: { try VirtConnection(uri: $0) })
        let first = try executor.connection(carrier.uri)
        let name = try first.hostname()
        #expect(try executor.connection(carrier.uri) === first, "opened once while it lives")
        carrier.cut()   // the link drops
        let deadline = Date().addingTimeInterval(60)
        while first.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!first.isAlive, "libvirt noticed the dropped link")
        let second = try executor.connection(carrier.uri)
        #expect(second !== first)
        #expect(try second.hostname() == name)
    }

    /// `--follow` hears lifecycle events on the executor's connections; once a connection was opened again, on the new
    /// one (a domain defined and undefined through another connection is the event).
    @Test func lifecycleEventsAreHeardAgainOnTheReopenedConnection() throws {
        let carrier = try SocketCarrier()
        defer { carrier.stop() }
        let store = try Store(path: carrier.dir + "/torpor.db")
        let executor = Executor(store: store, load: SampledLoad(interval: 1), connect: { try VirtConnection.open(uri: $0) })   // as above
        final class Heard: @unchecked Sendable {
            private let lock = NSLock()
            private var domains: [String] = []
            func add(_ domain: String) { lock.withLock { domains.append(domain) } }
            func contains(_ domain: String) -> Bool { lock.withLock { domains.contains(domain) } }
        }
        let heard = Heard()
        try executor.watch(hosts: [carrier.uri]) { _, event in heard.add(event.domain) }
        _ = try executor.connection(carrier.uri)   // waits for watch's own connection in the background: subscribed
        let other = try VirtConnection(uri: RealGuest.uri)
        func defineAndUndefine(_ name: String) throws {
            let xml = "<domain type='qemu'><name>\(name)</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"
            try other.define(xml: xml).undefine()
        }
        func waitToHear(_ name: String) -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while !heard.contains(name) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            return heard.contains(name)
        }
        let before = "torpor-it-event-\(UUID().uuidString.prefix(8).lowercased())"
        try defineAndUndefine(before)
        #expect(waitToHear(before), "heard on the first connection")
        let first = try executor.connection(carrier.uri)
        carrier.cut()
        let deadline = Date().addingTimeInterval(60)
        while first.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        _ = try executor.connection(carrier.uri)   // the next pass opens it again
        let after = "torpor-it-event-\(UUID().uuidString.prefix(8).lowercased())"
        try defineAndUndefine(after)
        #expect(waitToHear(after), "heard on the reopened connection")
    }
}

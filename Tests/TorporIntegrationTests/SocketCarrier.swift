import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A host that can stop answering, inside the test process: a Unix socket that carries every connection's bytes to the
/// real libvirtd's socket, for libvirt's `qemu+unix` transport. `freeze` stops carrying (a host gone silent: lost
/// network, a frozen machine), `cut` closes every carried connection (a dropped link, libvirtd restarted); `delay`
/// holds each new connection that long before carrying (a host slow to answer). No process is forked: libvirt's own
/// transports that run a command fork, and a fork beside OpenBLAS's threads busy in another test can deadlock.
/// `stop` (at the end of each test) closes it all and ends its threads.
final class SocketCarrier: @unchecked Sendable {
    let dir: String
    let path: String
    /// The URI of libvirtd through this carrier.
    var uri: String { "qemu+unix:///system?socket=\(path)" }

    private let upstream: String
    private let delay: TimeInterval
    private let listener: Int32
    private let lock = NSLock()
    private var frozen = false
    private var stopped = false
    private var open: [Int32] = []
    private var accepted = 0

    init(upstream: String = "/var/run/libvirt/libvirt-sock", delay: TimeInterval = 0) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-it-carrier-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/carrier.sock"
        self.upstream = upstream
        self.delay = delay
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0, Self.withAddress(path, { bind(listener, $0, $1) }) == 0, listen(listener, 16) == 0 else {
            throw CarrierError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops accepting, closes every carried connection and ends the carrier's threads; removes its directory.
    func stop() {
        lock.withLock { stopped = true; frozen = false }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        cut()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Connections accepted so far (libvirt opens one per `VirtConnection`).
    var starts: Int { lock.withLock { accepted } }

    /// Stops carrying bytes either way; the connections stay open.
    func freeze() { lock.withLock { frozen = true } }

    /// Closes every carried connection: libvirt sees its connection drop.
    func cut() {
        for fd in lock.withLock({ () -> [Int32] in defer { open = [] }; return open }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0, !lock.withLock({ stopped }) else {   // the listener closed
                if client >= 0 { close(client) }
                return
            }
            lock.withLock { accepted += 1 }
            Thread.detachNewThread { [self] in carry(client) }
        }
    }

    private func carry(_ client: Int32) {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard server >= 0, Self.withAddress(upstream, { connect(server, $0, $1) }) == 0 else {
            close(client)
            return
        }
        lock.withLock { open += [client, server] }
        let back = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            pump(from: server, to: client)
            back.signal()
        }
        pump(from: client, to: server)
        back.wait()
        lock.withLock { open.removeAll { $0 == client || $0 == server } }
        close(client)
        close(server)
    }

    /// Copies bytes until either side ends; while frozen, what arrives is held back, never delivered.
    private func pump(from source: Int32, to target: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            while lock.withLock({ frozen }) { Thread.sleep(forTimeInterval: 0.05) }
            // MSG_NOSIGNAL: a peer gone is an error here, not a SIGPIPE that would end the test process.
            let written = buffer.withUnsafeBytes { send(target, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
            guard written == count else { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(target, Int32(SHUT_RDWR))
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    }
}

struct CarrierError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

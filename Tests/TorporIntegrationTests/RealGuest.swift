import Foundation
import TorporVirt

/// A tiny real Linux guest on the real libvirtd (`qemu:///system`), started by the Makefile's integration set-up
/// (integration/start-libvirtd.sh, integration/build-guest.sh): Debian's cloud kernel and a busybox initramfs whose
/// init prints a RAM counter on the serial console every second. TCG (`type='qemu'`), no KVM needed.
final class RealGuest {
    static let uri = "qemu:///system"
    let name: String
    let console: String
    let domain: VirtDomain

    let persistent: Bool

    /// Boots the guest from integration/guest.xml.in: transient by default, or defined (persistent, as managed save
    /// needs) and started.
    init(name: String = "torpor-it-\(UUID().uuidString.prefix(8).lowercased())", persistent: Bool = false) throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let guest = repository.appendingPathComponent("integration/guest").path
        guard FileManager.default.fileExists(atPath: guest + "/vmlinuz") else {
            throw GuestError("no guest kernel at \(guest): run integration/build-guest.sh (make test does)")
        }
        self.name = name
        self.persistent = persistent
        console = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).console").path
        try? FileManager.default.removeItem(atPath: console)
        let xml = try String(contentsOf: repository.appendingPathComponent("integration/guest.xml.in"), encoding: .utf8)
            .replacingOccurrences(of: "@GUEST@", with: guest).replacingOccurrences(of: "@NAME@", with: name)
            .replacingOccurrences(of: "@CONSOLE@", with: console)
        let connection = try VirtConnection(uri: Self.uri)
        if persistent {
            domain = try connection.define(xml: xml)
            try domain.start()
        } else {
            domain = try connection.createTransient(xml: xml)
        }
    }

    deinit {
        try? domain.destroy()
        if persistent { try? domain.undefine() }
        try? FileManager.default.removeItem(atPath: console)
    }

    /// Every counter value the guest printed, in order (the console file is appended across restores).
    var counters: [Int] {
        guard let text = try? String(contentsOfFile: console, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            line.hasPrefix("torpor-counter ") ? Int(line.dropFirst("torpor-counter ".count)) : nil
        }
    }

    /// The last counter value the guest printed.
    var counter: Int? { counters.last }

    /// Waits until the guest has counted to at least `value`.
    func waitForCounter(atLeast value: Int, timeout: TimeInterval = 180) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let c = counter, c >= value { return }
            Thread.sleep(forTimeInterval: 0.25)
        }
        throw GuestError("guest \(name) did not count to \(value) within \(Int(timeout)) s (console: \(console))")
    }
}

struct GuestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

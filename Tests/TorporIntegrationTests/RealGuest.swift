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

    init(name: String = "torpor-it-\(UUID().uuidString.prefix(8).lowercased())", memoryMiB: Int = 128) throws {
        let guest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("integration/guest").path
        guard FileManager.default.fileExists(atPath: guest + "/vmlinuz") else {
            throw GuestError("no guest kernel at \(guest): run integration/build-guest.sh (make test does)")
        }
        self.name = name
        console = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).console").path
        try? FileManager.default.removeItem(atPath: console)
        let xml = """
            <domain type='qemu'>
              <name>\(name)</name>
              <memory unit='MiB'>\(memoryMiB)</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64' machine='pc'>hvm</type>
                <kernel>\(guest)/vmlinuz</kernel>
                <initrd>\(guest)/initramfs.cpio.gz</initrd>
                <cmdline>console=ttyS0 quiet panic=-1</cmdline>
              </os>
              <devices>
                <serial type='file'><source path='\(console)'/><target port='0'/></serial>
              </devices>
            </domain>
            """
        domain = try VirtConnection(uri: Self.uri).createTransient(xml: xml)
    }

    deinit { try? domain.destroy() }

    /// The last counter value the guest printed.
    var counter: Int? {
        guard let text = try? String(contentsOfFile: console, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).reversed().lazy.compactMap { line -> Int? in
            guard line.hasPrefix("torpor-counter ") else { return nil }
            return Int(line.dropFirst("torpor-counter ".count))
        }.first
    }

    /// Waits until the guest has counted to at least `value`.
    func waitForCounter(atLeast value: Int, timeout: TimeInterval = 60) throws {
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

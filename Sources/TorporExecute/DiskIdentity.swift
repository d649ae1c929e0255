import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The identity of a VM's disks that a state pool image is taken with: each file-backed disk's path, size and
/// modification time, sorted; `no disks` without one. A restore from the pool is refused unless the disks still have
/// that identity: a disk written since (the VM started outside torpor, say) would not match the memory image. Images
/// taken by an older torpor recorded path and size only, and are compared on those.
enum DiskIdentity {
    static func of(xml: String, withTimes: Bool) -> String {
        var disks: [String] = []
        var rest = Substring(xml)
        while let disk = rest.range(of: "<disk") {
            let end = rest[disk.upperBound...].range(of: "</disk>")?.upperBound ?? rest.endIndex
            let element = rest[disk.lowerBound..<end]
            if let source = element.range(of: "<source file='") ?? element.range(of: "<source file=\"") {
                let path = String(element[source.upperBound...].prefix { $0 != "'" && $0 != "\"" })
                var info = stat()
                let known = stat(path, &info) == 0
                var entry = "\(path):\(known ? String(info.st_size) : "?")"
                if withTimes { entry += " mtime=" + (known ? "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" : "?") }
                disks.append(entry)
            }
            rest = rest[end...]
        }
        return disks.isEmpty ? "no disks" : disks.sorted().joined(separator: ",")
    }

    /// Whether an identity records the disks' modification times.
    static func hasTimes(_ identity: String) -> Bool { identity.contains(" mtime=") }
}

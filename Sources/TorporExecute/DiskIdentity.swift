import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The identity of a VM's disks that a state pool image is taken with: each file-backed disk's path, size and
/// modification time, sorted; `no disks` without one. A restore from the pool is refused unless the disks still have
/// that identity: a disk written since (the VM started outside torpor, say) would not match the memory image. Images
/// taken by an older torpor recorded path and size only, and are compared on those. A writable disk that is not a file
/// (a block device, a storage pool's volume, a network disk) shows no change torpor can see: it is recorded as
/// `unconfirmable:` with its source, as is a writable file disk torpor cannot read the size and time of (a local path
/// on another host, no permission), and the pool neither takes nor restores such a VM's images (`unconfirmable`).
enum DiskIdentity {
    static func of(xml: String, withTimes: Bool) -> String {
        var disks: [String] = []
        var rest = Substring(xml)
        while let disk = rest.range(of: "<disk") {
            let end = rest[disk.upperBound...].range(of: "</disk>")?.upperBound ?? rest.endIndex
            let element = rest[disk.lowerBound..<end]
            let source = ownSource(element)
            if let file = source?.range(of: "file='") ?? source?.range(of: "file=\""), let source {
                let path = String(source[file.upperBound...].prefix { $0 != "'" && $0 != "\"" })
                let (entry, unreadable) = fileEntry(path, withTimes: withTimes)
                if let unreadable, !readOnly(element) {
                    // A writable disk torpor cannot read the size and time of would compare equal to itself unchanged.
                    disks.append("unconfirmable:file='\(path)' cannot be read (\(unreadable))".replacingOccurrences(of: ",", with: ";"))
                } else {
                    disks.append(entry)
                }
            } else if let source, !readOnly(element) {
                disks.append("unconfirmable:" + source.trimmingCharacters(in: CharacterSet(charactersIn: " /")).replacingOccurrences(of: ",", with: ";"))
            }
            rest = rest[end...]
        }
        return disks.isEmpty ? "no disks" : disks.sorted().joined(separator: ",")
    }

    /// A file disk's entry, `path:size mtime=seconds.nanoseconds` (`?` for what cannot be read), and why it cannot be
    /// read, if it cannot.
    private static func fileEntry(_ path: String, withTimes: Bool) -> (entry: String, unreadable: String?) {
        var info = stat()
        let known = stat(path, &info) == 0
        let unreadable = known ? nil : String(cString: strerror(errno))
        var entry = "\(path):\(known ? String(info.st_size) : "?")"
        if withTimes { entry += " mtime=" + (known ? "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" : "?") }
        return (entry, unreadable)
    }

    /// An identity `of` gave with each file's size (and time, if it has them) read again now, in the same form: the
    /// identity of the same disks as they are now, without the definition they were read from. nil when an entry is not
    /// a file's (an unconfirmable disk: such images are never taken) or a file cannot be read now (gone, or a path
    /// read wrong: one with a comma after a colon and digits could be taken for two entries): unknown, not changed.
    static func reread(_ recorded: String) -> String? {
        guard recorded != "no disks" else { return recorded }
        let end = try! Regex(#":([0-9]+|\?)( mtime=([0-9]+\.[0-9]+|\?))?$"#)
        var entries: [String] = [], pending = ""
        // A path may hold a comma: a piece that does not end as an entry does is the start of the next one's.
        for piece in recorded.split(separator: ",", omittingEmptySubsequences: false) {
            pending += (pending.isEmpty ? "" : ",") + piece
            if pending.contains(end) { entries.append(pending); pending = "" }
        }
        guard pending.isEmpty, !entries.contains(where: { $0.hasPrefix("unconfirmable:") }) else { return nil }
        var now: [String] = []
        for entry in entries {
            guard let suffix = entry.firstMatch(of: end) else { return nil }
            let (read, unreadable) = fileEntry(String(entry[..<suffix.range.lowerBound]), withTimes: hasTimes(entry))
            guard unreadable == nil else { return nil }
            now.append(read)
        }
        return now.sorted().joined(separator: ",")
    }

    /// The attributes of a disk's own `<source>`: not one of its backing chain (`<backingStore>`, read-only files under
    /// a block or network top volume, which never change) nor of a copy job (`<mirror>`). nil when it has none.
    private static func ownSource(_ element: Substring) -> Substring? {
        var own = element
        for nested in ["backingStore", "mirror"] {
            // Nested ones (a chain) sit inside each other: from the first opening to the last closing, or self-closed.
            while let open = own.range(of: "<" + nested) {
                let close = own.range(of: "</" + nested + ">", options: .backwards)?.upperBound
                    ?? own[open.upperBound...].range(of: "/>")?.upperBound ?? own.endIndex
                own = own[..<open.lowerBound] + own[max(close, open.upperBound)...]
            }
        }
        guard let source = own.range(of: "<source ") else { return nil }
        return own[source.upperBound...].prefix { $0 != ">" }
    }

    /// Whether an identity records the disks' modification times.
    static func hasTimes(_ identity: String) -> Bool { identity.contains(" mtime=") }

    /// The writable disks of `identity` that are not files (a block device, a volume, a network disk), in words, if it
    /// has any: torpor cannot see whether they were written since an image was taken, so the pool neither takes such a
    /// VM's images nor restores one.
    static func unconfirmable(_ identity: String) -> String? {
        let unseen = identity.split(separator: ",").filter { $0.hasPrefix("unconfirmable:") }.map { $0.dropFirst("unconfirmable:".count) }
        guard !unseen.isEmpty else { return nil }
        let files = unseen.filter { $0.hasPrefix("file=") }, others = unseen.filter { !$0.hasPrefix("file=") }
        let words = (others.isEmpty ? [] : [others.joined(separator: ", ") + " is not a file (a block device, a volume or a network disk)"]) + files
        return "its disk " + words.joined(separator: "; ") + ": torpor cannot tell whether it was written since an image was taken"
    }

    /// A disk the guest cannot write: a CD-ROM, or one marked read-only.
    private static func readOnly(_ element: Substring) -> Bool {
        element.contains("<readonly/>") || element.contains("device='cdrom'") || element.contains("device=\"cdrom\"")
    }
}

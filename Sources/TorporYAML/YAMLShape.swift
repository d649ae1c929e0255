import Yams

/// The keys a YAML configuration (a policy, a CSV mapping) may hold, part by part. Decoding ignores a key it does not
/// know, so a misspelt one would leave a default in force unnoticed; checked against its shape, it is refused with its
/// line instead.
public indirect enum YAMLShape: Sendable {
    /// A mapping with these keys, each of its shape.
    case keys([String: YAMLShape])
    /// A mapping whose keys are names the user chooses (VMs, tiers, hosts), each value of one shape.
    case named(YAMLShape)
    /// A list whose items have one shape.
    case list(YAMLShape)
    /// A value whose inside is not checked (a scalar, or free-form keys).
    case any

    /// A mapping with these keys, none of which is checked further.
    public static func flat(_ keys: String...) -> YAMLShape { .keys(Dictionary(uniqueKeysWithValues: keys.map { ($0, .any) })) }

    /// A key that the shape does not allow: where (`defaults.idle_timout`, `metrics[0].vaild`), its line, and the
    /// keys allowed there.
    public struct UnknownKey: Error, Equatable, Sendable {
        public let path: String
        public let line: Int?
        public let expected: [String]
    }

    /// The first key of `text` the shape does not allow, in document order; nil when there is none, or when the text is
    /// not YAML (the decoder reports that).
    public func firstUnknownKey(in text: String) -> UnknownKey? {
        guard let root = try? Yams.compose(yaml: text) else { return nil }
        return firstUnknownKey(in: root, path: "")
    }

    /// The line of the key at `path` in `text` (`hosts.h.vcpus`, `groups[0].min_idle`; a name may hold dots), so that
    /// an error about its value can name where it is; where the text lacks it, the line of its deepest part there is
    /// (a key missing from a mapping: the mapping's key); nil when it has none.
    public static func line(of path: String, in text: String) -> Int? {
        guard var node = try? Yams.compose(yaml: text) else { return nil }
        var rest = Substring(path), line: Int?
        while !rest.isEmpty {
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), let i = Int(rest[rest.index(after: rest.startIndex)..<close]),
                      let items = node.sequence, items.indices.contains(i) else { return line }
                node = items[i]
                line = node.mark?.line ?? line
                rest = rest[rest.index(after: close)...].drop { $0 == "." }
                continue
            }
            // The key the path goes on with, the longest where names hold dots.
            let keys = (node.mapping ?? [:]).compactMap { key, value in key.string.map { (key, value, $0) } }
            guard let (key, value, name) = keys.filter({ rest == $0.2 || rest.hasPrefix($0.2 + ".") || rest.hasPrefix($0.2 + "[") })
                .max(by: { $0.2.count < $1.2.count }) else { return line }
            node = value
            line = key.mark?.line
            rest = rest.dropFirst(name.count).drop { $0 == "." }
        }
        return line
    }

    func firstUnknownKey(in node: Node, path: String) -> UnknownKey? {
        func child(_ name: String) -> String { path.isEmpty ? name : path + "." + name }
        switch self {
        case .any:
            return nil
        case .keys(let allowed):
            for (key, value) in node.mapping ?? [:] {
                let name = key.string ?? "?"
                guard let shape = allowed[name] else {
                    return UnknownKey(path: child(name), line: key.mark.map { $0.line }, expected: allowed.keys.sorted())
                }
                if let unknown = shape.firstUnknownKey(in: value, path: child(name)) { return unknown }
            }
        case .named(let shape):
            for (key, value) in node.mapping ?? [:] {
                if let unknown = shape.firstUnknownKey(in: value, path: child(key.string ?? "?")) { return unknown }
            }
        case .list(let shape):
            for (index, item) in (node.sequence ?? []).enumerated() {
                if let unknown = shape.firstUnknownKey(in: item, path: "\(path)[\(index)]") { return unknown }
            }
        }
        return nil
    }
}

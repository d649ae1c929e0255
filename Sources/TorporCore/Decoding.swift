extension DecodingError {
    /// A one-line account of what is wrong and where (`tiers.gold.quantile: expected a number`), for messages that
    /// name the file beside it.
    public var summary: String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch self {
        case .keyNotFound(let key, let context):
            let at = path(context)
            return "missing '\(key.stringValue)'" + (at.isEmpty ? "" : " in '\(at)'")
        case .typeMismatch(let type, let context):
            // What was expected in words, not the decoder's type names ("Expected to decode Double but found Scalar").
            let at = path(context)
            return (at.isEmpty ? "the file" : "'\(at)'") + ": expected " + Self.described(type)
        case .valueNotFound(_, let context), .dataCorrupted(let context):
            // The YAML parser's own account (line, column, what it found) when it has one, not only "not valid YAML".
            let cause = context.underlyingError.map { "\($0)".split(separator: "\n").first.map { ": " + $0 } ?? "" } ?? ""
            let at = path(context)
            return (at.isEmpty ? "" : "'\(at)': ") + context.debugDescription + cause
        @unknown default:
            return "\(self)"
        }
    }

    /// A decoded type in an operator's words.
    static func described(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        default:
            // The YAML reader's own node types as well as Swift's collections.
            switch "\(type)" {
            case let name where name.hasPrefix("Array") || name.hasSuffix("Sequence"): "a list"
            case let name where name.hasPrefix("Dictionary") || name.hasSuffix("Mapping"): "a mapping (key: value lines)"
            case let name where name.hasSuffix("Scalar"): "a single value"
            case let name: "a \(name)"
            }
        }
    }
}

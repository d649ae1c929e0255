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
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            // The YAML parser's own account (line, column, what it found) when it has one, not only "not valid YAML".
            let cause = context.underlyingError.map { "\($0)".split(separator: "\n").first.map { ": " + $0 } ?? "" } ?? ""
            return "'\(path(context))': \(context.debugDescription)\(cause)"
        @unknown default:
            return "\(self)"
        }
    }
}

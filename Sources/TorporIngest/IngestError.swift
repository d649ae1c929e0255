/// The one error type of ingest. `badInput` is the input's fault (exit code 2); `failure` is the environment's (exit 1).
public enum IngestError: Error, CustomStringConvertible {
    /// `source` is a path or URL; `line` is 1-based when known.
    case badInput(source: String, line: Int?, message: String)
    case failure(source: String, message: String)

    public var description: String {
        switch self {
        case .badInput(let source, let line, let message):
            line.map { "\(source):\($0): \(message)" } ?? "\(source): \(message)"
        case .failure(let source, let message):
            "\(source): \(message)"
        }
    }

    public var isBadInput: Bool {
        if case .badInput = self { return true }
        return false
    }
}

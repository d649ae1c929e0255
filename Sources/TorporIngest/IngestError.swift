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

    /// The error as `--json` reports a source that failed, beside the `IngestReport`s of those that did not: its path or
    /// URL, outcome `bad-input` (nothing of it stored) or `failed`, the 1-based line when known, and the message.
    public struct Report: Codable, Equatable, Sendable {
        public var path: String
        public var outcome: String
        public var line: Int?
        public var error: String
    }

    public var report: Report {
        switch self {
        case .badInput(let source, let line, let message): Report(path: source, outcome: "bad-input", line: line, error: message)
        case .failure(let source, let message): Report(path: source, outcome: "failed", line: nil, error: message)
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One sample line of the Prometheus text exposition format or OpenMetrics.
struct ExpositionSample {
    var name: String
    var labels: [(name: String, value: String)]
    var value: Double
    /// Milliseconds (text format) or seconds (OpenMetrics) as written, converted to seconds; nil when absent.
    var timestamp: Double?
    /// The family's declared type (`# TYPE`), `untyped` / `unknown` when none.
    var type: String
    /// The family name the sample belongs to (without `_bucket`, `_sum`, `_count`, `_total`, … suffixes).
    var family: String
    var line: Int
}

/// A parse error of the exposition formats, with the 1-based line.
struct ExpositionError: Error {
    let line: Int
    let message: String
}

/// Parser of the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text: `# HELP`, `# TYPE`, `# UNIT`,
/// `# EOF`, samples with escaped label values, optional timestamps (ms in text format, seconds in OpenMetrics),
/// exemplars (OpenMetrics, ignored). Follows the reference parser's rules for what is an error: invalid names,
/// bad escapes, unterminated label values, duplicate labels, `__name__` as a label, non-float values, non-integer
/// text-format timestamps, spurious text after the timestamp, a second HELP or TYPE for a family, TYPE after the
/// family's samples, unknown types, non-float `le` / `quantile` labels, anything after `# EOF`; and, as the text format
/// requires it, a last line without a line feed (a truncated file).
struct ExpositionParser {
    enum Format: String { case text, openMetrics = "openmetrics" }

    static let knownTypes: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped",
                                          "unknown", "gaugehistogram", "gauge_histogram", "stateset", "info"]

    let format: Format
    private var types: [String: String] = [:]
    private var helps: Set<String> = []
    private var familiesWithSamples: Set<String> = []

    init(format: Format) { self.format = format }

    /// The format of a document: OpenMetrics when its last non-empty line is `# EOF`, else text.
    static func detect(_ text: Substring) -> Format {
        text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }?
            .trimmingCharacters(in: .whitespaces) == "# EOF" ? .openMetrics : .text
    }

    /// Parses a whole document, calling `onSample` for each sample in order.
    mutating func parse(_ text: String, onSample: (ExpositionSample) throws -> Void) throws {
        // "\r\n" is one Character in Swift: split on either, or a CRLF file is one long line.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        let endsWithLineFeed = lines.last == ""
        if endsWithLineFeed { lines.removeLast() }
        var sawEOF = false
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            var line = raw
            if line.hasSuffix("\r") { line = line.dropLast() }
            if sawEOF {
                if line.isEmpty { continue }
                throw ExpositionError(line: number, message: "content after '# EOF'")
            }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty { continue }
            if trimmed.first == "#" {
                if trimmed.trimmingCharacters(in: .whitespaces) == "# EOF" {
                    sawEOF = true
                    continue
                }
                try comment(trimmed, line: number)
                continue
            }
            try onSample(try sample(trimmed, line: number))
        }
        if format == .openMetrics && !sawEOF {
            throw ExpositionError(line: lines.count, message: "OpenMetrics input must end with '# EOF'")
        }
        // The text format ends every line with a line feed: a last line without one was cut (`cpu 8` of `cpu 87.5`).
        if format == .text && !endsWithLineFeed {
            throw ExpositionError(line: lines.count, message: "the last line has no line feed, which the text format requires: the file is truncated?")
        }
    }

    // MARK: comments

    private mutating func comment(_ text: Substring, line: Int) throws {
        var scanner = Scanner(text.dropFirst())
        scanner.skipBlanks()
        let keyword = scanner.word()
        guard keyword == "HELP" || keyword == "TYPE" || keyword == "UNIT" else { return }   // an ordinary comment
        scanner.skipBlanks()
        if scanner.atEnd { return }   // `# HELP` and nothing after it: an ordinary comment, as the reference parser reads it
        let quoted = scanner.peek == "\""
        let name = quoted ? (try scanner.quoted()) ?? "" : scanner.word()
        if !quoted && scanner.atEnd && ExpositionParser.isMetricName(name) { return }   // `# HELP name` and nothing after: a comment too
        guard quoted ? !name.isEmpty : ExpositionParser.isMetricName(name) else {
            throw ExpositionError(line: line, message: "invalid metric name '\(name)' in # \(keyword)")
        }
        scanner.skipBlanks()
        let rest = scanner.rest.trimmingCharacters(in: .whitespaces)
        switch keyword {
        case "HELP":
            guard helps.insert(name).inserted else { throw ExpositionError(line: line, message: "second HELP line for metric '\(name)'") }
        case "TYPE":
            guard types[name] == nil, !familiesWithSamples.contains(name) else {
                throw ExpositionError(line: line, message: "second TYPE line for metric '\(name)', or TYPE after its samples")
            }
            guard ExpositionParser.knownTypes.contains(rest) else {
                throw ExpositionError(line: line, message: "unknown metric type '\(rest)' for '\(name)'")
            }
            types[name] = rest
        default:
            break
        }
    }

    // MARK: samples

    private mutating func sample(_ text: Substring, line: Int) throws -> ExpositionSample {
        func fail(_ message: String) -> ExpositionError { ExpositionError(line: line, message: message) }
        var scanner = Scanner(text)
        var name = scanner.word(stoppingAt: "{")
        scanner.skipBlanks()
        var labels: [(name: String, value: String)] = []
        if scanner.peek == "{", !(format == .openMetrics && ExpositionParser.isCompositeValue(scanner.rest)) {
            scanner.advance()
            // `{__name__="m", …}` (as promtool dumps) names the metric inside the braces; not next to a name.
            var quotedName: String?
            labels = try labelSet(&scanner, allowName: name.isEmpty, quotedName: &quotedName, fail: fail)
            if name.isEmpty, let index = labels.firstIndex(where: { $0.name == "__name__" }) {
                name = labels.remove(at: index).value
            } else if name.isEmpty, let quotedName {
                name = quotedName
            }
        }
        guard ExpositionParser.isMetricName(name) || (!name.isEmpty && format == .openMetrics) else {
            throw fail(name.isEmpty ? "invalid metric name: a sample line must start with one" : "invalid metric name '\(name)'")
        }
        scanner.skipBlanks()
        let valueText = scanner.word()
        let (family, type) = familyAndType(of: name)
        let isHistogram = ["histogram", "gaugehistogram", "gauge_histogram"].contains(type)
        if format == .openMetrics, isHistogram || type == "summary", ExpositionParser.isCompositeValue(valueText) {
            // OpenMetrics 2.0 composite value (`{count:…,sum:…,…}`) of a native histogram or summary: not a demand
            // signal, reported as skipped.
            familiesWithSamples.insert(family)
            return ExpositionSample(name: name, labels: labels, value: .nan, timestamp: nil, type: type, family: family, line: line)
        }
        guard let value = ExpositionParser.float(valueText) else {
            throw fail(valueText.isEmpty ? "expected a value after the metric name and labels" : "expected float as value, got '\(valueText)'")
        }
        scanner.skipBlanks()
        var timestamp: Double?
        if !scanner.atEnd, scanner.peek != "#" {
            let ts = scanner.word()
            switch format {
            case .text:
                guard let ms = Int64(ts) else { throw fail("expected integer (milliseconds) as timestamp, got '\(ts)'") }
                timestamp = Double(ms) / 1000
            case .openMetrics:
                guard let s = ExpositionParser.float(ts), s.isFinite else { throw fail("expected seconds as timestamp, got '\(ts)'") }
                timestamp = s
            }
            scanner.skipBlanks()
            if format == .openMetrics, scanner.peek == "s" {   // OpenMetrics 2.0 start timestamp `st@<seconds>`
                let start = scanner.word()
                guard start.hasPrefix("st@"), ExpositionParser.float(String(start.dropFirst(3))) != nil else {
                    throw fail("spurious text after the timestamp: '\(start)'")
                }
                scanner.skipBlanks()
            }
        }
        if !scanner.atEnd {
            // OpenMetrics exemplars: ` # {labels} value [timestamp]`; ignored but checked for shape.
            guard format == .openMetrics, scanner.peek == "#" else { throw fail("spurious text after the timestamp: '\(scanner.rest)'") }
        }
        if isHistogram, name.hasSuffix("_bucket") {
            guard let le = labels.first(where: { $0.name == "le" })?.value, ExpositionParser.float(le) != nil else {
                throw fail("expected float as value for 'le' label of histogram '\(family)'")
            }
        }
        if type == "summary", let q = labels.first(where: { $0.name == "quantile" }) {
            guard ExpositionParser.float(q.value) != nil else { throw fail("expected float as value for 'quantile' label of summary '\(family)'") }
        }
        familiesWithSamples.insert(family)
        familiesWithSamples.insert(name)
        return ExpositionSample(name: name, labels: labels, value: value, timestamp: timestamp, type: type, family: family, line: line)
    }

    /// The labels of `{…}` (the `{` already read). With `allowName`, `__name__="m"` or a lone quoted string
    /// (OpenMetrics 2.0: `{"metric.name", label="v"}`) may name the metric; label names may be quoted there too.
    private func labelSet(_ scanner: inout Scanner, allowName: Bool, quotedName: inout String?,
                          fail: (String) -> ExpositionError) throws -> [(name: String, value: String)] {
        var labels: [(name: String, value: String)] = []
        while true {
            scanner.skipBlanks()
            if scanner.peek == "}" {
                scanner.advance()
                return labels
            }
            let quoted = scanner.peek == "\""
            let name: String
            if quoted {
                guard let text = try scanner.quoted() else { throw fail("unterminated quoted name") }
                name = text
                scanner.skipBlanks()
                if allowName, quotedName == nil, labels.isEmpty, scanner.peek == "," || scanner.peek == "}" {
                    quotedName = name
                    if scanner.peek == "," { scanner.advance() }
                    continue
                }
            } else {
                name = scanner.word(stoppingAt: "=}")
            }
            guard quoted ? !name.isEmpty : ExpositionParser.isLabelName(name) else { throw fail("invalid label name '\(name)'") }
            guard name != "__name__" || allowName else { throw fail("label name '__name__' is reserved") }
            guard !labels.contains(where: { $0.name == name }) else { throw fail("duplicate label '\(name)'") }
            scanner.skipBlanks()
            guard scanner.peek == "=" else { throw fail("expected '=' after label name '\(name)'") }
            scanner.advance()
            scanner.skipBlanks()
            guard scanner.peek == "\"" else { throw fail("expected '\"' at the start of the value of label '\(name)'") }
            let value: String
            do {
                guard let v = try scanner.quoted() else {
                    throw fail("the value of label '\(name)' is not terminated on this line (unescaped line break?)")
                }
                value = v
            } catch is InvalidEscape {
                throw fail("invalid escape sequence in the value of label '\(name)' (only \\\\, \\\" and \\n are allowed)")
            }
            labels.append((name, value))
            scanner.skipBlanks()
            if scanner.peek == "," {
                scanner.advance()
            } else if scanner.peek != "}" {
                throw fail("unexpected text after the value of label '\(name)'")
            }
        }
    }

    /// The declared family of a sample name: the name itself, or the name without a histogram / summary /
    /// counter suffix when that base name has a TYPE.
    private func familyAndType(of name: String) -> (String, String) {
        if let type = types[name] { return (name, type) }
        for suffix in ["_bucket", "_sum", "_count", "_total", "_created", "_gsum", "_gcount", "_info"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base] { return (base, type) }
        }
        return (name, format == .openMetrics ? "unknown" : "untyped")
    }

    /// An OpenMetrics 2.0 composite value such as `{count:5,sum:12.1,…}`: a ':' comes before any '='.
    static func isCompositeValue(_ text: String) -> Bool {
        guard text.hasPrefix("{"), let colon = text.firstIndex(of: ":") else { return false }
        return text.firstIndex(of: "=").map { colon < $0 } ?? true
    }

    static func isMetricName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    /// A float as Prometheus writes it: decimal or exponent notation, `NaN`, `+Inf`, `-Inf`, `Inf`. Hex floats,
    /// underscores and binary/octal literals are refused as the reference parser does.
    static func float(_ s: String) -> Double? {
        switch s.lowercased() {
        case "nan": return .nan
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        default: break
        }
        guard !s.isEmpty, s.unicodeScalars.allSatisfy({ $0.isASCIIDigit || "+-.eE".unicodeScalars.contains($0) }) else { return nil }
        return Double(s)
    }
}

private struct InvalidEscape: Error {}

/// A cursor over one line.
private struct Scanner {
    private let chars: [Character]
    private var index = 0

    init(_ text: Substring) { chars = Array(text) }

    var atEnd: Bool { index >= chars.count }
    var peek: Character? { atEnd ? nil : chars[index] }
    var rest: String { String(chars[min(index, chars.count)...]) }

    mutating func advance() { index += 1 }

    mutating func next() -> Character? {
        defer { index += 1 }
        return peek
    }

    mutating func skipBlanks() {
        while let c = peek, c == " " || c == "\t" { index += 1 }
    }

    /// A `"…"` string at the cursor with `\\`, `\"`, `\n` escapes; nil when it is not closed on this line.
    mutating func quoted() throws -> String? {
        advance()
        var value = ""
        while let c = next() {
            if c == "\"" { return value }
            if c == "\\" {
                switch next() {
                case "\\": value.append("\\")
                case "\"": value.append("\"")
                case "n": value.append("\n")
                default: throw InvalidEscape()
                }
            } else {
                value.append(c)
            }
        }
        return nil
    }

    /// Characters up to a blank, the end, or one of `stops`.
    mutating func word(stoppingAt stops: String = "") -> String {
        let start = index
        while let c = peek, c != " ", c != "\t", !stops.contains(c) { index += 1 }
        return String(chars[start..<index])
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// One unfolded content line of an iCalendar file (RFC 5545 §3.1): `NAME *(;PARAM) : VALUE`, with the 1-based line
/// of the file where it starts.
struct ContentLine {
    let name: String
    let parameters: String
    let value: String
    let line: Int
}

/// An iCalendar file's content lines, checked for the structure libical would silently repair or drop: the line
/// grammar, BEGIN/END nesting, and that everything sits inside `VCALENDAR`. Errors carry the file's line number.
struct ContentLines {
    private(set) var lines: [ContentLine] = []
    private(set) var warnings: [String] = []

    init(text: String, source: String) throws(ICalError) {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // Physical lines; CRLF, LF and a lone CR all end a line.
        let physical = body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        var pending: (text: String, line: Int)?
        var unfolded: [(text: String, line: Int)] = []
        for (index, raw) in physical.enumerated() {
            let number = index + 1
            if let first = raw.first, first == " " || first == "\t", pending != nil {
                pending!.text += raw.dropFirst()
                continue
            }
            if let pending { unfolded.append(pending) }
            pending = raw.isEmpty ? nil : (String(raw), number)
            if raw.isEmpty, index < physical.count - 1 {
                warnings.append("line \(number): blank line ignored")
            }
        }
        if let pending { unfolded.append(pending) }
        guard !unfolded.isEmpty else { throw ICalError(source: source, line: nil, message: "empty file: no calendar") }

        var stack: [(name: String, line: Int)] = []
        for (text, number) in unfolded {
            guard let content = ContentLines.split(text, line: number) else {
                throw ICalError(source: source, line: number, message: "not a content line (NAME[;PARAM=…]:VALUE): '\(text.prefix(60))'")
            }
            guard content.name.unicodeScalars.allSatisfy({ ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || $0 == "-" }),
                  !content.name.isEmpty else {
                throw ICalError(source: source, line: number, message: "invalid property name '\(content.name.prefix(40))'")
            }
            let name = content.name.uppercased()
            if stack.isEmpty {
                // libical accepts bare components (RFC 2445's examples list VEVENTs without VCALENDAR); properties
                // outside any component are an error.
                guard name == "BEGIN" else {
                    throw ICalError(source: source, line: number, message: "expected BEGIN:VCALENDAR, found '\(text.prefix(40))'")
                }
            }
            switch name {
            case "BEGIN":
                let component = content.value.uppercased()
                guard !component.isEmpty, component.unicodeScalars.allSatisfy({ ($0.properties.isAlphabetic && $0.isASCII) || $0 == "-" }) else {
                    throw ICalError(source: source, line: number, message: "invalid component name '\(content.value.prefix(40))'")
                }
                stack.append((component, number))
            case "END":
                guard let open = stack.popLast() else {
                    throw ICalError(source: source, line: number, message: "END:\(content.value) without a BEGIN")
                }
                guard open.name == content.value.uppercased() else {
                    throw ICalError(source: source, line: number, message: "END:\(content.value) closes BEGIN:\(open.name) of line \(open.line)")
                }
            default:
                break
            }
            lines.append(ContentLine(name: name, parameters: content.parameters, value: content.value, line: number))
        }
        if let open = stack.last {
            throw ICalError(source: source, line: open.line, message: "BEGIN:\(open.name) is never closed (truncated file?)")
        }
    }

    /// Splits `NAME;PARAMS:VALUE` at the first colon outside double quotes.
    private static func split(_ text: String, line: Int) -> (name: String, parameters: String, value: String)? {
        var quoted = false
        var nameEnd: String.Index?
        for index in text.indices {
            let c = text[index]
            if c == "\"" { quoted.toggle() }
            if !quoted, c == ";", nameEnd == nil { nameEnd = index }
            if !quoted, c == ":" {
                let name = String(text[..<(nameEnd ?? index)])
                let parameters = nameEnd.map { String(text[text.index(after: $0)..<index]) } ?? ""
                return (name, parameters, String(text[text.index(after: index)...]))
            }
        }
        return nil
    }

    /// The lines of a component (`component(_:index:)`) that are its own: not its BEGIN and END, nor those of a
    /// component inside it (a VEVENT's VALARM).
    static func own(_ component: ArraySlice<ContentLine>) -> [ContentLine] {
        var depth = 0
        var result: [ContentLine] = []
        for line in component {
            if line.name == "BEGIN" {
                depth += 1
            } else if line.name == "END" {
                depth -= 1
            } else if depth == 1 {
                result.append(line)
            }
        }
        return result
    }

    /// The lines of the n-th (0-based) component called `name`, from its BEGIN to its END.
    func component(_ name: String, index: Int) -> ArraySlice<ContentLine>? {
        var seen = -1
        var depth = 0
        var start: Int?
        for (i, line) in lines.enumerated() {
            if start == nil {
                if line.name == "BEGIN", line.value.uppercased() == name {
                    seen += 1
                    if seen == index { start = i; depth = 0 }
                }
            }
            guard let s = start else { continue }
            if line.name == "BEGIN" { depth += 1 }
            if line.name == "END" {
                depth -= 1
                if depth == 0 { return lines[s...i] }
            }
        }
        return nil
    }
}

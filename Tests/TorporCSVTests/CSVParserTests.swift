import Testing
import TorporCSV

/// Parses `text` fed in chunks of `chunk` bytes and returns the records as string arrays.
func records(_ text: String, delimiter: UInt8 = UInt8(ascii: ","), chunk: Int = 4096) throws -> [[String]] {
    let parser = CSVParser(delimiter: delimiter)
    var out: [[String]] = []
    let bytes = Array(text.utf8)
    let collect: (CSVRecord) throws -> Void = { r in out.append((0..<r.count).map { r.string($0) }) }
    for start in stride(from: 0, to: bytes.count, by: chunk) {
        try bytes[start..<min(start + chunk, bytes.count)].withUnsafeBytes { try parser.parse($0, onRecord: collect) }
    }
    try parser.finish(onRecord: collect)
    return out
}

@Suite struct CSVParserTests {
    @Test func recordsSplitAcrossChunksComeOutWhole() throws {
        let text = "time,value\n1,2.5\n2,3.25\n3,\"4\"\n"
        let expected = [["time", "value"], ["1", "2.5"], ["2", "3.25"], ["3", "4"]]
        for chunk in [1, 2, 3, 7, 1000] {
            #expect(try records(text, chunk: chunk) == expected)
        }
    }

    @Test func quotedFieldsCRLFAndNoFinalNewline() throws {
        #expect(try records("a,\"b,c\",\"d \"\"q\"\"\"\r\n1,2,3") == [["a", "b,c", "d \"q\""], ["1", "2", "3"]])
    }

    /// A file that ends inside a quoted field was cut short: an error naming the record, not a field.
    @Test func aQuoteNeverClosedAtTheEndIsAnError() throws {
        let error = #expect(throws: CSVError.self) { _ = try records("vm,value\nweb-01,\"1") }
        #expect(error?.line == 2 && error?.message.contains("never closed") == true)
        #expect(try records("vm,value\nweb-01,\"1\"") == [["vm", "value"], ["web-01", "1"]])
    }

    @Test func semicolonPlusTabTrimsTheTab() throws {
        #expect(try records("Timestamp [ms];\tCPU cores\n1372629804;\t2\n", delimiter: UInt8(ascii: ";"))
                == [["Timestamp [ms]", "CPU cores"], ["1372629804", "2"]])
    }

    @Test func tabDelimitedKeepsEmptyFields() throws {
        #expect(try records("a\tb\tc\n1\t\t3\n", delimiter: 9) == [["a", "b", "c"], ["1", "", "3"]])
    }

    @Test func emptyLinesAreSkipped() throws {
        #expect(try records("a,b\n\n1,2\n\n") == [["a", "b"], ["1", "2"]])
    }

    /// Each record says how many blank lines came right before it (LF, CRLF or CR alike); a quoted field's line breaks
    /// are no blank lines.
    @Test func blankLinesBeforeARecordAreCounted() throws {
        let text = "a\n\n1\r\n\r\n\r\n2\r3\n\"x\n\ny\"\n4\n\n"
        for chunk in [1, 2, 5, 1000] {
            let parser = CSVParser(delimiter: UInt8(ascii: ","))
            var seen: [(String, Int, Int)] = []
            let collect: (CSVRecord) throws -> Void = { seen.append(($0.string(0), $0.line, $0.blankLinesBefore)) }
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                try bytes[start..<min(start + chunk, bytes.count)].withUnsafeBytes { try parser.parse($0, onRecord: collect) }
            }
            try parser.finish(onRecord: collect)
            #expect(seen.map(\.0) == ["a", "1", "2", "3", "x\n\ny", "4"], "chunk \(chunk)")
            #expect(seen.map(\.1) == [1, 3, 6, 7, 8, 11], "chunk \(chunk)")
            #expect(seen.map(\.2) == [0, 1, 2, 0, 0, 0], "chunk \(chunk)")
        }
    }

    @Test func fieldsAreNULTerminatedForCFunctions() throws {
        let parser = CSVParser(delimiter: UInt8(ascii: ","))
        var values: [Double] = []
        try Array("1.5,2e3\n".utf8).withUnsafeBytes { bytes in
            try parser.parse(bytes) { r in
                for i in 0..<r.count { values.append(Double(String(cString: r.cString(i)))!) }
            }
        }
        #expect(values == [1.5, 2000])
    }

    struct Boom: Error {}

    @Test func handlerErrorsCarryTheRecordsLine() throws {
        let parser = CSVParser(delimiter: UInt8(ascii: ","))
        let error = #expect(throws: CSVRecordError.self) {
            try Array("a\nb\nc\n".utf8).withUnsafeBytes { bytes in
                try parser.parse(bytes) { r in if r.string(0) == "b" { throw Boom() } }
            }
        }
        #expect(error?.line == 2)
    }

    /// Error messages name lines of the file as an editor shows them: blank lines and line breaks inside quoted fields
    /// count, however the input is cut into chunks.
    @Test func recordsKnowTheLineTheyStartOn() throws {
        let text = "a,b\n\n\n1,\"two\nlines\"\r\n\n3,4\n5,6"
        for chunk in [1, 2, 5, 4096] {
            let parser = CSVParser(delimiter: UInt8(ascii: ","))
            var lines: [Int] = []
            let collect: (CSVRecord) throws -> Void = { lines.append($0.line) }
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                try bytes[start..<min(start + chunk, bytes.count)].withUnsafeBytes { try parser.parse($0, onRecord: collect) }
            }
            try parser.finish(onRecord: collect)
            #expect(lines == [1, 4, 7, 8], "chunks of \(chunk)")
        }
        // Old Mac line ends (a lone CR) count as line breaks too, inside quoted fields as well; CRLF once, even split
        // between two chunks.
        let oldMac = Array("a,b\r1,2\r\r3,\"x\ry\"\r\n5,6\n7,8".utf8)
        for chunk in [1, 2, 3, 4096] {
            let parser = CSVParser(delimiter: UInt8(ascii: ","))
            var lines: [Int] = []
            let collect: (CSVRecord) throws -> Void = { lines.append($0.line) }
            for start in stride(from: 0, to: oldMac.count, by: chunk) {
                try oldMac[start..<min(start + chunk, oldMac.count)].withUnsafeBytes { try parser.parse($0, onRecord: collect) }
            }
            try parser.finish(onRecord: collect)
            #expect(lines == [1, 2, 4, 6, 7], "chunks of \(chunk)")
        }
    }
}

import Foundation
import Testing
import TorporGzip
import TorporTestSupport

@Suite struct CompressedFileReaderTests {
    let dir = try! ScratchDirectory.make("torpor-gz")

    func readAll(_ path: String) throws -> [UInt8] {
        let reader = try CompressedFileReader(path: path)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1000)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    func gzip(_ path: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-kf", path]
        try p.run()
        p.waitUntilExit()
    }

    @Test func plainAndGzipGiveTheSameBytes() throws {
        let text = String(repeating: "1372629804;\t2;\t5851.9989\n", count: 5000)
        let path = dir + "/t.csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try gzip(path)
        #expect(try readAll(path) == Array(text.utf8))
        #expect(try readAll(path + ".gz") == Array(text.utf8))
    }

    @Test func truncatedGzipIsAnErrorNotAnEarlyEnd() throws {
        let path = dir + "/u.csv"
        try String(repeating: "a,b,c,d,e,f\n", count: 50_000).write(toFile: path, atomically: true, encoding: .utf8)
        try gzip(path)
        let full = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        let cut = dir + "/cut.csv.gz"
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: cut))
        let error = #expect(throws: GzipError.self) { _ = try readAll(cut) }
        #expect(error?.description.contains("cut.csv.gz") == true)
        #expect(error?.description.contains("truncated") == true)
        #expect(error?.corrupt == true, "the same again whatever is tried: a state pool copy of it is not retried")
    }

    @Test func joinedMembersAndZeroPaddingReadWholeAndTrailingJunkIsAnError() throws {
        let first = String(repeating: "1372629804;\t2;\t5851.9989\n", count: 3000), second = "1372630104;\t3;\t1.5\n"
        try first.write(toFile: dir + "/a.csv", atomically: true, encoding: .utf8)
        try second.write(toFile: dir + "/b.csv", atomically: true, encoding: .utf8)
        try gzip(dir + "/a.csv")
        try gzip(dir + "/b.csv")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.csv.gz")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.csv.gz"))
        func file(_ name: String, _ data: Data) throws -> String {
            try data.write(to: URL(fileURLWithPath: dir + "/" + name))
            return dir + "/" + name
        }
        // `cat a.gz b.gz`: both members, as gzip -d gives them; zero padding (a tape or block device) after the last.
        #expect(try readAll(file("joined.gz", a + b)) == Array((first + second).utf8))
        #expect(try readAll(file("padded.gz", a + Data(count: 1000))) == Array(first.utf8))
        // Anything else after the last member (a second member whose header is damaged, a half-written append): an
        // error naming where, not rows silently dropped.
        var damaged = b
        damaged[0] = 0x20
        for (name, data) in [("damaged.gz", a + damaged), ("junk.gz", a + Data("x\n".utf8))] {
            let error = #expect(throws: GzipError.self, "\(name)") { _ = try readAll(file(name, data)) }
            #expect(error?.description.contains("\(name): data after the end of the gzip stream at compressed byte \(a.count)") == true, "\(error.map { "\($0)" } ?? "")")
        }
        // A corrupt byte inside a member: an error with the position.
        var corrupt = a
        corrupt[a.count / 2] ^= 0xff
        let error = #expect(throws: GzipError.self) { _ = try readAll(file("corrupt.gz", corrupt)) }
        #expect(error?.description.contains("corrupt.gz: corrupt gzip data after") == true || error?.description.contains("corrupt.gz: truncated") == true,
                "\(error.map { "\($0)" } ?? "")")
    }

    @Test func shortAndEmptyFilesArePlain() throws {
        for text in ["", "x", "\u{1f}"] {
            let path = dir + "/s\(text.utf8.count).csv"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try readAll(path) == Array(text.utf8))
        }
    }

    @Test func missingFileNamesThePath() {
        let error = #expect(throws: GzipError.self) { _ = try CompressedFileReader(path: "/nonexistent/x.csv.gz") }
        #expect(error?.path == "/nonexistent/x.csv.gz")
    }

    /// A file that opens but cannot be read (a directory given as a file) is an error naming it; it crashed (the
    /// failing init freed its buffer, then its deinit again).
    @Test func anUnreadableFileNamesThePath() {
        let error = #expect(throws: GzipError.self) { _ = try CompressedFileReader(path: dir) }
        #expect(error?.path == dir && error?.message.contains("cannot read after byte 0: Is a directory") == true, "\(String(describing: error))")
        #expect(error?.corrupt == false, "a read that failed may succeed later")
    }
}

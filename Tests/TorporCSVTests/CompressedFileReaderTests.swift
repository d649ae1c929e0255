import Foundation
import Testing
import TorporGzip

@Suite struct CompressedFileReaderTests {
    let dir: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-gz-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

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
    }

    @Test func missingFileNamesThePath() {
        let error = #expect(throws: GzipError.self) { _ = try CompressedFileReader(path: "/nonexistent/x.csv.gz") }
        #expect(error?.path == "/nonexistent/x.csv.gz")
    }
}

import Foundation
import Testing
import TorporHash

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        let empty = SHA256()
        #expect(empty.finalizeHex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(abc.finalizeHex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func streamingEqualsOneShot() {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let once = SHA256()
        once.update(data)
        let pieces = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 777) { pieces.update(Array(data[chunk..<min(chunk + 777, data.count)])) }
        #expect(once.finalizeHex() == pieces.finalizeHex())
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-hash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x61, count: 3_000_000).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let expected = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(try SHA256.hexDigest(ofFile: path) == String(expected))
    }

    @Test func missingFileIsAnError() {
        #expect(throws: HashError.self) { try SHA256.hexDigest(ofFile: "/nonexistent/file") }
    }
}

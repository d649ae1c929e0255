import Foundation
import GRDB
import TorporCore
import TorporIngest
import TorporStore
import TorporTestSupport

/// Paths of the repository and of the shared real data (`TORPOR_SHARED_DATA`, else `../shared/data` beside the repository).
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var sharedData: String {
        if let env = ProcessInfo.processInfo.environment["TORPOR_SHARED_DATA"], !env.isEmpty { return env }
        return URL(fileURLWithPath: repository + "/../shared/data").standardizedFileURL.path
    }

    static var traces: String { sharedData + "/traces" }
    static var mappings: String { repository + "/sample-data/mappings" }

    static func files(in dir: String, suffix: String) throws -> [String] {
        let base = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        return try FileManager.default.contentsOfDirectory(atPath: base).filter { $0.hasSuffix(suffix) }.sorted().map { base + "/" + $0 }
    }
}

/// A fresh store in a temporary directory, plus helpers to write input files next to it.
struct Scratch {
    let dir: String
    let store: Store

    init() throws {
        dir = try ScratchDirectory.make("torpor-ingest")
        store = try Store(path: dir + "/torpor.db")
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func count(_ sql: String = "SELECT count(*) FROM sample") throws -> Int {
        try store.read { try Int.fetchOne($0, sql: sql) ?? 0 }
    }

    /// The stored value of one sample.
    func value(vm: String, metric: String, time: EpochSeconds) throws -> Double? {
        try store.read {
            try Double.fetchOne($0, sql: """
                SELECT s.value FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
                WHERE vm.name = ? AND m.name = ? AND s.time = ?
                """, arguments: [vm, metric, time])
        }
    }
}

/// A fixed "now" after all the real traces, so none of them is "in the future".
let replayNow = UTC.epoch(year: 2026, month: 1, day: 1)

/// Decompresses (if needed) and splits a file into lines, independently of torpor's reader.
func sourceLines(_ path: String) throws -> [Substring] {
    let data: Data
    if path.hasSuffix(".gz") {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
    } else {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    }
    return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).filter { !$0.isEmpty }
}

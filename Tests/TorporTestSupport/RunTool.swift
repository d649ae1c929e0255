import Foundation

/// Runs one of the tools built with these tests (they sit beside the test bundle, whatever the configuration) as an
/// operator does: its exit status, what it printed on stdout and on stderr (or, with `stderrTo`, nothing of stderr:
/// it goes to that file, such as /dev/full).
public func runTool(_ tool: String, _ arguments: [String], stderrTo: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent(tool)
    process.arguments = arguments
    // The tool sees none of the jobs' settings a developer's shell may hold (TORPOR_STATE_POOL, TORPOR_EVENT_LOG, ...):
    // only those the test gives.
    process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TORPOR_") }.merging(environment) { $1 }
    let dir = try ScratchDirectory.make("torpor-tool")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let out = URL(fileURLWithPath: dir + "/stdout")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    let err = Pipe()
    process.standardError = try stderrTo.map { try FileHandle(forWritingTo: URL(fileURLWithPath: $0)) } ?? err
    process.standardOutput = try FileHandle(forWritingTo: out)
    try process.run()
    try err.fileHandleForWriting.close()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), stderr)
}

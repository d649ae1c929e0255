import Foundation
import TorporCore

/// One thing the executor did or decided, as a JSON line for alerting tools (`--event-log FILE`) and as text.
public struct ExecutionEvent: Codable, Equatable, Sendable {
    /// `hibernated`, `restored`, `failed`, `skipped`, `violation` (a restore finished after its deadline),
    /// `reconciled`, `would-hibernate`, `would-restore` (dry run), `pinned`, `paused`, `resumed`, `misconfigured` (a flag that
    /// names nothing the store knows).
    public var event: String
    public var time: String
    public var vm: String?
    public var host: String?
    public var action: String?
    public var detail: String
    public var seconds: Double?

    public init(event: String, time: EpochSeconds, vm: String? = nil, host: String? = nil, action: String? = nil, detail: String,
                seconds: Double? = nil) {
        self.event = event; self.time = UTC.format(time); self.vm = vm; self.host = host; self.action = action; self.detail = detail
        self.seconds = seconds.map { ($0 * 1000).rounded() / 1000 }
    }

    public var text: String {
        "\(time) \(event)" + (vm.map { " \($0)" } ?? "") + (seconds.map { String(format: " (%.1f s)", $0) } ?? "") + ": \(detail)"
    }
}

/// Appends events to a JSON-lines file, each line written whole.
final class EventLog: @unchecked Sendable {
    let path: String?
    private let lock = NSLock()
    private var recorded: [ExecutionEvent] = []

    /// What was recorded so far (a host's thread may still record after a pass returned).
    var events: [ExecutionEvent] { lock.withLock { recorded } }

    init(path: String?) { self.path = path }

    /// Keeps `event` and writes it out. The writes are outside the lock: a stderr or event log that blocks (a stalled
    /// journald, a hung network mount) holds up only the thread whose event it is, not every host's restores.
    func record(_ event: ExecutionEvent) {
        lock.withLock { recorded.append(event) }
        StandardError.line("torpor-execute: " + event.text)
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let line = try? encoder.encode(event) else { return }
        // O_APPEND: each line lands whole at the end, even with another executor writing the same file.
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return warn(String(cString: strerror(errno))) }
        defer { close(fd) }
        let data = line + Data("\n".utf8)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written != data.count { warn(written < 0 ? String(cString: strerror(errno)) : "a short write") }
    }

    /// Says on stderr that the event above did not reach the log.
    private func warn(_ problem: String) {
        StandardError.line("torpor-execute: the event log \(path ?? "") was not written (\(problem)): the event is on stderr only")
    }

    /// Why the event log at `path` cannot be appended to, or nil (a missing one is created by the first event, in a
    /// directory that can be written). Creates nothing.
    static func unwritable(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue { return "is a directory: give a file in it (e.g. \(path)/events.jsonl)" }
        let dir = (path as NSString).deletingLastPathComponent, checked = exists ? path : (dir.isEmpty ? "." : dir)
        guard access(checked, W_OK) != 0 else { return nil }
        let reason = String(cString: strerror(errno))
        return "cannot be written (\(exists ? "the file" : "its directory \(checked)"): \(reason))"
    }
}

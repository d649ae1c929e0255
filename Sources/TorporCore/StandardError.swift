import Foundation

/// Messages for a person on standard error. A message that cannot be written (a full disk under the log file, a
/// closed pipe) is dropped: it must never stop the work it is about, such as a restore.
public enum StandardError {
    /// Writes `text` and a line end.
    public static func line(_ text: String) { write(text + "\n") }

    /// Writes `text` as it is (a progress bar redrawn with `\r`).
    public static func write(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }

    /// Makes a write to a closed pipe an error the writer sees (and `line` drops) instead of a signal that kills the
    /// process; a tool calls it first.
    public static func surviveClosedPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}

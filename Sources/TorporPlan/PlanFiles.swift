import Foundation

/// Writes review and plan files whole or not at all: a temporary file beside the target, then a rename.
public enum PlanFiles {
    public static func write(_ data: Data, to path: String) throws(PlanError) {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw PlanError(.runtime, "\(path): cannot write: \(error.localizedDescription)")
        }
    }
}

import Foundation
import TorporCore
import TorporHash
import TorporStore

/// Plan and review files: written whole or not at all (`AtomicFile`: a file already there keeps its mode), named for
/// the time the plan was made, and removed by that name once older than the plans kept whole.
public enum PlanFiles {
    public static func write(_ data: Data, to path: String) throws(PlanError) {
        do {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            // Readable by the reviewers whatever the umask of whoever made it (a sudo's 077): the plans' folder decides who.
            try AtomicFile.write(data, to: path, newMode: 0o644)
        } catch {
            throw PlanError(.runtime, "\(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// The file name of a plan made at `time`: `plan-20131001T120000Z.json`, `dry-run-20131001T120000Z.json` for a dry
    /// run (what `torpor-plan make` writes by default, and the hourly job).
    public static func name(at time: EpochSeconds, dryRun: Bool) -> String {
        "\(dryRun ? dryRunPrefix : planPrefix)\(UTC.format(time).filter { $0 != "-" && $0 != ":" }).json"
    }

    /// The file among `names` (of `directory`) that holds a recorded plan (the file the store recorded, by its SHA-256):
    /// one named as a plan's (not a dry run's, which may hold the same bytes) for a time within `slack` seconds of when
    /// the plan was made (the hourly job names its file from the clock just before make reads it), if there is one.
    public static func file(of plan: PlanHeader, in directory: String, names: [String], slack: EpochSeconds = 300) -> String? {
        names.filter { $0.hasPrefix(planPrefix) && time(named: $0).map { abs($0 - plan.createdAt) <= slack } ?? false }
            .map { (directory as NSString).appendingPathComponent($0) }
            .first { (try? SHA256.hexDigest(ofFile: $0)) == plan.fileSHA256 }
    }

    /// The time a file named by `name(at:dryRun:)` is named for (also with `-` and a plan id's first 12 hex digits
    /// before `.json`: two plans made in one second); nil for any other name.
    public static func time(named name: String) -> EpochSeconds? {
        guard name.hasSuffix(".json"), let prefix = [planPrefix, dryRunPrefix].first(where: name.hasPrefix) else { return nil }
        var stamp = Array(name.dropFirst(prefix.count).dropLast(5))
        if stamp.count == 29, stamp[16] == "-", stamp[17...].allSatisfy(\.isHexDigit) { stamp = Array(stamp.prefix(16)) }
        guard stamp.count == 16, stamp[8] == "T", stamp[15] == "Z" else { return nil }
        let d = String(stamp[0..<8]), t = String(stamp[9..<15])
        return UTC.parseISO8601("\(d.prefix(4))-\(d.dropFirst(4).prefix(2))-\(d.suffix(2))T\(t.prefix(2)):\(t.dropFirst(2).prefix(2)):\(t.suffix(2))Z")
    }

    /// Deletes the files in `directory` named for a plan made before `before` (`name(at:dryRun:)`); every other file
    /// stays. Returns their names, sorted; a directory that does not exist holds none.
    public static func prune(in directory: String, before: EpochSeconds) throws(PlanError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch CocoaError.fileReadNoSuchFile {
            return []
        } catch {
            throw PlanError(.runtime, "\(directory): cannot list the plan files: \(error.localizedDescription)")
        }
        let old = names.filter { time(named: $0).map { $0 < before } ?? false }.sorted()
        for name in old {
            let path = (directory as NSString).appendingPathComponent(name)
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw PlanError(.runtime, "\(path): cannot remove the old plan file: \(error.localizedDescription)")
            }
        }
        return old
    }

    static let planPrefix = "plan-", dryRunPrefix = "dry-run-"
}

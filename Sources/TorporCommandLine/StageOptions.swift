import ArgumentParser
import Foundation
import TorporCore
import TorporStore

/// The options every stage shares: where the store is, and the time to act as if it were (`--now`, for replay).
public struct StageOptions: ParsableArguments {
    @Option(help: "The store file (default: $TORPOR_DB, else ./torpor.db).")
    public var db: String?

    @Option(help: "The current time, ISO-8601 or Unix seconds from 2000 on, to replay history (default: the clock).")
    public var now: String?

    public init() {}

    public func validate() throws {
        try refuseUnreadableInstant(now, flag: "--now")
        try refuseEmptyStorePath(flag: db)
    }

    public var nowSeconds: EpochSeconds { now.flatMap(UTC.parseInstant) ?? EpochSeconds(Date().timeIntervalSince1970) }
    public var storePath: String { Store.resolvePath(flag: db) }
    /// The store, migrated to this torpor's schema (or, with `migrating` false, refused if it would need that); refused
    /// when missing (these stages act on what torpor-ingest recorded: a wrong `--db` must not look like an empty fleet).
    /// `reserve`: what is done with the room kept beside it for restores (`StoreReserve`): needed by a stage that records.
    public func openStore(migrating: Bool = true, tolerateNewerSchema: Bool = false, reserve: StoreReserve.Use = .kept) throws -> Store {
        try Store(path: storePath, migrating: migrating, creating: false, tolerateNewerSchema: tolerateNewerSchema, reserve: reserve)
    }
}

/// Refuses a time given on the command line (`flag`: --now, --from, --until) that is neither ISO-8601 nor Unix seconds
/// from 2000 on, or an ISO-8601 one without its zone: read as UTC, an operator's local time would replay other hours.
public func refuseUnreadableInstant(_ text: String?, flag: String) throws {
    guard let text else { return }
    guard UTC.parseInstant(text) != nil else { throw ValidationError("\(flag) '\(text)' is neither an ISO-8601 time nor Unix seconds from 2000 on") }
    if text.contains(where: { !$0.isNumber }), !UTC.namesItsZone(text) {
        throw ValidationError("\(flag) '\(text)' has no zone: give Z or an offset (2013-09-30T00:00:00Z, 2013-09-30T02:00:00+02:00), or Unix seconds")
    }
}

/// A `--now` more than an hour ahead of the clock, said as a usage error that begins with it and the clock and goes on
/// with `consequence` (a typo there would drop the newest history, or record a plan as the newest until then); nil when
/// it is not ahead.
public func aheadOfTheClock(_ now: EpochSeconds, _ consequence: String) -> ValidationError? {
    let clock = EpochSeconds(Date().timeIntervalSince1970)
    return now > clock + 3600 ? ValidationError("--now \(UTC.format(now)) is ahead of the clock (\(UTC.format(clock))): " + consequence) : nil
}

/// A `--now` more than an hour from the clock either way, said as a usage error that begins with it and goes on with
/// `consequence` (a command that acts on the hosts' VMs as they are now); nil when it is within the hour.
public func awayFromTheClock(_ now: EpochSeconds, _ consequence: String) -> ValidationError? {
    abs(now - EpochSeconds(Date().timeIntervalSince1970)) > 3600 ? ValidationError("--now \(UTC.format(now)) is more than an hour from the clock: " + consequence) : nil
}

/// A path among the jobs' settings (`environmentSetting`); a relative one is refused: the jobs run from / (systemd) or
/// root's home (cron), a person from anywhere, and each would use another file.
public func environmentPath(_ name: String) throws(StageError) -> String? {
    guard let value = environmentSetting(name) else { return nil }
    guard value.hasPrefix("/") else {
        throw StageError(.badInput, "\(name) '\(value)' is a relative path: the jobs and a person's commands run from different "
                         + "directories and would use different files; give an absolute path")
    }
    return value
}

/// Refuses an empty `--db` (a script's unset variable: it had become ./torpor.db, a new store where the job runs). A
/// relative `$TORPOR_DB` is refused by install.sh and by torpor-ingest, which makes stores; refused by every stage, it
/// would stop the executor's restores.
public func refuseEmptyStorePath(flag: String?) throws {
    if flag == "" { throw ValidationError("--db is empty (an unset variable?): give the store's file, or leave --db out for $TORPOR_DB, else ./torpor.db") }
}

/// A setting of the jobs' shared environment (pipelines/torpor.env), nil when unset or empty: the default of a flag
/// that a person's command by hand must agree with the jobs on.
public func environmentSetting(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

/// The policy file of a stage that plans, replays plans or reads a plan's settings: `--policy`, else `$TORPOR_POLICY`
/// (the jobs' shared environment; empty: the embedded default, as the hourly job reads it), else the embedded default.
/// A plan made by hand must be made, and reviewed, under the jobs' policy: one of another policy may hibernate a VM
/// the policy in force excludes or keeps up.
public struct PolicyOption: ParsableArguments {
    @Option(help: "The policy file (YAML; default: $TORPOR_POLICY, else the embedded default, see sample-data/policy.yaml).")
    public var policy: String?

    public init() {}

    /// The file to read, nil for the embedded default. A relative `$TORPOR_POLICY` is refused: the jobs run from / (systemd)
    /// or root's home (cron), a person from anywhere, and each would read another file.
    public func path() throws -> String? {
        if let policy { return policy }
        return try environmentPath("TORPOR_POLICY")
    }

    /// How a person's shell gets the jobs' settings, `$TORPOR_POLICY` among them.
    public static let loadTheJobsEnvironment = "load the jobs' environment file: set -a; . /etc/torpor/torpor.env; set +a"

    /// Whether the policy in force is known here: given, or `$TORPOR_POLICY` set (even empty: the embedded default).
    public var inForceKnown: Bool { policy != nil || ProcessInfo.processInfo.environment["TORPOR_POLICY"] != nil }
}

/// Who a person's command is recorded as: `--by`, else the user behind sudo, else the user; an empty one is passed
/// over (`--by "$WHO"` with the variable unset had recorded an approval by nobody), never refused (a wake must go on).
public func operatorName(_ by: String?) -> String {
    let env = ProcessInfo.processInfo.environment
    return [by, env["SUDO_USER"], env["USER"]].lazy.compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? "unknown"
}

/// Runs a command's body, mapping errors to the documented exit codes with the message on stderr, prefixed by the
/// command's name: a `StageError` by its kind, anything else (store, libvirt) as a runtime failure.
public func exitingOnError(_ command: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as StageError {
        StandardError.line("\(command): \(error.message)")
        throw ExitCode(error.exitCode)
    } catch let error as ExitCode {
        throw error
    } catch {
        StandardError.line("\(command): \(error)")
        throw ExitCode(1)
    }
}

/// A torpor tool's root command: usage errors (an unknown option, a bad `--now`, a missing argument) exit 2, the
/// documented code for bad input, instead of ArgumentParser's 64.
public protocol TorporTool: ParsableCommand {}

extension TorporTool {
    public static func main() {
        StandardError.surviveClosedPipes()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            StandardError.line(fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

/// The time zone whose week the fleet keeps (`WeekClock`), for the stages that forecast: train, plan and backtest read
/// the same `$TORPOR_ZONE` (pipelines/torpor.env).
public struct WeekOptions: ParsableArguments {
    @Option(help: "The time zone whose office hours the fleet's demand follows, e.g. Europe/Amsterdam: the hour-of-week profile keeps local time across daylight-saving changes (default: $TORPOR_ZONE, else UTC).")
    public var zone: String?

    public init() {}

    var name: String { zone ?? environmentSetting("TORPOR_ZONE") ?? "UTC" }

    public func validate() throws {
        guard WeekClock(zone: name) == nil else { return }
        throw ValidationError(WeekClock.unknownZone(zone == nil ? "TORPOR_ZONE" : "--zone", name))
    }

    public var clock: WeekClock { WeekClock(zone: name) ?? .utc }
}

import ArgumentParser
import Foundation
import Logging
import TorporCommandLine
import TorporCore
import TorporIngest
import TorporStore

@main
struct TorporIngestCommand: TorporTool {
    static let configuration = CommandConfiguration(
        commandName: "torpor-ingest",
        abstract: "Bring VM utilization history and inventory into the torpor store.",
        discussion: """
            Sources:
              csv         CSV files, plain or gzip: long (vm,metric,time,value),
                          or wide (a column per metric, or per VM)
              prometheus  query_range JSON, text exposition / OpenMetrics
                          files, or the live HTTP API
              calendar    iCalendar files: demand, keep-awake, freeze, holiday
                          events known ahead
              libvirt     statistics of every domain of a libvirt host:
                          CPU, memory, network and disk rates (every 5 min)
              inventory   the domains of a libvirt host: name, host, vCPUs,
                          memory, labels
            Then `status` shows what the store covers; `prune` drops
            samples older than the retention (nightly).

            The store is --db, else $TORPOR_DB, else ./torpor.db. Every source
            is one transaction: a source with bad input adds nothing.
            Ingesting the same content again adds nothing.

            Exit codes: 0 ok; 1 runtime failure (store, libvirt, server);
            2 bad input or usage (the message names the file and line);
            3 nothing to do.
            """,
        subcommands: [CSVCommand.self, PrometheusCommand.self, CalendarCommand.self, LibvirtCommand.self, InventoryCommand.self, ReleaseCommand.self, PruneCommand.self, StatusCommand.self])
}

/// `--replay`, for the commands that record what they read as of `--now` (the ingests, prune).
struct ReplayFlag: ParsableArguments {
    @Flag(help: "Allow a --now ahead of the clock (for libvirt and inventory, which read the hosts as they are now: any --now): a replay on hosts or a store set up for it (a test driver, a test guest, a copy).")
    var replay = false
}

/// Options every subcommand shares.
struct StoreOptions: ParsableArguments {
    @Option(help: "The store file (default: $TORPOR_DB, else ./torpor.db).")
    var db: String?

    @Option(help: "The current time, ISO-8601 or Unix seconds from 2000 on, to replay history (default: the clock).")
    var now: String?

    @Flag(name: .shortAndLong, help: "Log more.")
    var verbose = false

    func validate() throws {
        try refuseUnreadableInstant(now, flag: "--now")
        try refuseEmptyStorePath(flag: db)
        // The stage that makes a store refuses a relative $TORPOR_DB (the jobs run from /, a person from anywhere: each
        // would make and fill its own); the others only open what is there, and the executor must never be stopped by it.
        if db == nil {
            if ProcessInfo.processInfo.environment["TORPOR_DB"] == "" {
                throw ValidationError("TORPOR_DB is set but empty (an unset variable?): give the store's absolute path, or unset it for ./torpor.db")
            }
            do { _ = try environmentPath("TORPOR_DB") } catch { throw ValidationError(error.message) }
        }
    }

    var nowSeconds: EpochSeconds {
        now.flatMap(UTC.parseInstant) ?? EpochSeconds(Date().timeIntervalSince1970)
    }

    /// Refuses a `--now` ahead of the clock (a typo) in a command that records what it reads, unless `replay`: recorded as of then, it
    /// stays unseen by every stage until that time, and a collection's counters leave every later one without rates.
    func refuseAheadOfTheClock(_ replay: ReplayFlag) throws {
        if !replay.replay, let ahead = aheadOfTheClock(nowSeconds, "what it reads would be recorded as of then; nothing ingested (--replay on hosts set up for a replay)") {
            throw ahead
        }
    }

    /// Refuses any `--now` in a command that reads the hosts as they are now (the collector, the inventory), unless
    /// `replay`: stamped at another time, a collection's rates divide the counters' real change by a made-up interval (a
    /// busy VM read idle, then the next one read high, and the first value written stays), and the inventory records
    /// today's hosts as of then.
    func refuseAwayFromTheClock(_ replay: ReplayFlag) throws {
        if !replay.replay, now != nil {
            throw ValidationError("--now \(UTC.format(nowSeconds)): this command reads the hosts as they are now and would record it as of then "
                                  + "(a collection's rates over a made-up interval); nothing ingested (--replay on hosts set up for a replay: a test driver, a test guest)")
        }
    }

    /// A logger to stderr at the level the flags ask for.
    func logger(_ label: String) -> Logger {
        _ = loggingToStandardError
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .info
        return logger
    }

    /// The store, created when missing unless `creating` is false (a command that only reads or changes what is there);
    /// `reserve`: what is done with the room kept beside it for restores (`StoreReserve`): needed by a command that records.
    func openStore(creating: Bool = true, reserve: StoreReserve.Use = .kept) throws -> Store {
        do {
            return try Store(path: Store.resolvePath(flag: db), creating: creating, reserve: reserve)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// Logs go to stderr; machine output stays alone on stdout. Bootstrapped once per process.
let loggingToStandardError: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)

func printError(_ message: String) {
    StandardError.line("torpor-ingest: " + message)
}

/// Ingests each source in turn, printing its report (JSON or one line) and warnings. Every source is tried; the
/// exit code is the worst: 1 if any runtime failure, else 2 if any bad input.
func runEach(_ sources: [() throws -> IngestReport], json: Bool, logger: Logger) throws {
    var failures = SourceFailures()
    for ingest in sources {
        let report: IngestReport
        do {
            report = try ingest()
        } catch let error as IngestError {
            failures.add(error)
            if json { print(String(decoding: try JSONEncoder().encode(error.report), as: UTF8.self)) }   // one line per source, failed ones too
            continue
        }
        print(json ? String(decoding: try JSONEncoder().encode(report), as: UTF8.self) : report.summary)
        for warning in report.warnings { logger.warning("\(report.path): \(warning)") }
    }
    try failures.throwIfAny()
}

/// The failures of a command's sources, each printed as it comes: the command's exit code once all were tried, a
/// runtime failure (1) before bad input (2).
struct SourceFailures {
    private var failed = false, badInput = false

    mutating func add(_ error: IngestError) {
        if reportFailure(error) == ExitCode(2) { badInput = true } else { failed = true }
    }

    func throwIfAny() throws {
        if failed { throw ExitCode(1) }
        if badInput { throw ExitCode(2) }
    }
}

/// Prints an ingest error and gives its exit code: 2 for bad input, 1 for a runtime failure.
func reportFailure(_ error: IngestError) -> ExitCode {
    printError(error.description)
    return ExitCode(error.isBadInput ? 2 : 1)
}

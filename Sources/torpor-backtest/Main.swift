import ArgumentParser
import Foundation
import TorporBacktest
import TorporCommandLine
import TorporCore
import TorporPlan

@main
struct TorporBacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torpor-backtest",
        abstract: "Replay history through the planner and score torpor against the alternatives.",
        discussion: """
            Walks hour by hour over the replay period (default: the 7 days before --now). Each hour every
            strategy decides from the data before that hour only, through the production planner and policy:
            torpor (the promoted model if it was trained before the period, else the hour-of-week profile),
            seasonal naive, and the oracle (the actual future); plus a reactive idle-timeout policy and a fixed
            office-hours schedule. Scored against the actual demand: captured idle VM-hours (and their share of
            the oracle's), demand hours spent asleep, demand episodes missed or preceded by a restore,
            hibernations. Missing hours are never counted as idle.

            Exit codes: 0 ok; 1 runtime failure; 2 usage or a bad policy.
            """)

    @OptionGroup var common: StageOptions
    @Option(help: "The policy file (default: the embedded default).") var policy: String?
    @Option(help: "Start of the replay, ISO-8601 (default: --now minus --days).") var from: String?
    @Option(help: "Days replayed when --from is not given.") var days = 7
    @Option(help: "Also write the report as JSON to this file.") var json: String?

    func validate() throws {
        if let from, UTC.parseInstant(from) == nil { throw ValidationError("--from '\(from)' is not an ISO-8601 time") }
        if days < 1 { throw ValidationError("--days must be at least 1") }
    }

    func run() throws {
        try exitingOnError("torpor-backtest") {
            let (policy, _) = try Policy.load(path: policy)
            let to = common.nowSeconds
            let start = from.flatMap(UTC.parseInstant) ?? to - Int64(days) * 86_400
            guard start < to else { throw StageError(.badInput, "--from \(UTC.format(start)) is not before --now \(UTC.format(to))") }
            let report = try Backtest(store: try common.openStore(), policy: policy, from: start, to: to).run()
            print(BacktestTable.render(report))
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            }
        }
    }
}

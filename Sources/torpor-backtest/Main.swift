import ArgumentParser
import Foundation
import TorporBacktest
import TorporCommandLine
import TorporCore
import TorporForecast
import TorporPlan
import TorporStore

@main
struct TorporBacktestCommand: TorporTool {
    static let configuration = CommandConfiguration(
        commandName: "torpor-backtest",
        abstract: "Replay history through the planner and score torpor against the alternatives.",
        discussion: """
            Walks hour by hour over the replay period (default: the 7 days before --now). Each hour every
            strategy decides from the data before that hour only, through the production planner and policy:
            torpor (the promoted model if it was trained before the period and this version reads it, else the
            hour-of-week profile) and
            seasonal naive; a reactive idle-timeout policy and a fixed office-hours schedule; and the oracle
            (perfect foresight: every known stretch without demand longer than the break-even asleep, back
            exactly as demand returns: the most any strategy can capture without a violation). Scored against the actual demand at the resolution of its samples, every
            restore paying its time (measured p95, else default_restore_seconds): captured idle VM-hours (and
            their share of the oracle's), demand intervals that found the VM asleep or still restoring, minutes
            of demand missed, demand episodes missed or preceded by a restore, hibernations per VM-day, state
            written. Missing data is never counted as idle.

            Exit codes: 0 ok; 1 runtime failure; 2 usage or a bad policy.
            """)

    @OptionGroup var common: StageOptions
    @OptionGroup var week: WeekOptions
    @OptionGroup var policyFile: PolicyOption
    @Option(help: "Start of the replay, ISO-8601 (default: --now minus --days).") var from: String?
    @Option(help: "Days replayed when --from is not given.") var days = 7
    @Option(help: "Also write the report as JSON to this file.") var json: String?
    @Option(help: "Also write a page with the trade-off curves and per-VM timelines (runs the sweep).") var html: String?
    @Flag(help: "Sweep each strategy's settings and compare them at equal violations (trade-off curves).") var sweep = false
    @Option(help: "Also write the trade-off curves alone as an SVG file (runs the sweep).") var svg: String?
    @Option(help: "Walk forward: retrain every N days on the data before each block (nothing is recorded); default: the newest promoted model trained before --from.") var retrainEvery: Int?
    @Option(help: "Threads: OpenBLAS's for walk-forward training, then the sweep's replays run this many at a time.") var threads = 1
    @Flag(help: "Also print each VM's scores: torpor, the reactive timeout and the oracle, furthest short of the oracle first.") var perVm = false

    func validate() throws {
        try refuseUnreadableInstant(from, flag: "--from")
        if days < 1 { throw ValidationError("--days must be at least 1") }
        if !BLAS.threadCounts.contains(threads) { throw ValidationError("--threads \(threads): give \(BLAS.threadCounts.lowerBound) to \(BLAS.threadCounts.upperBound)") }
        if let retrainEvery, retrainEvery < 1 { throw ValidationError("--retrain-every must be at least 1 (days)") }
        // Found before a replay of many minutes, not after it: the nearest directory there must be writable (the
        // missing ones are created).
        func isDirectory(_ path: String) -> Bool {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
        }
        for (flag, path) in [("--json", json), ("--html", html), ("--svg", svg)] {
            guard let path else { continue }
            if isDirectory(path) { throw ValidationError("\(flag) \(path) is a directory: give a file") }
            var dir = (path as NSString).deletingLastPathComponent
            while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir) { dir = (dir as NSString).deletingLastPathComponent }
            let shown = dir.isEmpty ? "." : dir
            guard isDirectory(shown), FileManager.default.isWritableFile(atPath: shown) else {
                throw ValidationError("\(flag) \(path): \(shown) is not a directory this user can write")
            }
        }
    }

    func run() throws {
        try exitingOnError("torpor-backtest") {
            let policyPath = try policyFile.path()
            let (policy, _) = try Policy.load(path: policyPath)
            let to = common.nowSeconds
            let start = from.flatMap(UTC.parseInstant) ?? to - Int64(days) * 86_400
            guard start < to else { throw StageError(.badInput, "--from \(UTC.format(start)) is not before --now \(UTC.format(to))") }
            BLAS.setThreads(threads)
            let store = try common.openStore(reserve: .untouched)   // it records nothing
            // Refused as torpor-plan make refuses it: every VM is replayed.
            try policy.refuseConflicts(vms: try store.read { try VMRepository.all(in: $0) }.map { (name: $0.name, labels: $0.labels) },
                                       source: policyPath ?? "the embedded default policy")
            var backtest = Backtest(store: store, policy: policy, from: start, to: to)
            backtest.retrainEveryDays = retrainEvery
            backtest.clock = week.clock
            backtest.log = { StandardError.line("torpor-backtest: \($0)") }
            try backtest.prepareForecasts()
            let report = try backtest.run()
            print(BacktestTable.render(report))
            if perVm { print("\n" + BacktestTable.perVM(report)) }
            var points: [BacktestSweep.Point] = []
            if sweep || html != nil || svg != nil {
                BLAS.setThreads(1)   // the sweep's workers each forecast on one thread
                points = try BacktestSweep(backtest).run(workers: threads) { line in
                    StandardError.line("torpor-backtest: \(line)")
                }
                let swept = Strategy.allCases.filter { s in points.contains { $0.strategy == s.rawValue } }
                print("\ntrade-off: the most idle VM-hours each strategy captures at or under a share of demand intervals violated")
                print("violations ≤   " + swept.map { $0.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined())
                for limit in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05] {
                    let best = BacktestSweep.capturedAt(violations: limit, points)
                    print(String(format: "%5.1f %%       ", 100 * limit) + swept.map { s in
                        (best[s.rawValue].map { String(format: "%.0f", $0.capturedHours) } ?? "-").padding(toLength: 16, withPad: " ", startingAt: 0)
                    }.joined())
                }
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                struct Output: Encodable { var report: BacktestReport; var sweep: [BacktestSweep.Point] }
                try PlanFiles.write(encoder.encode(Output(report: report, sweep: points)), to: json)
            }
            if let svg {
                try PlanFiles.write(Data(BacktestPage.curves(points).utf8), to: svg)
                StandardError.line("torpor-backtest: wrote \(svg)")
            }
            if let html {
                try PlanFiles.write(Data(BacktestPage.html(report, sweep: points).utf8), to: html)
                StandardError.line("torpor-backtest: wrote \(html)")
            }
        }
    }
}

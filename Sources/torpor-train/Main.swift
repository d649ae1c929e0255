import ArgumentParser
import Foundation
import TorporCommandLine
import TorporCore
import TorporForecast
import TorporStore
import TorporTrain

@main
struct TorporTrainCommand: TorporTool {
    static let configuration = CommandConfiguration(
        commandName: "torpor-train",
        abstract: "The nightly training stage: a quantile forecaster of every VM's demand, promoted only if it beats the baselines.",
        discussion: """
            Reads hourly demand (the max of each hour's samples; gaps, absent VMs and hibernations are missing)
            over the last 90 days, holds out the last 7, trains one global LSTM (per-VM scaling), and records the
            run in the store's registry with its validation pinball loss per quantile next to the baselines
            (seasonal naive day and week, hour-of-week profile). It is promoted per quantile: it serves
            the quantiles where it beats the best baseline, and each other quantile the baseline that forecast it
            best; if none, the planner keeps the previous promoted model, else serves those baselines. VMs with less
            than 3 days of history are marked not predictable. Run again within the same hour on the same data
            with the same settings (a retry), it trains nothing and records nothing new ("unchanged").

            Exit codes: 0 ok (promoted or not: see the report); 1 runtime failure; 2 bad input or usage (an unknown run);
            3 nothing to do (demote of a run that was not promoted).
            """,
        subcommands: [Train.self, List.self, Show.self, Forecast.self, Demote.self],
        defaultSubcommand: Train.self)
}


struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train, evaluate and record a model (the nightly job).")

    @OptionGroup var common: StageOptions
    @OptionGroup var week: WeekOptions
    @Option(help: "Training epochs.") var maxEpochs = 12
    @Option(help: "Seed of initialization and data order.") var seed: UInt64 = 42
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(help: "Hold out the last 1/N of each VM's training windows, by time, for early stopping (0: no early stopping, train every epoch).") var stoppingEvery = 0
    @Flag(help: "Memory, network and disk use as extra inputs where the store has them.") var context = false
    @Option(help: "Hours of history the model reads per forecast.") var lookback = 168
    @Option(help: "LSTM hidden size.") var hidden = 32
    @Option(help: "Days of history read before --now.") var historyDays = 90
    @Option(help: "The most recent days, held out for validation and promotion.") var validationDays = 7

    func validate() throws {
        if lookback < 24 || !(1...ModelFile.largestSize).contains(hidden) || maxEpochs < 1 || historyDays < 1 || validationDays < 1 || validationDays >= historyDays {
            throw ValidationError("--lookback must be at least 24, --hidden 1 to \(ModelFile.largestSize) (a model file holds no larger), --max-epochs and --history-days at least 1, "
                                  + "and --validation-days between 1 and --history-days")
        }
        if !BLAS.threadCounts.contains(threads) { throw ValidationError("--threads \(threads): give \(BLAS.threadCounts.lowerBound) to \(BLAS.threadCounts.upperBound)") }
        // Holding out every window (1/1) leaves none to train on: the run would be recorded as "not enough history".
        if stoppingEvery < 0 || stoppingEvery == 1 {
            throw ValidationError("--stopping-every \(stoppingEvery)" + (stoppingEvery == 1 ? " holds out every training window" : " is no share")
                                  + ": give 0 (no early stopping) or 2 and more")
        }
        // The days before the validation days must hold one training window: the lookback, the six days of lags before
        // it and the horizon after (else every VM is refused as having too little history).
        let before = (historyDays - validationDays) * 24, window = lookback + 144 + TrainingConfig().horizon
        if before <= window {
            throw ValidationError("--history-days \(historyDays) leaves \(before) hours before the \(validationDays) validation days; "
                                  + "one training window needs more than \(window) (--lookback \(lookback), six days of lags, the \(TrainingConfig().horizon)-hour horizon)")
        }
        // A run recorded as trained on data up to a time to come (a --now typo) would be served as the newest from then
        // on, over the nightly runs made before it, and look younger than it is.
        if let ahead = aheadOfTheClock(common.nowSeconds, "a run recorded then would be served as the newest until that time; nothing trained") {
            throw ahead
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        var config = TrainingConfig()
        config.maxEpochs = maxEpochs
        config.seed = seed
        config.stoppingEvery = stoppingEvery
        config.input = ModelInput(usesContext: context, clock: week.clock)
        config.lookback = lookback
        config.hiddenSize = hidden
        config.historyDays = historyDays
        config.validationDays = validationDays
        let tty = isatty(STDERR_FILENO) == 1
        if let warning = BLAS.slowKernelWarning() { StandardError.line("torpor-train: warning: \(warning)") }
        let (run, recorded) = try Trainer(store: try common.openStore(), config: config).run(now: common.nowSeconds) { line in
            // On a terminal the epochs draw one progress bar; elsewhere (cron, logs) one line per epoch.
            if tty, line.hasPrefix("epoch "), let slash = line.firstIndex(of: "/"), let colon = line.firstIndex(of: ":"),
               let epoch = Int(line[line.index(line.startIndex, offsetBy: 6)..<slash]), let total = Int(line[line.index(after: slash)..<colon]) {
                let done = 30 * epoch / max(1, total)
                StandardError.write("\rtorpor-train [" + String(repeating: "#", count: done) + String(repeating: "-", count: 30 - done) + "] " + line
                                    + (epoch == total ? "\n" : ""))
            } else {
                StandardError.line((tty ? "\n" : "") + "torpor-train: " + line)
            }
        }
        if !recorded {
            print("unchanged: run #\(run.id) was trained in this hour on the same data with the same settings; nothing new recorded")
        }
        print(Report.render(run))
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the registry's runs.")
    @OptionGroup var common: StageOptions

    func run() throws {
        for r in try common.openStore(reserve: .untouched).read({ try ModelRegistry.runs(in: $0) }) {
            print("#\(r.id)  \(UTC.format(r.createdAt))  \(r.promoted ? "promoted" : "not promoted")  \(String(format: "%.1f", r.seconds)) s  \(r.reason)")
        }
    }
}

struct Demote: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a promoted run's promotion back (a model that planned badly): the planner serves the newest promoted run before it, else the profile.",
        discussion: "The VMs the newest run judged on its model that no serving model forecasts stay running until a newer run judges them. Exit 2 for an unknown run, 3 for one not promoted.")
    @OptionGroup var common: StageOptions
    @Argument(help: "The run id (torpor-train list).") var id: Int64
    @Option(help: "Why (recorded in the run's reason).") var reason: String
    @Option(help: "Who demotes it (default: $SUDO_USER, else $USER).") var by: String?

    func run() throws {
        try exitingOnError("torpor-train") {
            let store = try common.openStore()
            let now = common.nowSeconds
            let outcome = try store.transaction { try ModelRegistry.demote(id: id, by: operatorName(by), why: reason, at: now, in: $0) }
            switch outcome {
            case .unknownRun: throw StageError(.badInput, "no run #\(id) in the registry (torpor-train list)")
            case .notPromoted: throw StageError(.nothingToDo, "run #\(id) is not promoted: nothing to demote")
            case .demoted:
                let serving = try DemandForecaster(store: store, trainedBefore: now)
                print("run #\(id) demoted; the planner now serves " + (serving.run.map { "model #\($0.id)" } ?? "the " + serving.baselinesName)
                      + "; the VMs the newest run judged on run #\(id)'s model that no serving model forecasts stay running until a newer run judges them")
            }
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one run: metrics and per-VM verdicts.")
    @OptionGroup var common: StageOptions
    @Argument(help: "The run id.") var id: Int64

    func run() throws {
        try exitingOnError("torpor-train") {
            guard let r = try common.openStore(reserve: .untouched).read({ try ModelRegistry.runs(in: $0) }).first(where: { $0.id == id }) else {
                throw StageError(.badInput, "no run #\(id) in the registry \(common.storePath) (torpor-train list shows them)")
            }
            print(Report.render(r))
        }
    }
}

struct Forecast: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print one VM's forecast for the next hours, as the planner would get it.")
    @OptionGroup var common: StageOptions
    @OptionGroup var week: WeekOptions
    @Option(help: "The VM.") var vm: String
    @Option(help: "Hours ahead (1 to 168).") var horizon = 24
    @Option(help: "Also show this quantile, interpolated between the two around it as the planner does for a tier that decides by it (e.g. 0.75).")
    var quantile: Float?

    func validate() throws {
        guard (1...168).contains(horizon) else { throw ValidationError("--horizon \(horizon): give 1 to 168 hours") }
    }

    func run() throws {
        let store = try common.openStore(reserve: .untouched)
        let now = common.nowSeconds
        let hour0 = UTC.floor(now)
        var forecaster = try DemandForecaster(store: store, horizon: horizon, trainedBefore: now)
        forecaster.clock = week.clock
        let (series, calendar) = try store.read { db in
            guard let record = try VMRepository.all(in: db).first(where: { $0.name == vm }) else { throw ValidationError("no VM named '\(vm)' in the store") }
            return (try HourlySeries.loadExcludingSleeps(vm: vm, from: hour0 - Int64(forecaster.historyHours) * 3600, to: hour0, now: now,
                                                         context: forecaster.needsContext, in: db),
                    try CalendarHours.load(vms: [record], from: hour0, to: hour0 + Int64(horizon) * 3600, knownBy: now, in: db))
        }
        if let why = forecaster.unservedBecause { StandardError.line("torpor-train: warning: \(why)") }
        guard var f = forecaster.forecast([(vm, series)], calendar: calendar)[vm] else { throw ValidationError("no forecast for \(vm)") }
        if let q = quantile {
            guard let with = f.including(quantile: q) else {
                throw ValidationError("--quantile \(q) is outside the forecast's quantiles (\(f.quantiles.map { "\($0)" }.joined(separator: ", ")))")
            }
            f = with
        }
        print("\(vm): forecast from \(UTC.format(f.start)) by \(f.source); demand in % of allocated vCPUs")
        print("hour (UTC)             " + f.quantiles.map { "q\($0)".padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "  q\(f.quantiles.last!) as a bar")
        for (k, values) in f.values.enumerated() {
            let top = values.last ?? .nan
            let bar = top.isNaN ? "(unknown)" : String(repeating: "█", count: Int((min(100, max(0, top)) / 2).rounded()))
            print(UTC.format(f.start + Int64(k) * 3600) + "   " + values.map { ($0.isNaN ? "-" : String(format: "%.1f", $0)).padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "  " + bar)
        }
    }
}

enum Report {
    static func render(_ r: ModelRun) -> String {
        var lines = ["run #\(r.id) at \(UTC.format(r.createdAt)), data \(UTC.format(r.dataFrom)) … \(UTC.format(r.dataTo)), \(String(format: "%.1f", r.seconds)) s",
                     r.promoted ? "PROMOTED: \(r.reason)" : r.reason]
        if let fallbacks = r.hyperparameters["fallbacks"] {
            lines.append("fallbacks (each quantile's best baseline, served " + (r.promoted ? "where the model does not" : "while no model does") + "): \(fallbacks)")
        }
        lines.append("validation (pinball loss in scaled units; coverage: share of actuals at or under the quantile):")
        for (k, v) in r.metrics.sorted(by: { $0.key < $1.key }) { lines.append("  \(k): \(String(format: "%.5f", v))") }
        lines.append("VMs:")
        for v in r.vms { lines.append("  \(v.vm): \(v.predictable ? "predictable" : "NOT predictable"), \(v.reason)") }
        return lines.joined(separator: "\n")
    }
}

import Foundation
import GRDB
import Testing
import TorporCore
import TorporForecast
import TorporIngest
import TorporStore
@testable import TorporTrain

/// The nightly run on the demo fleet (seven real Bitbrains VMs, 35 days), as `make demo` ingests it.
@Suite(.serialized) struct TrainerTests {
    static let now = UTC.epoch(year: 2013, month: 9, day: 30)

    static func demoStore() throws -> Store {
        let (store, _) = try scratchStore()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var mapping = try CSVMapping.load(path: repo + "/sample-data/mappings/bitbrains.yaml")
        mapping.vm?.prefix = ""
        for file in try FileManager.default.contentsOfDirectory(atPath: repo + "/sample-data/traces/bitbrains").filter({ $0.hasSuffix(".csv.gz") }) {
            _ = try CSVIngester(store: store).ingest(path: repo + "/sample-data/traces/bitbrains/" + file, mapping: mapping, now: now)
        }
        _ = try store.transaction { try VMRepository.id(of: "new-vm", in: $0, now: now) }   // registered, no history
        return store
    }

    @Test func aRunIsRecordedWithVerdictsPerVM() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 8
        let run = try Trainer(store: store, config: config).run(now: Self.now).run
        print("run #\(run.id): promoted \(run.promoted): \(run.reason)")
        for (k, v) in run.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        #expect(run.metrics["pinball q0.9 model"] != nil && run.metrics["pinball q0.9 seasonalNaiveDay"] != nil)
        let coverage = try #require(run.metrics["coverage q0.9 model"])
        #expect(coverage > 0.5 && coverage <= 1, "q0.9 covers \(coverage) of the validation actuals")
        #expect(Int(run.hyperparameters["best_epoch"] ?? "") ?? 0 >= 1, "the kept weights are those of the best early-stopping epoch")
        #expect(run.hyperparameters["blas"]?.hasSuffix(" threads") == true, "the kernels and threads its float sums depend on are recorded")
        let newVM = try #require(run.vms.first { $0.vm == "new-vm" })
        #expect(!newVM.predictable && newVM.reason.contains("too little history"))
        // batch-01's bursts come at no hour its history foretells: it is judged on what production serves it (the
        // model's promoted q0.9 and q0.99, the same hour the week before for q0.5: the best baseline there), which
        // beats its overall quantiles by a hair or misses them by one (as the float sums fall on the CPU's kernels).
        let batch = try #require(run.vms.first { $0.vm == "batch-01" })
        #expect(batch.better == "model" && (batch.predictable ? batch.reason == "the model forecasts it best" : batch.reason.contains("of model ≥")), "\(batch.reason)")
        // db-01's trace reads no CPU for most of its last week (rows of zero cores): 14 known hours are too few to judge
        // its forecasts on, so it is left running.
        let db = try #require(run.vms.first { $0.vm == "db-01" })
        #expect(!db.predictable && db.reason == "its forecasts cannot be judged on 14 known hours of the validation days (24 needed, known or asleep)", "\(db.reason)")
        #expect(run.vms.filter { $0.predictable && $0.vm != "batch-01" }.map(\.vm) == ["api-01", "ci-runner-01", "legacy-01", "web-01", "web-02"])
        let runs = try store.read { try ModelRegistry.runs(in: $0) }
        #expect(runs.map(\.id) == [run.id])
        if run.promoted {
            #expect(try store.read { try ModelRegistry.promoted(in: $0) }?.run.id == run.id)
        }
    }

    /// Early stopping holds out the latest windows, and no window trained on has targets in their hours (every n-th
    /// window, as once, shared 21 of its 24 target hours with its neighbours).
    @Test func earlyStoppingHoldsOutTheLatestWindowsAndTrainsOnNoneOfTheirHours() {
        let ends = Array(stride(from: 312, through: 2000, by: 3))
        let (train, held) = Trainer.stoppingSplit(ends: ends, every: 10, horizon: 24)
        #expect(held.count == ends.count / 10 && held == Array(ends.suffix(held.count)))
        #expect(train.allSatisfy { $0 + 24 <= held[0] } && train.count == ends.count - held.count - 7, "the 7 windows whose targets reach into the held-out hours are dropped")
        #expect(Trainer.stoppingSplit(ends: ends, every: 0, horizon: 24) == (ends, []))
    }

    @Test func earlyStoppingKeepsTheBestEpochOnHeldOutWindows() throws {
        var config = TrainingConfig()
        config.maxEpochs = 6
        config.stoppingEvery = 10
        config.patience = 1
        var lines: [String] = []
        let run = try Trainer(store: try Self.demoStore(), config: config).run(now: Self.now) { lines.append($0) }.run
        let best = try #require(Int(run.hyperparameters["best_epoch"] ?? ""))
        let ran = lines.filter { $0.hasPrefix("epoch ") }.count
        #expect(best >= 1 && best <= ran && ran <= 6)
        #expect(ran == 6 || (lines.last?.contains("early stop: no better early-stopping loss since epoch \(best)") == true && ran == best + 1))
    }

    /// The nightly job run twice (a retry, a second cron line) trains nothing the second time: a run at the same
    /// `--now` on the same data with the same settings is already in the registry. Other settings, or data that arrived
    /// late for the same hours, are a new run.
    @Test func aSecondRunOnTheSameDataAndSettingsRecordsNothing() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 1
        let first = try Trainer(store: store, config: config).run(now: Self.now)
        var lines: [String] = []
        let again = try Trainer(store: store, config: config).run(now: Self.now) { lines.append($0) }
        #expect(first.recorded && !again.recorded && again.run.id == first.run.id)
        #expect(lines.isEmpty, "no epoch trained")
        config.seed = 43
        let reseeded = try Trainer(store: store, config: config).run(now: Self.now)
        #expect(reseeded.recorded && reseeded.run.id != first.run.id)
        #expect(try Trainer(store: store, config: config).run(now: Self.now + 1800).recorded == false, "later in the same hour: the same whole hours")
        try store.transaction { db in   // a late sample of a VM for an hour before --now, higher than its others: the hour's demand changes
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            _ = try writer.add(vm: try #require(try VMRepository.all(in: db).first).id, metric: cpu, time: Self.now - 3 * 3600 + 1, value: 99.9)
            try writer.finish()
        }
        let late = try Trainer(store: store, config: config).run(now: Self.now)
        #expect(late.recorded && late.run.id != reseeded.run.id)
        #expect(try store.read { try ModelRegistry.runs(in: $0) }.count == 3)
        // A night later, compared with a model promoted from those: once a person demoted it, a retry is judged against
        // what serves then (it had been answered with the run judged against the demoted one), unless that night's run
        // serves now itself (trained again, it would be compared with its twin).
        let nextNight = Self.now + 86_400
        let promoted = try #require(try store.read { try ModelRegistry.promoted(trainedBefore: Self.now, in: $0) }, "one of this night's runs promoted")
        let judged = try Trainer(store: store, config: config).run(now: nextNight)
        #expect(judged.recorded && judged.run.hyperparameters["serving_before"] == "#\(promoted.run.id)")
        #expect(try !Trainer(store: store, config: config).run(now: nextNight).recorded, "the same comparison: nothing trained")
        _ = try store.transaction { try ModelRegistry.demote(id: promoted.run.id, by: "ops", why: "test", at: nextNight, in: $0) }
        let retried = try Trainer(store: store, config: config).run(now: nextNight)
        if judged.run.promoted {
            #expect(!retried.recorded && retried.run.id == judged.run.id)
            // Demoted too: trained again, judged against what serves after both.
            _ = try store.transaction { try ModelRegistry.demote(id: judged.run.id, by: "ops", why: "test", at: nextNight, in: $0) }
            let again = try Trainer(store: store, config: config).run(now: nextNight)
            #expect(again.recorded && again.run.hyperparameters["serving_before"] != "#\(promoted.run.id)", "\(again.run.hyperparameters)")
        } else {
            #expect(retried.recorded && retried.run.hyperparameters["serving_before"] != "#\(promoted.run.id)", "\(retried.run.hyperparameters)")
        }
    }

    /// Three crafted VMs over 40 days: a daily cycle, white noise between 0 and 80 %, and noise under 1.5 %. Only the
    /// noisy one is "no skill" (nothing beats its overall quantiles); the quiet one stays plannable (its overall
    /// quantiles miss by less than the floor).
    @Test func whiteNoiseHasNoSkillButQuietNoiseStaysPredictable() throws {
        let (store, _) = try scratchStore()
        let start = UTC.epoch(year: 2024, month: 3, day: 4), days = 40
        var seed: UInt64 = 11
        func uniform() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 11) / Double(1 << 53) }
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            for vm in ["cycle", "noise", "quiet"] {
                let id = try VMRepository.id(of: vm, in: db, now: start)
                for h in 0..<days * 24 {
                    let value = switch vm {
                    case "cycle": (9..<17).contains(h % 24) ? 60 + 5 * uniform() : 3 + 2 * uniform()
                    case "noise": 80 * uniform()
                    default: 1.5 * uniform()
                    }
                    _ = try writer.add(vm: id, metric: cpu, time: start + Int64(h) * 3600, value: value)
                }
            }
            try writer.finish()
        }
        var config = TrainingConfig()
        config.maxEpochs = 3
        config.hiddenSize = 16
        let run = try Trainer(store: store, config: config).run(now: start + Int64(days) * 86_400).run
        let verdicts = Dictionary(uniqueKeysWithValues: run.vms.map { ($0.vm, $0) })
        #expect(verdicts["noise"]?.predictable == false && verdicts["noise"]?.reason.hasPrefix("no skill") == true, "\(verdicts["noise"]!.reason)")
        #expect(verdicts["cycle"]?.predictable == true, "\(verdicts["cycle"]!.reason)")
        #expect(verdicts["quiet"]?.predictable == true, "\(verdicts["quiet"]!.reason)")
    }

    @Test func aCrippledModelIsNotPromoted() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 1
        config.hiddenSize = 1
        config.windowsPerEpoch = 64
        let run = try Trainer(store: store, config: config).run(now: Self.now).run
        #expect(!run.promoted)
        // Two batches of 32 windows: its initial weights, nearly; whatever it scores, never served.
        #expect(run.reason.hasPrefix("not promoted: ") && run.reason.hasSuffix(" training windows gave 2 gradient steps, fewer than 20 (more VMs or more history needed)"), "\(run.reason)")
        #expect(run.hyperparameters["steps"] == "2" && run.hyperparameters["served_quantiles"] == "")
        #expect(try store.read { try ModelRegistry.promoted(in: $0) } == nil, "nothing reaches the planner")
    }

    /// A nightly model must serve at least as well as the model serving now, compared as production serves each, on the
    /// validation hours neither trained on (after the serving one's training data, which ended its own validation days
    /// before its data did). The same model serves exactly as well, and the newer is promoted; an untrained one serves
    /// worse, and is replaced; one that trained on the validation days themselves serves better, and keeps serving.
    @Test func aNewModelMustServeAtLeastAsWellAsTheServingOne() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 8
        let trainer = Trainer(store: store, config: config)
        let fresh = try trainer.train(now: Self.now)
        try #require(fresh.run.promoted, "\(fresh.run.reason)")
        let alone = fresh.run.metrics.keys.filter { $0.hasPrefix("vs serving") }
        #expect(alone.isEmpty && fresh.run.hyperparameters["compared_with"] == nil, "nothing serving, nothing compared")
        func asServing(_ run: ModelRun, id: Int64) -> ModelRun {
            var r = run
            r.id = id
            r.dataTo = Self.now - 3 * 86_400   // as if trained three days ago
            return r
        }
        /// A trained model served for all three quantiles on every VM it could be judged on, as if trained three days ago.
        func servingEverywhere(_ trained: (run: ModelRun, model: Data?), id: Int64) throws -> (run: ModelRun, model: Data) {
            var run = asServing(trained.run, id: id)
            run.promoted = true
            run.vms = run.vms.map { var v = $0; v.better = v.predictable ? "model" : v.better; return v }
            let file = try ModelFile.decode(try #require(trained.model), source: "test")
            return (run, try ModelFile.encode(file.model, metadata: file.metadata.merging(["served_quantiles": "0.5,0.9,0.99"]) { _, b in b }))
        }
        let same = try trainer.train(now: Self.now, incumbent: (asServing(fresh.run, id: 7), try #require(fresh.model))).run
        let hours = try #require(same.metrics["vs serving: hours compared"])
        #expect(hours > Double(3 * 24) && hours <= Double(7 * 24 * fresh.run.vms.count),
                "the known hours of all seven validation days: its own training ended seven days before its data: \(hours)")
        #expect(same.promoted && same.hyperparameters["compared_with"] == "model #7"
                && same.reason.hasPrefix(fresh.run.reason + "; serves at least as well as model #7 (mean pinball ") && same.reason.hasSuffix(" validation hours neither trained on)"),
                "\(same.reason)")
        #expect(same.metrics["vs serving: pinball of this model as served"] == same.metrics["vs serving: pinball of the serving model"],
                "the same model, served the same way: \(same.metrics)")
        // An untrained model (its initial weights, nearly) serving every VM: the new one replaces it.
        var untrained = config
        untrained.maxEpochs = 1
        untrained.windowsPerEpoch = 32
        let weak = try servingEverywhere(try Trainer(store: store, config: untrained).train(now: Self.now), id: 8)
        let overWeak = try trainer.train(now: Self.now, incumbent: weak).run
        let mine = try #require(overWeak.metrics["vs serving: pinball of this model as served"]), theirs = try #require(overWeak.metrics["vs serving: pinball of the serving model"])
        #expect(overWeak.promoted && mine < theirs, "\(mine) against \(theirs)")
        // A model that trained on the validation days too (one held out), recorded as if from three days ago (its record
        // says its training ended four days ago): it knew those days, the new one did not; it keeps serving, and the new
        // run says why and is judged on the profile.
        var knowing = config
        knowing.validationDays = 1
        knowing.maxEpochs = 16
        knowing.stoppingEvery = 0   // nothing held out: it fits every day up to the last
        let knew = try Trainer(store: store, config: knowing).train(now: Self.now)
        var strong = (run: asServing(knew.run, id: 0), model: try #require(knew.model))   // served where and for what the new one is
        strong.run.promoted = true
        strong.run.vms = fresh.run.vms
        let file = try ModelFile.decode(strong.model, source: "test")
        strong.model = try ModelFile.encode(file.model, metadata: file.metadata.merging(["served_quantiles": try #require(fresh.run.hyperparameters["served_quantiles"])]) { _, b in b })
        let recorded = try store.transaction { try ModelRegistry.insert(strong.run, model: strong.model, in: $0) }
        let loser = try trainer.run(now: Self.now).run
        #expect(!loser.promoted && loser.reason.hasPrefix("not promoted: it would serve worse than model #\(recorded), which keeps serving"), "\(loser.reason)")
        #expect(loser.hyperparameters["served_quantiles"] == "" && loser.vms.allSatisfy { $0.better != "model" }, "judged on the profile, as it serves")
        #expect(try store.read { try ModelRegistry.promoted(in: $0) }?.run.id == recorded)
        #expect(loser.hyperparameters["lost_to_serving"] == "\(recorded)" && loser.hyperparameters["compared_with"] == "model #\(recorded)")
        // Its doubt of a VM's skill, judged on the profile, keeps no VM the serving model forecasts from its sleeps; its
        // doubt of the data does.
        let servingModel = try DemandForecaster(store: store, quantiles: config.quantiles, trainedBefore: Self.now)
        let modelled = try #require(fresh.run.vms.first { $0.better == "model" && $0.predictable }).vm
        var doubting = loser
        doubting.vms = [.init(vm: modelled, predictable: false, better: "hourOfWeekProfile", reason: "no skill: …"),
                        .init(vm: "db-01", predictable: false, better: "none", reason: "too few known hours")]
        #expect(servingModel.run?.id == recorded && servingModel.unpredictable(newest: doubting)[modelled] == nil)
        #expect(servingModel.unpredictable(newest: doubting)["db-01"] == "too few known hours")
        doubting.hyperparameters["lost_to_serving"] = nil
        #expect(servingModel.unpredictable(newest: doubting)[modelled] == "no skill: …", "a run that did not lose to it: its doubt counts")
    }

    /// A VM is judged on what production would serve it, the model or the profile: a seasonal-naive baseline that
    /// forecasts it best is never served, so it neither vouches for the VM nor keeps the model from it.
    @Test func aVMIsJudgedOnTheForecastProductionServesIt() throws {
        let q: [Float] = [0.5, 0.9, 0.99]
        // Mean pinball per hour and quantile: seasonal naive (day) 2.0, the model 2.8, overall quantiles 3.0, profile 3.5.
        func losses(_ mean: Double) -> [Double] { [mean * 10, mean * 10, mean * 10] }
        let sums = ["seasonalNaiveDay": losses(2.0), "model": losses(2.8), Trainer.noSkill: losses(3.0), "hourOfWeekProfile": losses(3.5)]
        let served = try #require(Trainer.verdict(vm: "a", losses: sums, hours: 10, quantiles: q, served: q, noSkillFloor: 0, minimumHours: 10))
        #expect(served.predictable && served.better == "model", "the model is served it: \(served)")
        // Without a promoted model the profile serves it, and has no skill there.
        let profile = try #require(Trainer.verdict(vm: "a", losses: sums, hours: 10, quantiles: q, served: [], noSkillFloor: 0, minimumHours: 10))
        #expect(!profile.predictable && profile.better == "hourOfWeekProfile" && profile.reason.contains("no forecast torpor serves"), "\(profile)")
        // Promoted for q0.99 only: the model as served is the profile's q0.5 and q0.9 and its own q0.99.
        let mixed = try #require(Trainer.verdict(vm: "a", losses: ["model": [10, 10, 10], "hourOfWeekProfile": [40, 40, 50], Trainer.noSkill: losses(3.0)],
                                                 hours: 10, quantiles: q, served: [0.99], noSkillFloor: 0, minimumHours: 10))
        #expect(!mixed.predictable && mixed.better == "model", "(40 + 40 + 10) / 30 = 3.0 is no better: \(mixed)")
        // The same with seasonal naive (day) the best baseline at q0.5, which production then serves it: (5 + 40 + 10) / 30.
        let naive = ["model": [10.0, 10, 10], "hourOfWeekProfile": [40, 40, 50], "seasonalNaiveDay": [5, 60, 60], Trainer.noSkill: losses(3.0)]
        let fallbacks: [Baseline] = [.seasonalNaiveDay, .hourOfWeekProfile, .hourOfWeekProfile]
        let withNaive = try #require(Trainer.verdict(vm: "a", losses: naive, hours: 10, quantiles: q, served: [0.99], fallbacks: fallbacks,
                                                     noSkillFloor: 0, minimumHours: 10))
        #expect(withNaive.predictable && withNaive.better == "model", "\(withNaive)")
        // A model worse than those baselines on this VM: they serve it ((5 + 40 + 50) / 30), and are named for it.
        var worse = naive
        worse["model"] = [100, 100, 100]
        worse[Trainer.noSkill] = losses(4.0)
        let baselines = try #require(Trainer.verdict(vm: "a", losses: worse, hours: 10, quantiles: q, served: [0.99], fallbacks: fallbacks,
                                                     noSkillFloor: 0, minimumHours: 10))
        #expect(baselines.predictable && baselines.better == "hourOfWeekProfile" && baselines.reason == "the baselines forecast it better than the model", "\(baselines)")
        // A run that promotes nothing while a model serves: judged on that model's fallbacks and on its own, which serve
        // the VM in turn; predictable only on both.
        let onTheProfile = try #require(Trainer.verdict(vm: "a", losses: worse, hours: 10, quantiles: q, served: [], noSkillFloor: 0, minimumHours: 10))
        let onNaive = try #require(Trainer.verdict(vm: "a", losses: worse, hours: 10, quantiles: q, served: [], fallbacks: fallbacks, noSkillFloor: 0, minimumHours: 10))
        #expect(!onTheProfile.predictable && onNaive.predictable, "(40 + 40 + 50) / 30 ≥ 4.0 > (5 + 40 + 50) / 30: \(onTheProfile), \(onNaive)")
        #expect(Trainer.onBoth(now: onTheProfile, later: onNaive) == onTheProfile && Trainer.onBoth(now: onNaive, later: onTheProfile) == onTheProfile)
        #expect(Trainer.onBoth(now: onNaive, later: onNaive) == onNaive)
        #expect(onNaive.reason == "the baselines serve it (no model promoted)", "\(onNaive)")
        // A run's reason says what keeps the quantiles the model lost.
        #expect(Trainer.keeping(q, served: [0.9, 0.99], fallbacks: fallbacks) == "the same hour the day before keeps q0.5")
        #expect(Trainer.keeping([0.1, 0.5, 0.9], served: [0.9], fallbacks: [.hourOfWeekProfile, .seasonalNaiveWeek, .hourOfWeekProfile])
                == "the same hour the week before keeps q0.5, the profile the others")
        #expect(Trainer.keeping(q, served: [0.99], fallbacks: q.map { _ in .hourOfWeekProfile }) == "the profile keeps the others")
        // Ten known hours where a day's are needed (the collector down, the VM asleep most of the week): not judged.
        let few = try #require(Trainer.verdict(vm: "a", losses: sums, hours: 10, quantiles: q, served: q, noSkillFloor: 0, minimumHours: 24))
        #expect(!few.predictable && few.reason == "its forecasts cannot be judged on 10 known hours of the validation days (24 needed, known or asleep)", "\(few)")
        // Asleep the rest of the week, by torpor: judged on the hours it ran.
        let asleep = try #require(Trainer.verdict(vm: "a", losses: sums, hours: 10, quantiles: q, served: q, noSkillFloor: 0, minimumHours: 24, slept: 150))
        #expect(asleep.predictable && asleep.better == "model", "\(asleep)")
    }

    /// A store of one VM's hourly demand for `days` days from `start`: 60 % from 09:00 to 17:00, 3 % otherwise.
    static func officeHoursStore(_ vm: String, from start: EpochSeconds, days: Int) throws -> Store {
        let (store, _) = try scratchStore()
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            let id = try VMRepository.id(of: vm, in: db, now: start)
            for h in 0..<days * 24 { _ = try writer.add(vm: id, metric: cpu, time: start + Int64(h) * 3600, value: (9..<17).contains(h % 24) ? 60 : 3) }
            try writer.finish()
        }
        return store
    }

    /// A new install: one VM with ten days of hourly data in the 90 the trainer reads. Only the windows with a known
    /// target are trained on (a few, none of them a whole batch): the model took no step, and is not promoted, rather
    /// than counting hundreds of empty batches as steps and being promoted on a few days.
    @Test func windowsWithoutAKnownTargetAreNotTrainedOn() throws {
        let start = Self.now - 10 * 86_400
        let store = try Self.officeHoursStore("new-01", from: start, days: 10)
        var config = TrainingConfig()
        config.maxEpochs = 2
        config.hiddenSize = 4
        let run = try Trainer(store: store, config: config).run(now: Self.now).run
        // Known targets in the last two of the three training days (the first's base is unknown): the windows every
        // 3 h that reach them and end a day before the validation days, 16 (before, all 553 of the 90 days).
        #expect(run.hyperparameters["windows"] == "16", "\(run.hyperparameters)")
        #expect(!run.promoted && run.reason.hasSuffix("16 training windows gave 0 gradient steps, fewer than 20 (more VMs or more history needed)"), "\(run.reason)")
        // A target is known where the hour and the same hour a day earlier are: the first day's are not.
        let series = try store.read { try HourlySeries.load(vm: "new-01", from: start, to: start + 3 * 86_400, in: $0) }
        let input = ModelInput(usesContext: false)
        #expect(!input.hasKnownTarget(series, end: 0, horizon: 24) && input.hasKnownTarget(series, end: 1, horizon: 24))
    }

    /// Forty days of a daily cycle that ended eight days before the run (the collector down since): nothing to compare
    /// the model with the baselines on. Not promoted, and said so (its reason had read "beats the best baseline on every
    /// quantile").
    @Test func aRunWithNoValidationHourSaysSo() throws {
        let store = try Self.officeHoursStore("quiet-01", from: Self.now - 48 * 86_400, days: 40)
        var config = TrainingConfig()
        config.maxEpochs = 3   // 9 gradient steps an epoch: 20 at least
        config.hiddenSize = 4
        let run = try Trainer(store: store, config: config).run(now: Self.now).run
        #expect(!run.promoted && run.reason.hasPrefix("not promoted: no hour of the last 7 days has known demand"), "\(run.reason)")
    }
}

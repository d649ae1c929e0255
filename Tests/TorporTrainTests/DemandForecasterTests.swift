import Foundation
import Testing
import TorporCore
import TorporForecast
import TorporStore
@testable import TorporTrain

/// How the planner's forecast merges a promoted model with the hour-of-week profile when the model was trained for
/// fewer quantiles than the planner offers (the usual model, or one trained before a quantile was added).
@Suite struct DemandForecasterTests {
    static let monday = UTC.epoch(year: 2024, month: 1, day: 1)

    /// A forecaster of `quantiles` with a promoted (untrained, seeded) model for q0.5, q0.9 and q0.99 that serves
    /// `served` and forecasts "vm-1" best (its input set recorded as `features`, this version's by default; the
    /// quantiles' baselines as `fallbacks`, none recorded by default).
    static func forecaster(served: [Float], quantiles: [Float] = QuantileForecast.standardQuantiles, hyperparameters: [String: String] = [:],
                           features: String = ModelInput(usesContext: false).features, fallbacks: String? = nil,
                           verdicts: [ModelRun.VMVerdict] = [.init(vm: "vm-1", predictable: true, better: "model", reason: "test")]) throws -> DemandForecaster {
        try DemandForecaster(promoted: promoted(served: served, hyperparameters: hyperparameters, features: features, fallbacks: fallbacks, verdicts: verdicts),
                             quantiles: quantiles)
    }

    /// A promoted run `id` of Monday's data and its (untrained, seeded) model file, as `forecaster` describes them.
    static func promoted(id: Int64 = 1, served: [Float], hyperparameters: [String: String] = [:], features: String = ModelInput(usesContext: false).features,
                         fallbacks: String? = nil, metadata extra: [String: String] = [:],
                         verdicts: [ModelRun.VMVerdict] = [.init(vm: "vm-1", predictable: true, better: "model", reason: "test")]) throws -> (run: ModelRun, model: Data) {
        let input = ModelInput(usesContext: false)
        let model = Forecaster(shape: ForecasterShape(inputSize: input.featureCount, hiddenSize: 4, layers: 1, horizon: 24,
                                                      quantiles: [0.5, 0.9, 0.99]), seed: 7)
        var metadata = ["features": features, "target": ModelInput.target, "lookback": "168",
                        "served_quantiles": served.map { "\($0)" }.joined(separator: ","), "scale.vm-1": "10"]
        metadata["fallbacks"] = fallbacks
        metadata.merge(extra) { _, given in given }
        let blob = try ModelFile.encode(model, metadata: metadata)
        return (ModelRun(id: id, createdAt: monday, dataFrom: monday, dataTo: monday, hyperparameters: hyperparameters, metrics: [:], promoted: true,
                         reason: "test", seconds: 0, vms: verdicts), blob)
    }

    /// Four weeks of a daily cycle (5 % at night, 30 % by day) with some noise between weeks.
    static let history = HourlySeries(start: monday, step: 3600, values: (0..<28 * 24).map { h in
        ((8..<18).contains(h % 24) ? 30 : 5) + Float((h * 7919) % 11)
    })

    /// A VM is left running when the run whose model serves it found no skill, or the newest run (promoted or not) did,
    /// or the newest run judged it on a model that does not serve it now; a VM the profile serves is not held back by
    /// an older run's verdict on it.
    @Test func eitherRunsDoubtKeepsAVMRunning() throws {
        let forecaster = try Self.forecaster(served: [0.9], verdicts: [.init(vm: "vm-1", predictable: false, better: "model", reason: "no skill (promoted)"),
                                                                      .init(vm: "vm-2", predictable: false, better: "hourOfWeekProfile", reason: "no skill (older)")])
        let newest = ModelRun(id: 2, createdAt: Self.monday + 86_400, dataFrom: Self.monday, dataTo: Self.monday + 86_400, hyperparameters: [:], metrics: [:],
                              promoted: false, reason: "not promoted", seconds: 0,
                              vms: [.init(vm: "vm-1", predictable: true, better: "hourOfWeekProfile", reason: "the profile serves it (no model promoted)"),
                                    .init(vm: "vm-2", predictable: true, better: "hourOfWeekProfile", reason: "the profile serves it (no model promoted)"),
                                    .init(vm: "vm-3", predictable: false, better: "hourOfWeekProfile", reason: "no skill (newest)")])
        #expect(forecaster.unpredictable(newest: newest) == ["vm-1": "no skill (promoted)", "vm-3": "no skill (newest)"])
        // The model serves vm-1, which the newest run finds without recent data: left running all the same.
        var stale = newest
        stale.vms[0] = .init(vm: "vm-1", predictable: false, better: "none", reason: "no known hours in the last 7 days")
        #expect(forecaster.unpredictable(newest: stale)["vm-1"] == "no known hours in the last 7 days")
        #expect(try DemandForecaster(promoted: nil).unpredictable(newest: newest) == ["vm-3": "no skill (newest)"], "no model: the newest run's alone")
        // A model this version cannot serve (another input set): its run judged vm-1 on it, and the profile serves it now.
        let unusable = try Self.forecaster(served: [0.9], features: "demand,present,same_hour_6d_ago,hour_sin,hour_cos,dow_sin,dow_cos")
        let itsRun = ModelRun(id: 1, createdAt: Self.monday, dataFrom: Self.monday, dataTo: Self.monday, hyperparameters: [:], metrics: [:], promoted: true,
                              reason: "test", seconds: 0, vms: [.init(vm: "vm-1", predictable: true, better: "model", reason: "test")])
        let held = try #require(unusable.unpredictable(newest: itsRun)["vm-1"])
        #expect(held.hasPrefix("judged on model #1, which does not serve it now (model #1 unused: its input set"), "\(held)")
    }

    /// The zone of the profile a serving model was promoted against, for torpor-plan to warn when its own differs.
    @Test func theModelsWeekClockIsKnown() throws {
        #expect(try Self.forecaster(served: [0.9], hyperparameters: ["week_clock": "Europe/Berlin"]).trainedClockZone == "Europe/Berlin")
        #expect(try Self.forecaster(served: [], hyperparameters: ["week_clock": "Europe/Berlin"]).trainedClockZone == nil, "no model serves")
        #expect(try DemandForecaster(promoted: nil).trainedClockZone == nil)
    }

    @Test func theModelServesItsPromotedQuantilesAndTheProfileTheLowerOnesWithoutCrossing() throws {
        let forecaster = try Self.forecaster(served: [0.9, 0.99])
        #expect(forecaster.quantiles == QuantileForecast.standardQuantiles)
        let forecast = try #require(forecaster.forecast([("vm-1", Self.history)])["vm-1"])
        #expect(forecast.source == "model #1 for q0.9, q0.99, the profile for the others")
        let profile = forecaster.fallback(Self.history)
        // The same model asked for its own three quantiles only: its served values are the merged forecast's.
        let alone = try #require(try Self.forecaster(served: [0.9, 0.99], quantiles: [0.5, 0.9, 0.99]).forecast([("vm-1", Self.history)])["vm-1"])
        for k in 0..<24 {
            let v = forecast.values[k]
            #expect(v == v.sorted(), "hour \(k): \(v)")
            #expect(Array(v[3...]) == Array(alone.values[k][1...]), "hour \(k): q0.9 and q0.99 are the model's")
            for j in 0..<3 {   // q0.1, q0.25, q0.5: the profile's, held under the model's q0.9
                #expect(v[j] == min(profile.values[k][j], v[3]), "hour \(k), q\(forecast.quantiles[j])")
            }
        }
    }

    /// A quantile the model was not promoted for, and every quantile of a VM it does not forecast, get the baseline that
    /// forecast that quantile best on its validation days (the model file's `fallbacks`): here q0.5 the same hour the
    /// day before, the profile's other quantiles held around it, and all of them under the model's served q0.9.
    @Test func aQuantileTheModelDoesNotServeGetsItsBestBaseline() throws {
        let forecaster = try Self.forecaster(served: [0.9, 0.99], fallbacks: "0.5:seasonalNaiveDay,0.9:hourOfWeekProfile,0.99:hourOfWeekProfile")
        let forecasts = forecaster.forecast([("vm-1", Self.history), ("vm-2", Self.history)])
        let modelled = try #require(forecasts["vm-1"]), other = try #require(forecasts["vm-2"])
        #expect(modelled.source == "model #1 for q0.9, q0.99, the same hour the day before for q0.5, the profile for the others")
        let profile = try DemandForecaster(promoted: nil).fallback(Self.history)
        #expect(other.source == profile.source + "; the same hour the day before for q0.5" && profile.source.hasPrefix("hour-of-week profile"))
        let n = Self.history.values.count
        for k in 0..<24 {
            let naive = Self.history.values[n - 24 + k]   // q0.5: the same hour the day before, the profile's held around it
            var expected = profile.values[k]
            expected[2] = naive
            for j in [0, 1] { expected[j] = min(expected[j], naive) }
            for j in [3, 4] { expected[j] = max(expected[j], naive) }
            #expect(other.values[k] == expected, "hour \(k): \(other.values[k]) vs \(expected)")
            for j in 0..<3 { #expect(modelled.values[k][j] == min(expected[j], modelled.values[k][3]), "hour \(k), q\(modelled.quantiles[j])") }
        }
        // An entry this version does not serve (the mean, an unknown name) leaves its quantile to the profile.
        #expect(DemandForecaster.fallbacks("0.5:seasonalNaiveWeek,0.9:mean,0.99:bogus", quantiles: [0.1, 0.5, 0.9, 0.99])
                == [.hourOfWeekProfile, .seasonalNaiveWeek, .hourOfWeekProfile, .hourOfWeekProfile])
        // A model file that cannot serve: the profile serves every quantile, whatever the file recorded.
        let unserved = try Self.forecaster(served: [0.25], fallbacks: "0.5:seasonalNaiveDay")
        #expect(unserved.forecast([("vm-1", Self.history)])["vm-1"]?.values == profile.values)
        // No model serving (none promoted, or one that cannot serve): the newest run's choice serves, unless that run is
        // older than a promoted model may be.
        var newest = ModelRun(id: 2, createdAt: Self.monday, dataFrom: Self.monday, dataTo: Self.monday, hyperparameters: ["fallbacks": "0.5:seasonalNaiveDay"],
                              metrics: [:], promoted: false, reason: "not promoted", seconds: 0, vms: [])
        for promoted in [nil, try Self.promoted(served: [0.25])] {
            let chosen = try DemandForecaster(promoted: promoted, newest: newest, now: Self.monday + 86_400)
            #expect(chosen.forecast([("vm-1", Self.history)])["vm-1"]?.values == other.values)
            #expect(chosen.baselinesName == "baselines of run #2: the same hour the day before for q0.5, the profile for the others", "as plans name it")
        }
        #expect(try DemandForecaster(promoted: nil).baselinesName == "hour-of-week profile")
        var unrecorded = newest
        unrecorded.id = 0   // a run the trainer or a walk-forward has not recorded
        #expect(try DemandForecaster(promoted: nil, newest: unrecorded).baselinesName == "baselines: the same hour the day before for q0.5, the profile for the others")
        newest.dataTo = Self.monday - DemandForecaster.maxModelAge
        #expect(try DemandForecaster(promoted: nil, newest: newest, now: Self.monday + 1).forecast([("vm-1", Self.history)])["vm-1"]?.values == profile.values)
    }

    @Test func aModelWithoutAQuantileLeavesItToTheProfileAndOneServingNoneIsNotUsed() throws {
        let all = try Self.forecaster(served: [0.5, 0.9, 0.99])
        let forecast = try #require(all.forecast([("vm-1", Self.history)])["vm-1"])
        #expect(forecast.source == "model #1 for q0.5, q0.9, q0.99, the profile for the others")
        let profile = all.fallback(Self.history)
        for k in 0..<24 {
            #expect(forecast.values[k][0] == min(profile.values[k][0], forecast.values[k][2]))
            #expect(forecast.values[k][1] == min(profile.values[k][1], forecast.values[k][2]))
        }
        let none = try Self.forecaster(served: [0.25])   // a quantile the model does not have: nothing served
        #expect(none.run == nil)
        #expect(none.unservedBecause == "model #1 unused: it serves none of the quantiles asked for")
        #expect(none.forecast([("vm-1", Self.history)])["vm-1"]?.source.hasPrefix("hour-of-week profile") == true)
        #expect(all.unservedBecause == nil)
    }

    /// A policy's horizon longer than the model's 24 hours: the model forecasts its hours, the profile the ones after.
    @Test func aLongerHorizonThanTheModelsTakesTheProfileAfterIt() throws {
        let day = try Self.forecaster(served: [0.5, 0.9, 0.99])
        let twoDays = try DemandForecaster(promoted: Self.promoted(served: [0.5, 0.9, 0.99]), horizon: 48)
        #expect(twoDays.unservedBecause == nil && twoDays.run != nil)
        let long = try #require(twoDays.forecast([("vm-1", Self.history)])["vm-1"])
        let short = try #require(day.forecast([("vm-1", Self.history)])["vm-1"])
        #expect(long.values.count == 48 && long.source == "model #1 for q0.5, q0.9, q0.99, the profile for the others (24 h from the baselines)")
        #expect(Array(long.values[..<24]) == short.values, "the model's day as at a 24-hour horizon")
        #expect(Array(long.values[24...]) == Array(twoDays.fallback(Self.history).values[24...]))
    }

    /// A promoted model older than two weeks (every nightly run since failed or lost) is not served at planning.
    @Test func aModelTooOldIsNotServed() throws {
        let promoted = try Self.promoted(id: 4, served: [0.9])
        #expect(try DemandForecaster(promoted: promoted, now: Self.monday + 14 * 86_400).run != nil)
        let old = try DemandForecaster(promoted: promoted, now: Self.monday + 14 * 86_400 + 1)
        #expect(old.run == nil && old.unservedBecause == "model #4 unused: trained on data up to 2024-01-01T00:00:00Z, more than 2w old, and no model promoted since (torpor-train list says why)",
                "\(String(describing: old.unservedBecause))")
    }

    /// A promoted model whose file cannot be read (another version's format, a damaged blob) is not served: the
    /// profile forecasts, the VMs judged on it stay running, and the plan can say why (no planning stops).
    @Test func anUnreadableModelIsNotServedAndItsVMsStayRunning() throws {
        let run = try Self.promoted(id: 3, served: [0.9]).run
        let damaged = try DemandForecaster(promoted: (run, Data("not a model".utf8)))
        #expect(damaged.run == nil && damaged.unservedBecause?.hasPrefix("model #3 unused: its file cannot be read (") == true, "\(String(describing: damaged.unservedBecause))")
        #expect(damaged.forecast([("vm-1", Self.history)])["vm-1"]?.source.hasPrefix("hour-of-week profile") == true)
        #expect(damaged.unpredictable(newest: run)["vm-1"]?.hasPrefix("judged on model #3, which does not serve it now (model #3 unused: its file cannot be read") == true)
    }

    /// A model file that does not hold together (a damaged store: a calendar uplift shorter than its quantiles, or one
    /// not a number, whose NaN a clamp at 0 % would read as idle) is not served and says why; a VM's scale that is not a
    /// positive number leaves that VM to the baselines.
    @Test func aModelFileThatDoesNotHoldTogetherIsNotServed() throws {
        for uplift in ["0.1,0.2", "0.1,nan,0.3"] {
            let damaged = try DemandForecaster(promoted: Self.promoted(served: [0.9], metadata: ["calendar.demand": uplift]))
            #expect(damaged.run == nil && damaged.unservedBecause == "model #1 unused: its file does not hold together (input size, calendar uplift): damaged; "
                    + "the next promoted model replaces it", "\(uplift): \(String(describing: damaged.unservedBecause))")
        }
        #expect(try DemandForecaster(promoted: Self.promoted(served: [0.9], metadata: ["calendar.demand": "0.1,0.2,0.3"])).run != nil)
        let zeroScale = try DemandForecaster(promoted: Self.promoted(served: [0.9], metadata: ["scale.vm-1": "0"]))
        #expect(zeroScale.run != nil && zeroScale.forecast([("vm-1", Self.history)])["vm-1"]?.source.hasPrefix("hour-of-week profile") == true)
    }

    /// A model trained before the input set gained present flags for its lag and context features (they read a missing
    /// hour as 0, the same as measured idleness) is not served after an upgrade, and the plan can say why.
    @Test func aModelOfAnOlderInputSetIsNotServedAndSaysWhy() throws {
        let older = try Self.forecaster(served: [0.9], features: "demand,present,same_hour_6d_ago,hour_sin,hour_cos,dow_sin,dow_cos")
        #expect(older.run == nil)
        #expect(older.unservedBecause == "model #1 unused: its input set is not one this version reads (another torpor's); the next promoted model replaces it")
        #expect(older.forecast([("vm-1", Self.history)])["vm-1"]?.source.hasPrefix("hour-of-week profile") == true)
        #expect(try DemandForecaster(promoted: nil).unservedBecause == nil)
    }

    /// The model's time features on the fleet's clock: in Amsterdam, Monday 2013-04-01 06:00 UTC is 08:00 (CEST), where
    /// a week earlier 07:00 UTC was; on UTC's clock the features keep the UTC hour, as before (and its file names no
    /// clock, so models trained before are served). The clock is recorded in the model file's features and read back.
    @Test func theModelsTimeFeaturesAreOnTheFleetsClock() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        let start = UTC.epoch(year: 2013, month: 3, day: 18)   // a Monday
        let series = HourlySeries(start: start, step: 3600, values: [Float](repeating: 1, count: 15 * 24))
        func hourOfDay(_ input: ModelInput, at t: EpochSeconds) -> Int {
            let end = Int((t - start) / 3600) + 1, width = input.featureCount
            let features = input.window(series, end: end, scale: 1, lookback: 168, horizon: 24).input.suffix(width)
            let (sine, cosine) = (features[features.endIndex - 4], features[features.endIndex - 3])
            return (Int((atan2(sine, cosine) * 24 / (2 * .pi)).rounded()) + 24) % 24
        }
        let local = ModelInput(usesContext: false, clock: amsterdam), utc = ModelInput(usesContext: false)
        let before = UTC.epoch(year: 2013, month: 3, day: 25, hour: 7), after = UTC.epoch(year: 2013, month: 4, day: 1, hour: 6)
        #expect(hourOfDay(local, at: before) == 8 && hourOfDay(local, at: after) == 8)
        #expect(hourOfDay(utc, at: before) == 7 && hourOfDay(utc, at: after) == 6)
        #expect(local.features.hasSuffix("dow_cos;clock=Europe/Amsterdam") && utc.features.hasSuffix("dow_cos"))
        #expect(ModelInput(features: local.features) == local && ModelInput(features: utc.features) == utc)
        #expect(ModelInput(features: utc.features + ";clock=Mars/Olympus") == nil, "a zone this system does not know")
        // A model trained on such a zone is not served, and the plan says why (not "another torpor's").
        let martian = try Self.forecaster(served: [0.9], features: utc.features + ";clock=Mars/Olympus")
        #expect(martian.run == nil && martian.unservedBecause == "model #1 unused: its clock's zone Mars/Olympus is not one this system's zoneinfo knows; "
                + "install it, or train on a zone it knows (--zone)", "\(String(describing: martian.unservedBecause))")
        #expect(ModelInput.unknownZone(in: local.features) == nil && ModelInput.unknownZone(in: utc.features) == nil)
    }
}

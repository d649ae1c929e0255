import Foundation
import GRDB
import Testing
import TorporCore
import TorporIngest
import TorporStore
@testable import TorporTrain

/// The nightly run on the real fleet of 50 Bitbrains VMs (July–September 2013, 5-minute samples, ingested through the
/// CSV ingester with the shipped mapping): the acceptance of the training stage on real traces.
@Suite(.serialized) struct RealTraceTrainingTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var traces: String {
        let shared = ProcessInfo.processInfo.environment["TORPOR_SHARED_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? repository + "/../shared/data"
        return shared + "/traces"
    }
    /// Training ends a week before the end of September, as in `make backtest`.
    static let now = UTC.epoch(year: 2013, month: 9, day: 23)

    /// The 50 VMs' three months, and `demand` events on the hours of their unseasonal bursts in the training period
    /// (as an operator who records campaigns would have them), one event per VM-hour.
    static func bitbrainsStore() throws -> (Store, String) {
        let (store, dir) = try scratchStore()
        let mapping = try CSVMapping.load(path: repository + "/sample-data/mappings/bitbrains.yaml")
        for month in ["2013-7", "2013-8", "2013-9"] {
            let folder = traces + "/bitbrains_rnd/" + month
            for file in try FileManager.default.contentsOfDirectory(atPath: folder).filter({ $0.hasSuffix(".csv.gz") }).sorted() {
                _ = try CSVIngester(store: store).ingest(path: folder + "/" + file, mapping: mapping, now: now + 8 * 86_400)
            }
        }
        return (store, dir)
    }

    /// Hours of `series` before `end` where demand jumped far above both the same hour yesterday and last week.
    static func bursts(_ s: HourlySeries, before end: Int) -> [Int] {
        (168..<end).filter { h in
            let v = s.values[h], day = s.values[h - 24], week = s.values[h - 168]
            return !v.isNaN && !day.isNaN && !week.isNaN && v >= 30 && v >= day + 20 && v >= week + 20
        }
    }

    @Test func theModelIsPromotedCoversQ90AndLearnsCalendarEventsOnRealTraces() throws {
        let (store, dir) = try Self.bitbrainsStore()
        let config = TrainingConfig()
        let from = Self.now - Int64(config.historyDays) * 86_400
        let split = Self.now - Int64(config.validationDays) * 86_400
        let vms = try store.read { try VMRepository.all(in: $0) }.map(\.name)
        #expect(vms.count == 50)

        // Absent rows (0 cores, 0 memory) and gaps are missing, never idle.
        let absent = try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT vm.name AS vm, s.time AS time FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
                WHERE m.name = 'vcpus' AND s.value = 0 AND s.time >= ? AND s.time < ?
                """, arguments: [from, Self.now]).map { (vm: $0["vm"] as String, time: $0["time"] as EpochSeconds) }
        }
        #expect(absent.count > 100, "the trace records absent VMs (\(absent.count) rows)")
        var series: [String: HourlySeries] = [:]
        for vm in Set(absent.map(\.vm)) {
            series[vm] = try store.read { try HourlySeries.load(vm: vm, from: from, to: Self.now, in: $0) }
        }
        for row in absent {
            let s = series[row.vm]!
            let i = Int((row.time - s.start) / 3600)
            #expect(s.values[i].isNaN, "\(row.vm) absent at \(UTC.format(row.time)) must be missing, not idle")
            // A target on that hour is masked out of the loss.
            if i >= config.lookback + 24 {
                let w = config.input.window(s, end: i, scale: 1, lookback: config.lookback, horizon: 1)
                #expect(w.mask == [0])
            }
        }

        // Demand events on past bursts, for every VM, in the training period only.
        var ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//torpor//test//EN\r\n"
        var eventHours = 0
        for vm in vms {
            let s = try store.read { try HourlySeries.load(vm: vm, from: from, to: Self.now, in: $0) }
            for h in Self.bursts(s, before: Int((split - s.start) / 3600) - 24).prefix(20) {
                let start = UTC.format(s.time(of: h)).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
                let end = UTC.format(s.time(of: h + 1)).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
                ics += "BEGIN:VEVENT\r\nUID:\(vm)-\(h)@test\r\nDTSTAMP:20130901T000000Z\r\nDTSTART:\(start)\r\nDTEND:\(end)\r\n"
                    + "SUMMARY:campaign\r\nCATEGORIES:demand\r\nX-TORPOR-VMS:\(vm)\r\nEND:VEVENT\r\n"
                eventHours += 1
            }
        }
        ics += "END:VCALENDAR\r\n"
        #expect(eventHours >= 50, "\(eventHours) burst hours")
        try ics.write(toFile: dir + "/campaigns.ics", atomically: true, encoding: .utf8)
        _ = try CalendarIngester(store: store).ingest(path: dir + "/campaigns.ics", from: from, to: Self.now, now: Self.now)

        let run = try Trainer(store: store, config: config).run(now: Self.now).run
        for (k, v) in run.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        #expect(run.promoted, "\(run.reason)")
        var won: [Float] = []
        for q in config.quantiles {
            let model = try #require(run.metrics["pinball q\(q) model"])
            let best = try ["seasonalNaiveDay", "seasonalNaiveWeek", "hourOfWeekProfile"].map { try #require(run.metrics["pinball q\(q) \($0)"]) }.min()!
            if model < best { won.append(q) }
            // The upper quantiles, which decide hibernation, beat every baseline by 7 % or more. The median is a
            // near tie with seasonal naive (within 2 %, either side, depending on the BLAS kernels the CPU gets:
            // float sums differ), so it is held to 5 % of the best baseline and served only when it wins.
            #expect(q >= 0.9 ? model < best : model < 1.05 * best, "q\(q): model \(model) vs best baseline \(best)")
        }
        #expect(run.hyperparameters["served_quantiles"] == won.map { "\($0)" }.joined(separator: ","))
        let coverage = try #require(run.metrics["coverage q0.9 model"])
        #expect(coverage >= 0.80 && coverage <= 0.97, "q0.9 covers \(coverage) of the held-back actuals")
        #expect(run.hyperparameters["calendar"] == "demand")

        // An event injected ahead moves the forecast at its hours, and only there.
        let forecaster = try DemandForecaster(store: store)
        let vm = try #require(run.vms.first { $0.better == "model" && $0.predictable }?.vm)
        let history = try store.read { try HourlySeries.load(vm: vm, from: Self.now - Int64(forecaster.historyHours) * 3600, to: Self.now, in: $0) }
        let eventHoursAhead = 5..<8
        var future: [EpochSeconds: Set<EventRecord.Category>] = [:]
        for k in eventHoursAhead { future[Self.now + Int64(k) * 3600] = [.demand] }
        let plain = try #require(forecaster.forecast([(vm, history)])[vm])
        let withEvent = try #require(forecaster.forecast([(vm, history)], calendar: CalendarHours([vm: future]))[vm])
        #expect(plain.source.hasPrefix("model #"))
        for k in 0..<forecaster.horizon {
            if eventHoursAhead.contains(k) {
                #expect(zip(withEvent.values[k], plain.values[k]).allSatisfy { $0 >= $1 } && withEvent.values[k] != plain.values[k],
                        "hour \(k): \(withEvent.values[k]) vs \(plain.values[k])")
            } else {
                #expect(withEvent.values[k] == plain.values[k], "hour \(k) has no event")
            }
        }
    }

    /// NAB's five CloudWatch CPU series of February 2014 hold 14 days each: too short for the default model (a week of
    /// lookback, the same hour six days earlier, a week of validation), so the short-history setting is used: a day of
    /// lookback, the last 3 days held out. The gate decides per quantile: the model serves exactly the quantiles it
    /// wins, the profile the others.
    @Test func shortNABSeriesAreJudgedByTheSameGate() throws {
        let (store, _) = try scratchStore()
        let mapping = try CSVMapping.load(path: Self.repository + "/sample-data/mappings/nab-cpu.yaml")
        let folder = Self.traces + "/nab/realAWSCloudwatch/"
        let series = ["ec2_cpu_utilization_24ae8d", "ec2_cpu_utilization_53ea38", "ec2_cpu_utilization_5f5533",
                      "ec2_cpu_utilization_fe7f93", "rds_cpu_utilization_cc0c53"]
        let now = UTC.epoch(year: 2014, month: 2, day: 28, hour: 14)
        for name in series { _ = try CSVIngester(store: store).ingest(path: folder + name + ".csv", mapping: mapping, now: now + 86_400) }
        var config = TrainingConfig()
        config.lookback = 24
        config.historyDays = 14
        config.validationDays = 3
        config.maxEpochs = 30
        let run = try Trainer(store: store, config: config).run(now: now).run
        for (k, v) in run.metrics.sorted(by: { $0.key < $1.key }) where !k.contains("mean") { print("  \(k): \(v)") }
        #expect(Set(run.vms.map(\.vm)) == Set(series.map { "nab-" + $0 }), "every VM gets a verdict")
        let coverage = try #require(run.metrics["coverage q0.9 model"])
        #expect(coverage >= 0.80 && coverage <= 0.97, "q0.9 covers \(coverage) of the held-back actuals")
        var won: [Float] = []
        for q in config.quantiles {
            let model = try #require(run.metrics["pinball q\(q) model"])
            let best = try ["seasonalNaiveDay", "seasonalNaiveWeek", "hourOfWeekProfile"].map { try #require(run.metrics["pinball q\(q) \($0)"]) }.min()!
            if model < best { won.append(q) }
            // The upper quantiles, which decide hibernation, are where the model's skill shows even on two weeks of data.
            if q >= 0.9 { #expect(model < best, "q\(q): model \(model) vs best baseline \(best)") }
        }
        #expect(run.promoted == !won.isEmpty, "\(run.reason)")
        #expect(run.promoted, "promoted for the quantiles it wins on the held-back days: \(run.reason)")
        #expect(run.hyperparameters["served_quantiles"] == won.map { "\($0)" }.joined(separator: ","))
        // Each quantile falls back to the baseline that forecast it best, where the model does not serve it.
        let fallbacks = try config.quantiles.map { q in
            try Baseline.servable.map { b in (b, try #require(run.metrics["pinball q\(q) \(b)"])) }.min { $0.1 < $1.1 }!.0
        }
        #expect(run.hyperparameters["fallbacks"] == zip(config.quantiles, fallbacks).map { "\($0):\($1)" }.joined(separator: ","))
        let forecaster = try DemandForecaster(store: store)
        #expect((forecaster.run != nil) == run.promoted, "the planner forecasts with the model only when it is promoted")
        // A VM the model forecasts best: the served quantiles come from the model, the others from the profile.
        guard won.count < config.quantiles.count, let vm = run.vms.first(where: { $0.better == "model" })?.vm else { return }
        let history = try store.read { try HourlySeries.load(vm: vm, from: now - Int64(forecaster.historyHours) * 3600, to: now, in: $0) }
        let forecast = try #require(forecaster.forecast([(vm, history)])[vm])
        let profile = forecaster.fallback(history)
        #expect(forecast.source.contains("for " + won.map { "q\($0)" }.joined(separator: ", ") + ", "), "\(forecast.source)")
        for q in forecast.quantiles where !won.contains(q) {
            let j = try #require(forecast.quantiles.firstIndex(of: q))
            #expect(zip(forecast.values, profile.values).contains { $0[j] == $1[j] }, "q\(q) comes from its baseline")
        }
    }
}

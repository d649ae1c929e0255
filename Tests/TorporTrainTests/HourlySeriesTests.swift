import Foundation
import GRDB
import Testing
import TorporCore
import TorporIngest
import TorporStore
import TorporTestSupport
@testable import TorporTrain

func scratchStore() throws -> (Store, String) {
    let dir = try ScratchDirectory.make("torpor-train")
    return (try Store(path: dir + "/torpor.db"), dir)
}

@Suite struct HourlySeriesTests {
    let t0 = UTC.epoch(year: 2013, month: 9, day: 2)

    @Test func hoursTakeTheirMaximumAndMissingStaysMissing() throws {
        let (store, dir) = try scratchStore()
        var csv = "vm,metric,time,value\n"
        for (minute, v) in [(0, 10.0), (5, 50.0), (55, 20.0)] { csv += "web-01,cpu_util,\(t0 + Int64(minute * 60)),\(v)\n" }
        // hour 1: no sample at all
        for minute in stride(from: 0, to: 60, by: 5) { csv += "web-01,cpu_util,\(t0 + 7200 + Int64(minute * 60)),5\n" }
        csv += "web-01,vcpus,\(t0 + 7200 + 600),0\n"   // hour 2: the VM was absent for a while
        for minute in stride(from: 0, to: 60, by: 5) { csv += "web-01,cpu_util,\(t0 + 10800 + Int64(minute * 60)),7\n" }
        for minute in stride(from: 0, to: 60, by: 5) { csv += "web-01,cpu_util,\(t0 + 14400 + Int64(minute * 60)),9\n" }
        csv += "web-01,cpu_util,\(t0 + 5 * 3600),1e39\n"   // hour 5: beyond float range, no reading
        try csv.write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        _ = try CSVIngester(store: store).ingest(path: dir + "/s.csv", mapping: .defaultLong, now: t0 + 86_400)
        let series = try store.read {
            try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 6 * 3600, excluded: [(t0 + 10800)...(t0 + 14400)], in: $0)
        }
        #expect(series.start == t0 && series.values.count == 6)
        #expect(series.values[5].isNaN, "a value beyond float range is no reading")
        #expect(series.values[0] == 50, "the hour's maximum, not its mean")
        #expect(series.values[1].isNaN, "a gap is missing")
        #expect(series.values[2].isNaN, "an hour in which the VM was absent is missing")
        #expect(series.values[3].isNaN, "an hour the VM was hibernated is missing")
        #expect(series.values[4] == 9, "a sleep that ends as an hour begins leaves that hour known")
        #expect(series.coverage == 2.0 / 6)
    }

    /// A sleep hides what it spans: an hour it begins in is missing (its calm minutes before the sleep are no idle hour),
    /// so is one it lasts through, and an hour it ends in is judged by its samples after the wake alone: the demand
    /// measured there is kept, and a few minutes are too few (sparse: real readings). Memory, network and disk are
    /// missing at every hour a sleep touches. The samples inside the sleeps (90 here) are never read.
    @Test func anHourASleepEndsInKeepsTheSamplesAfterIt() throws {
        let (store, dir) = try scratchStore()
        // Asleep from 24:50 until its demand (from 26:10) woke it at 26:12; asleep again from 27:00 to 28:40.
        let sleeps = [(t0 + 24 * 3600 + 3000)...(t0 + 26 * 3600 + 720), (t0 + 27 * 3600)...(t0 + 28 * 3600 + 2400)]
        var csv = "vm,metric,time,value\n"
        for hour in 0..<30 {
            for m in stride(from: 0, to: 60, by: 5) {
                let t = t0 + Int64(hour * 3600 + m * 60)
                let value = sleeps.contains { $0.lowerBound <= t && t < $0.upperBound } ? 90 : hour == 26 ? 80 : 10
                csv += "web-01,cpu_util,\(t),\(value)\nweb-01,mem_util,\(t),40\n"
            }
        }
        try csv.write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        _ = try CSVIngester(store: store).ingest(path: dir + "/s.csv", mapping: .defaultLong, now: t0 + 86_400 * 2)
        let series = try store.read { try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 30 * 3600, excluded: sleeps, context: true, in: $0) }
        #expect(series.values[23] == 10 && series.context[0][23] == 0.4)
        #expect(series.values[24].isNaN && !series.sparse.contains(24), "a sleep began in it")
        #expect(series.values[25].isNaN && series.values[27].isNaN, "slept through")
        #expect(series.values[26] == 80, "the demand after the wake: 9 samples of 12")
        #expect(series.values[28].isNaN && series.sparse.contains(28), "4 samples of 12 after the wake")
        #expect(series.values[29] == 10)
        #expect((24...28).allSatisfy { series.context[0][$0].isNaN } && series.context[0][29] == 0.4)
        // The same read from the samples (a VM not summed up yet) as from the hourly summary.
        try store.transaction { try $0.execute(sql: "UPDATE vm SET hours_complete = 0") }
        #expect(try store.read { try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 30 * 3600, excluded: sleeps, in: $0) }.values
                    .elementsEqual(series.values) { $0 == $1 || $0.isNaN && $1.isNaN })
    }

    /// An hour with under half the samples its VM's hours usually have is missing, not measured (the collector down for
    /// most of it: its readings say nothing of the rest of the hour), though its readings stay real (`sparse`); a source
    /// that samples hourly is not sparse for it, and one that samples less often from some hour on is, until that is usual.
    @Test func anHourWithFewOfItsUsualSamplesIsMissing() throws {
        let (store, dir) = try scratchStore()
        var csv = "vm,metric,time,value\n"
        for hour in 0..<30 {
            // 5-minute samples at 60 %, but hour 10 (one low sample: the collector stopped), hour 14 (5 of 12), hour 15
            // (6 of 12: half is enough), hour 20 (2 samples, and the VM absent in it) and none in hours 11–12.
            let minutes: [Int] = switch hour { case 10: [0]; case 11, 12: []; case 14: [0, 5, 10, 15, 20]; case 15: [0, 5, 10, 15, 20, 25]; case 20: [0, 5]
                                               default: Array(stride(from: 0, to: 60, by: 5)) }
            for m in minutes { csv += "web-01,cpu_util,\(t0 + Int64(hour * 3600 + m * 60)),\(hour == 10 ? 1 : 60)\n" }
            csv += "hourly-01,cpu_util,\(t0 + Int64(hour * 3600)),\(hour % 2 == 0 ? 1 : 60)\n"
        }
        csv += "web-01,vcpus,\(t0 + 20 * 3600),0\n"
        try csv.write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        _ = try CSVIngester(store: store).ingest(path: dir + "/s.csv", mapping: .defaultLong, now: t0 + 86_400 * 2)
        let (web, hourly) = try store.read {
            (try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 30 * 3600, in: $0), try HourlySeries.load(vm: "hourly-01", from: t0, to: t0 + 30 * 3600, in: $0))
        }
        #expect(web.values[10].isNaN && web.values[14].isNaN && web.values[20].isNaN, "one low sample is no idle hour")
        #expect(web.values[9] == 60 && web.values[13] == 60 && web.values[15] == 60 && web.values[16] == 60)
        #expect(web.sparse == [10, 14], "real readings, missing for their few samples; hour 20 is missing for the VM's absence")
        #expect(hourly.values.allSatisfy { !$0.isNaN } && hourly.sparse.isEmpty, "one sample an hour is that source's usual")
        #expect(web.prefix(12).sparse == [10] && web.dropFirst(12).sparse == [2])
        let later = try store.read { try HourlySeries.load(vm: "web-01", from: t0 + 10 * 3600, to: t0 + 30 * 3600, in: $0) }
        #expect(later.sparse == [0, 4], "judged on the day before the read too, wherever it starts")
        // Judged on the hours before only (as a replay's hour was, then): a source that slows from 12 samples an hour to
        // one is sparse until one is its usual, 12 hours on.
        let slowed = HourlySeries.sparseHours([Int](repeating: 12, count: 30) + [Int](repeating: 1, count: 30))
        #expect(slowed == Set(30...41))
        #expect(HourlySeries.sparseHours([0, 0, 3, 0, 12, 12]) == [], "the first hours judge themselves")
    }

    /// CPU utilization is a share of the vCPUs the VM had then: it is read on the VM's newest count. Hours measured on
    /// more vCPUs than the VM has since are scaled up (30 % of 4 is 60 % of 2; capped at 100 %), hours measured on fewer
    /// are kept as measured (their 100 % may have been capped), and a replay's history up to an hour before the cut,
    /// from a read as measured, is the history production read then.
    @Test func hoursMeasuredOnMoreVCPUsAreReadOnTheNewestCount() throws {
        let (store, dir) = try scratchStore()
        var csv = "vm,metric,time,value\n"
        for hour in 0..<20 {
            for m in stride(from: 0, to: 60, by: 5) {
                let t = t0 + Int64(hour * 3600 + m * 60)
                // cut-01 has 4 vCPUs, then 2 from hour 10; grown-01 2, then 4.
                csv += "cut-01,cpu_util,\(t),\(hour < 10 ? (hour == 5 ? 60 : 30) : 20)\ncut-01,vcpus,\(t),\(hour < 10 ? 4 : 2)\n"
                csv += "grown-01,cpu_util,\(t),\(hour < 10 ? 50 : 20)\ngrown-01,vcpus,\(t),\(hour < 10 ? 2 : 4)\n"
                // late-01: cut to 2 at 10:30. slept-01: cut to 2 at 10:00 while it ran, then asleep from 15:00, when only
                // its definition's count (4) is reported.
                if hour <= 10 { csv += "late-01,cpu_util,\(t),30\nlate-01,vcpus,\(t),\(hour == 10 && m >= 30 ? 2 : 4)\n" }
                if hour < 15 { csv += "slept-01,cpu_util,\(t),30\n" }
                csv += "slept-01,vcpus,\(t),\((10..<15).contains(hour) ? 2 : 4)\n"
            }
        }
        try csv.write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        _ = try CSVIngester(store: store).ingest(path: dir + "/s.csv", mapping: .defaultLong, now: t0 + 86_400)
        let (cut, grown, measured) = try store.read { db in
            (try HourlySeries.load(vm: "cut-01", from: t0, to: t0 + 20 * 3600, in: db), try HourlySeries.load(vm: "grown-01", from: t0, to: t0 + 20 * 3600, in: db),
             try HourlySeries.load(vm: "cut-01", from: t0, to: t0 + 20 * 3600, asMeasured: true, in: db))
        }
        #expect(cut.values[0] == 60 && cut.values[9] == 60 && cut.values[5] == 100, "on 2 vCPUs: twice the share, capped at 100 %")
        #expect(cut.values[10...].allSatisfy { $0 == 20 } && cut.vcpus.allSatisfy { $0 == 2 })
        #expect(grown.values[0] == 50 && grown.values[10] == 20, "a cap on fewer vCPUs may hide demand: never scaled down")
        #expect(measured.values[0] == 30 && measured.vcpus[0] == 4 && measured.vcpus[10] == 2)
        #expect(measured.prefix(10).onNewestVCPUs().values[0] == 30, "before the cut, the VM had 4 vCPUs")
        #expect(measured.prefix(11).onNewestVCPUs().values == cut.prefix(11).values)
        #expect(cut.onNewestVCPUs() == cut, "read on the newest count once")
        // A cut within the newest hour counts at once (its fewest), and a count reported while the VM slept is not the one
        // it runs with.
        let (late, slept) = try store.read { db in
            (try HourlySeries.load(vm: "late-01", from: t0, to: t0 + 11 * 3600, in: db),
             try HourlySeries.load(vm: "slept-01", from: t0, to: t0 + 20 * 3600, excluded: [(t0 + 15 * 3600)...(t0 + 20 * 3600)], in: db))
        }
        #expect(late.values[0] == 60 && late.values[10] == 60, "the hour of the cut was measured on 4 vCPUs at most")
        #expect(slept.values[0] == 60 && slept.values[14] == 30)
        let noCounts = HourlySeries(start: t0, step: 3600, values: [10, 20])
        #expect(noCounts.onNewestVCPUs() == noCounts, "a source without vCPU counts is read as it is")
    }

    /// db-01 of the demo fleet (Bitbrains VM 41) is absent for long stretches: those hours are missing, not idle.
    @Test func absentRowsOfARealTraceAreMissing() throws {
        let (store, _) = try scratchStore()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var mapping = try CSVMapping.load(path: repo + "/sample-data/mappings/bitbrains.yaml")
        mapping.vm?.prefix = ""
        let report = try CSVIngester(store: store).ingest(path: repo + "/sample-data/traces/bitbrains/db-01.csv.gz", mapping: mapping, now: replay)
        let (series, absentHours) = try store.read { db -> (HourlySeries, Set<EpochSeconds>) in
            let s = try HourlySeries.load(vm: "db-01", from: report.firstTime!, to: report.lastTime! + 1, in: db)
            let absent = Set(try SampleReader.samples(vm: "db-01", metric: "vcpus", from: 0, to: .max, in: db).filter { $0.value == 0 }.map { $0.time - $0.time % 3600 })
            return (s, absent)
        }
        #expect(!absentHours.isEmpty)
        for hour in absentHours { #expect(series.values[Int((hour - series.start) / 3600)].isNaN) }
        #expect(series.values.contains { !$0.isNaN && $0 > 0 })
    }

    /// Memory, network and disk use beside the demand: the share of the allocation, traffic on the fixed log scale
    /// (both directions added), missing where the VM was absent, and empty for a resource the VM never reported.
    @Test func contextIsLoadedOnRequestAndMissingWhereTheVMWasAbsent() throws {
        let (store, dir) = try scratchStore()
        var csv = "vm,metric,time,value\n"
        for h in 0..<3 {
            let t = t0 + Int64(h) * 3600
            csv += "web-01,cpu_util,\(t),10\nweb-01,mem_used,\(t),\(1 << 30)\nweb-01,mem_capacity,\(t),\(h == 2 ? 0 : 4 << 30)\n"
            csv += "web-01,net_rx,\(t),999\nweb-01,net_tx,\(t + 60),0\n"
        }
        try csv.write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        _ = try CSVIngester(store: store).ingest(path: dir + "/s.csv", mapping: .defaultLong, now: t0 + 86_400)
        let (plain, series) = try store.read {
            (try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 3 * 3600, in: $0),
             try HourlySeries.load(vm: "web-01", from: t0, to: t0 + 3 * 3600, context: true, in: $0))
        }
        #expect(plain.context == [[], [], []], "not loaded unless asked")
        #expect(series.values[0] == 10 && series.values[2].isNaN)
        let memory = series.context[0], network = series.context[1], disk = series.context[2]
        #expect(memory[0] == 0.25 && memory[1] == 0.25 && memory[2].isNaN)
        #expect(abs(network[0] - 3.0 / 9) < 1e-6, "log10(1 + 999 B/s) / 9")
        #expect(network[2].isNaN, "missing where the VM was absent")
        #expect(disk.isEmpty, "no disk metric at all")
        // The model's window reads them only when its input set says so; each value is followed by its present flag,
        // so a missing one (0, flag 0) is not measured idleness (0, flag 1).
        let with = ModelInput(usesContext: true).window(series, end: 3, scale: 10, lookback: 3, horizon: 1)
        let without = ModelInput(usesContext: false).window(series, end: 3, scale: 10, lookback: 3, horizon: 1)
        #expect(with.input.count == 3 * 14 && without.input.count == 3 * 8)
        #expect(Array(with.input[0..<4]) == [1, 1, 0, 0], "demand 10 / scale 10, present; six days earlier: before the series")
        #expect(Array(with.input[4..<10]) == [0.25, 1, Float(3.0 / 9), 1, 0, 0], "memory, network present; no disk metric")
        #expect(Array(with.input[28..<38]) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "hour 2: nothing known")
        #expect(Array(without.input[0..<4]) == Array(with.input[0..<4]) && Array(without.input[4..<8]) == Array(with.input[10..<14]))
        #expect(ModelInput(usesContext: true).features == "demand,demand_present,same_hour_6d_ago,same_hour_6d_ago_present,"
            + "memory,memory_present,network,network_present,disk,disk_present,hour_sin,hour_cos,dow_sin,dow_cos")
        #expect(ModelInput(features: ModelInput(usesContext: true).features) == ModelInput(usesContext: true))
        #expect(ModelInput(features: "demand,something_else") == nil)
    }

    /// The model's outputs are changes from the same hour yesterday, or where that is missing (a night or a weekend the
    /// VM slept through) the same hour a week before: never another weekday's, so a Monday morning after a weekend asleep
    /// is not anchored on the idle Saturday before it.
    @Test func forecastsAreAnchoredOnYesterdayElseTheSameWeekday() {
        var values = [Float](repeating: .nan, count: 24 * 10)
        values[2] = 4            // day 0, 02:00
        values[5 * 24 + 2] = 6   // day 5, 02:00: two days before day 7
        values[8 * 24 + 3] = 7   // day 8, 03:00
        let utcDays = LocalHourSteps(hoursOfWeek: [])
        #expect(ModelInput.base(values, 7 * 24 + 2, before: 7 * 24 + 2, utcDays) == 4, "a week back when yesterday is missing, not day 5")
        #expect(ModelInput.base(values, 9 * 24 + 3, before: 9 * 24 + 3, utcDays) == 7, "yesterday when known")
        #expect(ModelInput.base(values, 4 * 24 + 2, before: 4 * 24 + 2, utcDays).isNaN, "day 0 is neither yesterday nor a week back")
        #expect(ModelInput.base(values, 7 * 24 + 2, before: 2, utcDays).isNaN, "only hours before the forecast are read")
        let out = ModelInput(usesContext: false).quantiles([1, 2, 1, 2], series: HourlySeries(start: t0, step: 3600, values: Array(values[..<(7 * 24 + 2)])),
                                                           end: 7 * 24 + 2, scale: 10, quantiles: 2)
        #expect(out[0] == [14, 24] && out[1].allSatisfy(\.isNaN))
        // A change below the anchor's value is served as no demand, never below it (as the planner reads it, validation
        // judges it); unknown stays unknown, never 0 (idle).
        let below = ModelInput(usesContext: false).quantiles([-1, -0.2, 1, 2], series: HourlySeries(start: t0, step: 3600, values: Array(values[..<(7 * 24 + 2)])),
                                                             end: 7 * 24 + 2, scale: 10, quantiles: 2)
        #expect(below[0] == [0, 2] && below[1].allSatisfy(\.isNaN))
        var known = values
        known[7 * 24 + 2] = 9
        let w = ModelInput(usesContext: false).window(HourlySeries(start: t0, step: 3600, values: known), end: 7 * 24 + 2, scale: 1, lookback: 24, horizon: 2)
        #expect(w.target == [5, 0] && w.mask == [1, 0])
    }

    /// On the day the clocks go forward (Amsterdam, 2013-03-31), the same hour a day before the last hour of a forecast
    /// is the forecast's own first hour: unknown when the forecast is made, so never what it is anchored on (validation
    /// had read the actual there); the day before it is.
    @Test func aForecastIsNeverAnchoredOnItsOwnHours() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        let start = UTC.epoch(year: 2013, month: 3, day: 28), values = (0..<24 * 8).map(Float.init)
        let steps = LocalHourSteps(clock: amsterdam, start: start, steps: 0..<values.count)
        let last = try #require((48..<values.count).first { steps.sameHour($0, daysBefore: 1) == $0 - 23 }, "a day of 23 hours")
        let end = last - 23   // a forecast of 24 hours from `end` reaches `last`
        #expect(ModelInput.base(values, last, before: end, steps) == Float(steps.sameHour(last, daysBefore: 2)), "not \(end), the forecast's first hour")
        #expect(ModelInput.base(values, last, before: last, steps) == Float(end), "from a later forecast, that hour is known")
    }

    let replay = UTC.epoch(year: 2026, month: 1, day: 1)
}

@Suite struct BaselineTests {
    /// The hours of the week of a series that starts on a Monday at 00:00 UTC.
    let week = WeekClock.utc.hoursOfWeek(from: UTC.epoch(year: 2024, month: 1, day: 1), count: 24 * 60)
    /// Four weeks of a perfectly periodic daily pattern.
    let periodic: [Float] = (0..<24 * 28).map { Float(($0 % 24) >= 9 && ($0 % 24) < 17 ? 60 : 5) }

    @Test func seasonalBaselinesAreExactOnAPeriodicSeries() {
        let history = Array(periodic[..<(24 * 21)]), actual = Array(periodic[(24 * 21)..<(24 * 22)])
        for b in [Baseline.seasonalNaiveDay, .seasonalNaiveWeek, .hourOfWeekProfile] {
            #expect(b.forecast(history: history, hoursOfWeek: week, horizon: 24) == actual, "\(b)")
        }
        let mean = Baseline.mean.forecast(history: history, hoursOfWeek: week, horizon: 24)
        #expect(Evaluation.pinball(forecast: mean, actual: actual, quantile: 0.5) > 1)
    }

    @Test func gapsAreSkippedNotReadAsZero() {
        var history = Array(periodic[..<(24 * 21)])
        for i in (24 * 20)..<(24 * 21) { history[i] = .nan }   // the last day is missing
        let forecast = Baseline.seasonalNaiveDay.forecast(history: history, hoursOfWeek: week, horizon: 24)
        #expect(forecast == Array(periodic[(24 * 21)..<(24 * 22)]), "yesterday missing: the same day a week before is used")
        #expect(Baseline.mean.forecast(history: [.nan, 4, .nan, 6], hoursOfWeek: week, horizon: 1) == [5])
        let nothing = Baseline.seasonalNaiveDay.forecast(history: [Float](repeating: .nan, count: 48), hoursOfWeek: week, horizon: 2)
        #expect(nothing.allSatisfy { $0.isNaN })
    }

    /// Seasonal naive reads a missing day's hour from the same weekday of an earlier week, never from another weekday: an
    /// office VM asleep (or not collected) from Saturday evening through Sunday is forecast busy on Monday morning, as the
    /// Mondays before it were, not idle as Saturday was (which would have kept it asleep through every Monday after).
    @Test func seasonalNaiveReadsAMissingDayFromTheSameWeekdayBefore() {
        // Weekdays 60 % from 09:00 to 17:00, 2 % otherwise and all weekend; three weeks from a Monday.
        let office: [Float] = (0..<24 * 28).map { h in h % 168 < 120 && (9..<17).contains(h % 24) ? 60 : 2 }
        var history = Array(office[..<(24 * 21)])
        for i in (24 * 19 + 19)..<(24 * 21) { history[i] = .nan }   // asleep from Saturday 19:00
        let monday = Baseline.seasonalNaiveDay.forecast(history: history, hoursOfWeek: week, horizon: 24)
        #expect(monday == Array(office[(24 * 21)..<(24 * 22)]), "\(monday)")
        #expect(monday[9] == 60)
        // Nothing on that weekday in any week: nothing, not another weekday's reading.
        for i in stride(from: 24 * 0, to: 24 * 21, by: 168) { for h in i..<(i + 24) { history[h] = .nan } }
        #expect(Baseline.seasonalNaiveDay.forecast(history: history, hoursOfWeek: week, horizon: 24).allSatisfy { $0.isNaN })
    }

    @Test func evaluationMetrics() {
        let actual: [Float] = [1, 2, 3, 4, .nan]
        #expect(abs(Evaluation.pinball(forecast: [2, 2, 2, 2, 2], actual: actual, quantile: 0.9) - (0.1 + 0 + 0.9 + 1.8) / 4) < 1e-6)
        #expect(Evaluation.coverage(forecast: [2, 2, 2, 2, 2], actual: actual) == 0.5)
        let history: [Float] = (0..<96).map { Float($0 % 24) + ($0 / 24 == 2 ? 2 : 0) }
        #expect(abs(Evaluation.mase(forecast: [1, 2], actual: [1, 2], history: history)) < 1e-12)
        #expect(Evaluation.mase(forecast: [2, 3], actual: [1, 2], history: history) > 0)
    }
}

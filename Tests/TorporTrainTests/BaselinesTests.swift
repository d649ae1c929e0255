import Testing
import TorporCore
@testable import TorporTrain

/// The hour-of-week profile's level correction, which lets the planner's fallback forecast follow a VM whose load
/// changed within days instead of weeks.
@Suite struct BaselinesTests {
    static let monday = UTC.epoch(year: 2024, month: 1, day: 1)
    static let week = WeekClock.utc.hoursOfWeek(from: monday, count: 24 * 60)

    /// Four weeks: busy (40 %) in working hours and 30 % at night, then `lastDay` for the last 24 hours.
    static func series(lastDay: (Int) -> Float) -> HourlySeries {
        let hours = 28 * 24
        return HourlySeries(start: monday, step: 3600, values: (0..<hours).map { h in
            h >= hours - 24 ? lastDay(h % 24) : (8..<18).contains(h % 24) ? 40 : 30
        })
    }

    /// Seasonal naive's value kept at the quantile it serves, the profile's held around it; an hour of the week the
    /// profile never saw stays missing, though the same hour the day before is known (another day's reading of it).
    @Test func theFallbackKeepsSeasonalNaivesQuantileAndMissingHours() throws {
        let q: [Float] = [0.1, 0.5, 0.9]
        // Four weeks, Mondays 03:00 never read; each day's hours climb from 0 to 23, the last day's doubled.
        let hours = 28 * 24
        let history = (0..<hours).map { h -> Float in
            h % 168 == 3 ? .nan : Float(h % 24) * (h >= hours - 24 ? 2 : 1)
        }
        let fallbacks: [Baseline] = [.hourOfWeekProfile, .seasonalNaiveDay, .hourOfWeekProfile]
        let (values, _) = Baseline.servedFallback(history: history, hoursOfWeek: Self.week, horizon: 48, quantiles: q, fallbacks: fallbacks)
        let profile = Baseline.servedProfile(history: history, hoursOfWeek: Self.week, horizon: 48, quantiles: q).values
        #expect(values[3].allSatisfy(\.isNaN) && profile[3].allSatisfy(\.isNaN), "Monday 03:00: \(values[3])")
        for k in 0..<48 where k != 3 {
            let naive = Float(k % 24) * 2   // the last day's, also for the second day ahead
            #expect(values[k] == [min(profile[k][0], naive), naive, max(profile[k][2], naive)], "hour \(k): \(values[k]) vs \(profile[k])")
        }
        // Two seasonal naives that would cross keep their quantiles' order: the lower quantile takes the lower value.
        let crossed = Baseline.servedFallback(history: history, hoursOfWeek: Self.week, horizon: 24, quantiles: q,
                                              fallbacks: [.seasonalNaiveDay, .seasonalNaiveWeek, .hourOfWeekProfile]).values
        #expect(crossed[5][0] == 5 && crossed[5][1] == 10, "the week before 5, the day before 10: \(crossed[5])")
    }

    @Test func aVMThatWentQuietIsForecastAtItsNewLevel() throws {
        let quiet = Self.series { _ in 2 }
        let shift = Baseline.recentLevelShift(history: quiet.values, hoursOfWeek: Self.week)
        #expect(shift.map { abs($0 + 28) < 0.01 } == true, "\(String(describing: shift))")   // 2 less the night's 30, mostly
        let forecast = (try DemandForecaster(promoted: nil)).fallback(quiet)
        #expect(forecast.source == "hour-of-week profile, level -28.0")
        #expect(forecast.values[0].allSatisfy { $0 == 2 } && forecast.values[10].allSatisfy { $0 == 12 })
    }

    /// Office hours in Amsterdam (08:00–18:00 local) over the spring daylight-saving change of 2013-03-31: on the
    /// clock of that zone the profile expects the Monday after at 06:00 UTC (08:00 CEST); on UTC's, three weeks of
    /// 07:00 UTC outvote the one since and it expects the demand an hour late.
    @Test func theProfileKeepsLocalOfficeHoursAcrossADaylightSavingChange() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        let start = UTC.epoch(year: 2013, month: 3, day: 11)   // a Monday, 00:00 UTC
        let count = 28 * 24   // to Monday 2013-04-08 00:00 UTC
        let local = amsterdam.hoursOfWeek(from: start, count: count)
        let series = HourlySeries(start: start, step: 3600, values: local.map { h in (h % 24 >= 8 && h % 24 < 18 && h < 120) ? 60 : 2 })
        var byZone = try DemandForecaster(promoted: nil)
        byZone.clock = amsterdam
        let onLocal = byZone.fallback(series), onUTC = try DemandForecaster(promoted: nil).fallback(series)
        let median = 2   // q0.5 among the standard quantiles 0.1, 0.25, 0.5, 0.9, 0.99
        #expect(onLocal.values[6][median] == 60 && onLocal.values[5][median] == 2 && onLocal.values[16][median] == 2, "busy 06-16 UTC")
        #expect(onUTC.values[6][median] == 2 && onUTC.values[7][median] == 60, "an hour late on UTC's clock")
        #expect(onLocal.source == "hour-of-week profile (Europe/Amsterdam)")
        // The clock itself: 00:00 UTC was 01:00 CET before the change and 02:00 CEST after it.
        #expect(local[0] == 1 && amsterdam.hoursOfWeek(from: UTC.epoch(year: 2013, month: 4, day: 1), count: 1) == [2])
        #expect(WeekClock(zone: "Mars/Olympus") == nil && WeekClock.utc.hoursOfWeek(from: start, count: 2) == [0, 1])
    }

    /// Seasonal naive and the model's look backs (its input six days earlier, the day its outputs are a change from)
    /// read days on the fleet's clock: across Amsterdam's spring change (Sunday 2013-03-31, 01:00 UTC), busy hours
    /// 08:00–18:00 local every day are looked up at their local time, where UTC's days would put them an hour late.
    @Test func lookBacksKeepLocalHoursAcrossADaylightSavingChange() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        let start = UTC.epoch(year: 2013, month: 3, day: 11)   // a Monday, 00:00 UTC
        let local = amsterdam.hoursOfWeek(from: start, count: 29 * 24)
        let busy = local.map { h -> Float in h % 24 >= 8 && h % 24 < 18 ? 60 : 2 }
        let sunday = 20 * 24, monday = 21 * 24   // 31 March and 1 April, 00:00 UTC
        // Sunday 08:00 CEST is 06:00 UTC; the day before, 08:00 CET was 07:00 UTC.
        let day = Baseline.seasonalNaiveDay.forecast(history: Array(busy[..<sunday]), hoursOfWeek: local, horizon: 24)
        #expect(day[6] == 60 && day[5] == 2 && day[15] == 60 && day[16] == 2, "busy 06–16 UTC on Sunday")
        let dayOnUTC = Baseline.seasonalNaiveDay.forecast(history: Array(busy[..<sunday]), hoursOfWeek: [], horizon: 24)
        #expect(dayOnUTC[6] == 2 && dayOnUTC[16] == 60, "an hour late on UTC's days")
        let week = Baseline.seasonalNaiveWeek.forecast(history: Array(busy[..<monday]), hoursOfWeek: local, horizon: 24)
        #expect(week[6] == 60 && week[5] == 2 && week[16] == 2)

        let series = HourlySeries(start: start, step: 3600, values: busy)
        let onLocal = ModelInput(usesContext: false, clock: amsterdam), onUTC = ModelInput(usesContext: false)
        // Targets on Sunday: the change from Saturday at the same local hour, nothing at 08:00 CEST.
        let window = onLocal.window(series, end: sunday, scale: 1, lookback: 168, horizon: 24)
        #expect(window.target.allSatisfy { $0 == 0 } && window.mask.allSatisfy { $0 == 1 }, "\(window.target) \(window.mask)")
        #expect(onUTC.window(series, end: sunday, scale: 1, lookback: 168, horizon: 24).target[6] == 58)
        // The input six days before Sunday 06:00 UTC (08:00 CEST): Monday 08:00 CET, busy (feature 2 of 8 per hour).
        func sixDaysEarlier(_ input: ModelInput) -> Float {
            input.window(series, end: monday, scale: 1, lookback: 168, horizon: 24).input[(168 - 18) * input.featureCount + 2]
        }
        #expect(sixDaysEarlier(onLocal) == 60 && sixDaysEarlier(onUTC) == 2)
        // A forecast of Sunday made of zero changes is Saturday at the same local hour.
        let forecast = onLocal.quantiles([Float](repeating: 0, count: 24), series: HourlySeries(start: start, step: 3600, values: Array(busy[..<sunday])),
                                         end: sunday, scale: 1, quantiles: 1)
        #expect(forecast[6] == [60] && forecast[5] == [2] && forecast[16] == [2])
    }

    @Test func anUnchangedVMKeepsItsProfileAndMissingHoursSayNothing() throws {
        let steady = Self.series { $0 >= 8 && $0 < 18 ? 40 : 30 }
        #expect(Baseline.recentLevelShift(history: steady.values, hoursOfWeek: Self.week) == 0)
        #expect((try DemandForecaster(promoted: nil)).fallback(steady).source == "hour-of-week profile")
        // Asleep (or absent) almost all of the last week: no level is known, none is assumed (missing is not idle).
        var asleep = Self.series { _ in 2 }
        for h in asleep.values.count - 168..<asleep.values.count - 5 { asleep.values[h] = .nan }
        #expect(Baseline.recentLevelShift(history: asleep.values, hoursOfWeek: Self.week) == nil)
        // Awake 8 hours of it (say, when its forecast restored it): those hours are its level.
        asleep.values[asleep.values.count - 30] = 2; asleep.values[asleep.values.count - 40] = 2; asleep.values[asleep.values.count - 50] = 2
        #expect(Baseline.recentLevelShift(history: asleep.values, hoursOfWeek: Self.week).map { $0 < -20 } == true)
        // Less than two weeks of history: nothing to compare with.
        #expect(Baseline.recentLevelShift(history: Array(steady.values.suffix(300)), hoursOfWeek: Self.week) == nil)
    }
}

import Testing
import TorporCore
@testable import TorporTrain

/// The hour-of-week profile's level correction, which lets the planner's fallback forecast follow a VM whose load
/// changed within days instead of weeks.
@Suite struct BaselinesTests {
    static let monday = UTC.epoch(year: 2024, month: 1, day: 1)

    /// Four weeks: busy (40 %) in working hours and 30 % at night, then `lastDay` for the last 24 hours.
    static func series(lastDay: (Int) -> Float) -> HourlySeries {
        let hours = 28 * 24
        return HourlySeries(start: monday, step: 3600, values: (0..<hours).map { h in
            h >= hours - 24 ? lastDay(h % 24) : (8..<18).contains(h % 24) ? 40 : 30
        })
    }

    @Test func aVMThatWentQuietIsForecastAtItsNewLevel() throws {
        let quiet = Self.series { _ in 2 }
        let shift = Baseline.recentLevelShift(history: quiet.values, firstHourOfWeek: 0)
        #expect(shift.map { abs($0 + 28) < 0.01 } == true, "\(String(describing: shift))")   // 2 less the night's 30, mostly
        let forecast = (try DemandForecaster(promoted: nil)).profile(quiet)
        #expect(forecast.source == "hour-of-week profile, level -28.0")
        #expect(forecast.values[0].allSatisfy { $0 == 2 } && forecast.values[10].allSatisfy { $0 == 12 })
    }

    @Test func anUnchangedVMKeepsItsProfileAndMissingHoursSayNothing() throws {
        let steady = Self.series { $0 >= 8 && $0 < 18 ? 40 : 30 }
        #expect(Baseline.recentLevelShift(history: steady.values, firstHourOfWeek: 0) == 0)
        #expect((try DemandForecaster(promoted: nil)).profile(steady).source == "hour-of-week profile")
        // Asleep (or absent) almost all of the last week: no level is known, none is assumed (missing is not idle).
        var asleep = Self.series { _ in 2 }
        for h in asleep.values.count - 168..<asleep.values.count - 5 { asleep.values[h] = .nan }
        #expect(Baseline.recentLevelShift(history: asleep.values, firstHourOfWeek: 0) == nil)
        // Awake 8 hours of it (say, when its forecast restored it): those hours are its level.
        asleep.values[asleep.values.count - 30] = 2; asleep.values[asleep.values.count - 40] = 2; asleep.values[asleep.values.count - 50] = 2
        #expect(Baseline.recentLevelShift(history: asleep.values, firstHourOfWeek: 0).map { $0 < -20 } == true)
        // Less than two weeks of history: nothing to compare with.
        #expect(Baseline.recentLevelShift(history: Array(steady.values.suffix(300)), firstHourOfWeek: 0) == nil)
    }
}

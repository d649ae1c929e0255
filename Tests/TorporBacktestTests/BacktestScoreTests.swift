import Testing
@testable import TorporBacktest
import TorporCore
import TorporStore
import TorporTrain

/// Scoring at the source's resolution: 5-minute samples, restore time paid, gaps never idle.
@Suite struct BacktestScoreTests {
    static let day = UTC.epoch(year: 2024, month: 1, day: 1)

    /// One day of 5-minute samples at 1 %, with `busy` minutes-of-day ranges at 50 % and `gaps` left out.
    static func samples(busy: [Range<Int>] = [], gaps: [Range<Int>] = [], jitter: Bool = false) -> DemandSamples {
        var raw: [(time: EpochSeconds, value: Double)] = []
        for minute in stride(from: 0, to: 24 * 60, by: 5) where !gaps.contains(where: { $0.contains(minute) }) {
            let t = day + Int64(minute) * 60 + (jitter && minute % 30 == 5 ? 1 : 0)
            raw.append((t, busy.contains { $0.contains(minute) } ? 50 : 1))
        }
        let hourly = HourlySeries(start: day, step: 3600, values: [Float](repeating: 1, count: 24))
        return DemandSamples(raw, knownIn: hourly)
    }

    static func at(_ hour: Int, _ minute: Int = 0, _ second: Int = 0) -> EpochSeconds { day + Int64(hour * 3600 + minute * 60 + second) }

    @Test func intervalsFollowTheSamplesAndGapsAreNotIdle() {
        let demand = Self.samples(gaps: [120..<150], jitter: true)
        #expect(demand.interval == 300)
        #expect(demand.continues(1) && demand.continues(2), "a second of jitter is not a gap")
        let afterGap = demand.times.firstIndex { $0 >= Self.at(2, 30) }!
        #expect(!demand.continues(afterGap))
        #expect(demand.end(of: afterGap - 1) == Self.at(1, 55) + 300, "the last sample before the gap stands for one interval only")
        #expect(demand.end(of: 1) == Self.at(0, 10), "cut where the next sample starts")
    }

    @Test func firstCalmIsThePreflightOfTheExecutor() {
        let demand = Self.samples(busy: [18 * 60..<18 * 60 + 10], gaps: [20 * 60..<21 * 60])
        // Busy at 18:00: the executor tries again and hibernates at 18:10, the first calm sample.
        #expect(demand.firstCalm(from: Self.at(18), to: Self.at(19), threshold: 5) == Self.at(18, 10))
        // Calm already: at once, even inside a sample.
        #expect(demand.firstCalm(from: Self.at(17, 2), to: Self.at(18), threshold: 5) == Self.at(17, 2))
        // Nothing in an empty span (the hour ended before the executor could try).
        #expect(demand.firstCalm(from: Self.at(17, 2), to: Self.at(17, 2), threshold: 5) == nil)
        #expect(demand.firstCalm(from: Self.at(17, 2), to: Self.at(17), threshold: 5) == nil)
        // No data: never (missing is not idle).
        #expect(demand.firstCalm(from: Self.at(20), to: Self.at(21), threshold: 5) == nil)
        #expect(demand.firstDemand(from: Self.at(17), to: Self.at(19), threshold: 15) == Self.at(18))
        #expect(demand.firstDemand(from: Self.at(18, 10), to: Self.at(19), threshold: 15) == nil)
    }

    @Test func scoresIntervalsMinutesAndEpisodes() {
        // Demand 10:00–10:10 and 14:00–15:00; otherwise 1 %.
        let demand = Self.samples(busy: [600..<610, 840..<900])
        let asleep = [
            Downtime(start: Self.at(0), end: Self.at(10, 0, 30)),   // woken by the demand at 10:00, 30 s of restore
            Downtime(start: Self.at(12), end: Self.at(14)),          // restored just before the demand at 14:00
        ]
        let s = Score.of(demand, asleep: asleep, restoreAbove: 15, replayedHours: 24)
        #expect(s.demandIntervals == 2 + 12)
        #expect(s.violatedIntervals == 1 && abs(s.missedDemandMinutes - 0.5) < 1e-9)
        #expect(s.episodes == 2 && s.missedEpisodes == 1 && s.proactiveEpisodes == 1)
        #expect(abs(s.capturedHours - 12) < 1e-9, "10 h before the first demand and 2 h before the second: \(s.capturedHours)")
        #expect(s.hibernations == 2 && abs(s.knownHours - 24) < 1e-9)
        // Demand after less than an hour without is not a new episode.
        let flicker = Self.samples(busy: [600..<610, 640..<650])
        #expect(Score.of(flicker, asleep: [], restoreAbove: 15, replayedHours: 24).episodes == 1)
    }

    /// Quiet is counted in known samples only: forty minutes before a gap and thirty after it are not an hour without
    /// demand (missing is not idle); seventy minutes without a gap are.
    @Test func aGapEndsTheQuietBeforeAnEpisode() {
        func samples(quiet minutes: [Int], demandAt last: Int) -> DemandSamples {
            DemandSamples([(Self.day, 50)] + minutes.map { (Self.day + Int64($0) * 60, 1) } + [(Self.day + Int64(last) * 60, 50)])
        }
        let gap = samples(quiet: Array(stride(from: 5, to: 45, by: 5)) + Array(stride(from: 165, to: 195, by: 5)), demandAt: 195)
        #expect(Score.of(gap, asleep: [], restoreAbove: 15, replayedHours: 4).episodes == 0)
        let whole = samples(quiet: Array(stride(from: 5, to: 75, by: 5)), demandAt: 75)
        #expect(Score.of(whole, asleep: [], restoreAbove: 15, replayedHours: 4).episodes == 1)
    }

    /// Demand in the replay's first hour after a quiet that began before it is an episode (the samples before the
    /// window count for the quiet, not in the score); a wake that answered demand, finishing after it, makes the next
    /// episode no proactive one.
    @Test func theQuietBeforeTheWindowCountsAndAWakeIsNoProactiveRestore() {
        let demand = Self.samples(busy: [600..<610])
        let s = Score.of(demand, scoredFrom: Self.at(10), asleep: [], restoreAbove: 15, replayedHours: 14)
        #expect(s.episodes == 1 && s.demandIntervals == 2 && abs(s.knownHours - 14) < 1e-9, "\(s)")
        // Spikes at 02:00 and 04:00; the first wakes the VM, its restore (10 minutes) finishing after the spike's sample.
        let spikes = Self.samples(busy: [120..<125, 240..<245])
        let woken = Score.of(spikes, asleep: [Downtime(start: Self.at(0), end: Self.at(2, 10))], restoreAbove: 15, replayedHours: 24)
        #expect(woken.episodes == 2 && woken.missedEpisodes == 1 && woken.proactiveEpisodes == 0, "\(woken)")
        let planned = Score.of(spikes, asleep: [Downtime(start: Self.at(0), end: Self.at(2, 10)), Downtime(start: Self.at(3), end: Self.at(4))],
                               restoreAbove: 15, replayedHours: 24)
        #expect(planned.proactiveEpisodes == 1, "a sleep begun after the first spike, restored before the second")
    }

    @Test func absentHoursAreNotScored() {
        var raw: [(time: EpochSeconds, value: Double)] = []
        for minute in stride(from: 0, to: 120, by: 5) { raw.append((Self.day + Int64(minute) * 60, 1)) }
        let hourly = HourlySeries(start: Self.day, step: 3600, values: [1, .nan])   // hour 1: the VM absent
        let demand = DemandSamples(raw, knownIn: hourly)
        let s = Score.of(demand, asleep: [Downtime(start: Self.at(0), end: Self.at(2))], restoreAbove: 15, replayedHours: 2)
        #expect(abs(s.capturedHours - 1) < 1e-9 && abs(s.knownHours - 1) < 1e-9)
    }
}

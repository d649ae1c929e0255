import Foundation

/// The clock a fleet's weekly rhythm follows: the hour of the week (0 = Monday 00:00) of each hourly step, in a time
/// zone. Office hours keep their local time across daylight-saving changes, where in UTC they move by an hour twice a
/// year (and an hour-of-week profile of the weeks before would then expect them an hour late for weeks).
public struct WeekClock: Equatable, Sendable {
    /// The IANA zone name, or "UTC".
    public let zone: String
    private let timeZone: TimeZone?

    public static let utc = WeekClock(utc: ())

    private init(utc: Void) {
        zone = "UTC"
        timeZone = nil
    }

    /// What is said of a zone that `what` (a flag, a key, a setting) names and the system does not know.
    public static func unknownZone(_ what: String, _ zone: String) -> String {
        "\(what) '\(zone)' is not UTC nor a time zone this system knows (an IANA name such as Europe/Amsterdam)"
    }

    /// nil for a zone the system's zoneinfo does not know.
    public init?(zone: String) {
        guard zone != "UTC" else { self = .utc; return }
        guard let timeZone = TimeZone(identifier: zone) else { return nil }
        self.zone = zone
        self.timeZone = timeZone
    }

    /// The hour of the week of each of `count` hourly steps from `start` (the zone's offset is looked up again only
    /// at its daylight-saving transitions: forecasts of large fleets ask for many).
    public func hoursOfWeek(from start: EpochSeconds, count: Int) -> [Int] {
        var offset: Int64 = 0, offsetUntil = EpochSeconds.min
        return (0..<max(0, count)).map { i in
            let t = start + Int64(i) * 3600
            if let timeZone, t >= offsetUntil {
                let date = Date(timeIntervalSince1970: TimeInterval(t))
                offset = Int64(timeZone.secondsFromGMT(for: date))
                offsetUntil = timeZone.nextDaylightSavingTimeTransition(after: date).map { EpochSeconds($0.timeIntervalSince1970) } ?? .max
            }
            return Int(((UTC.floor(t + offset, to: 3600) / 3600 + 72) % 168 + 168) % 168)   // 1970-01-01 was a Thursday
        }
    }

    /// The local day `t` falls on, in days since 1970-01-01 on this clock.
    public func day(of t: EpochSeconds) -> Int64 {
        let offset = timeZone.map { Int64($0.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) } ?? 0
        return UTC.floor(t + offset, to: 86_400) / 86_400
    }

    /// The UTC time of local time `local` (its wall-clock reading taken as UTC seconds) on this clock. An hour a
    /// daylight-saving change repeats reads as its first pass (before the change; `utcTimes` gives both), a time it
    /// skips as read on the clock before the change (02:30 as 03:30 the day clocks go forward an hour), whichever side
    /// of UTC the zone is.
    public func utc(ofLocal local: EpochSeconds) -> EpochSeconds { utcTimes(ofLocal: local)[0] }

    /// Every UTC time of local time `local` on this clock, earliest first: both passes of an hour a daylight-saving
    /// change repeats, else the one (a skipped time as `utc(ofLocal:)` reads it).
    public func utcTimes(ofLocal local: EpochSeconds) -> [EpochSeconds] {
        guard let timeZone else { return [local] }
        func offset(_ t: EpochSeconds) -> Int64 { Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) }
        // The offsets a day either side are those before and after any change near `local`; a candidate holds when the
        // zone's offset at it is the one it was made with.
        let before = local - offset(local - 86_400), after = local - offset(local + 86_400)
        let holds = Set([before, after].filter { local - $0 == offset($0) }).sorted()
        return holds.isEmpty ? [before] : holds
    }

    public static func == (a: WeekClock, b: WeekClock) -> Bool { a.zone == b.zone }
}

/// Steps of an hourly grid read on a `WeekClock`: where the same local hour falls days earlier. On UTC's clock a day is
/// always 24 steps; across a daylight-saving change it is one more or one less, so that a look back at yesterday's (or
/// last week's) office hours finds them at their local time, not an hour early or late for a day (a week).
public struct LocalHourSteps: Sendable {
    /// The step `hoursOfWeek[0]` is of.
    private let first: Int
    /// The hour of the week of steps `first ..< first + hoursOfWeek.count`.
    private let hoursOfWeek: [Int]

    /// Steps `steps` of a grid whose step 0 starts at `start`, on `clock`.
    public init(clock: WeekClock, start: EpochSeconds, steps: Range<Int>) {
        first = steps.lowerBound
        hoursOfWeek = clock.hoursOfWeek(from: start + Int64(steps.lowerBound) * 3600, count: steps.count)
    }

    /// The steps from 0 whose hours of the week are `hoursOfWeek` (`WeekClock.hoursOfWeek`); none known: UTC's days.
    public init(hoursOfWeek: [Int]) {
        first = 0
        self.hoursOfWeek = hoursOfWeek
    }

    /// The hour of the week of step `t`, nil outside the steps known.
    public func hourOfWeek(_ t: Int) -> Int? {
        hoursOfWeek.indices.contains(t - first) ? hoursOfWeek[t - first] : nil
    }

    /// The step at the same local hour `days` days before step `t`: `t − 24 × days`, an hour later or earlier where a
    /// daylight-saving change lies between the two (in spring, an hour that did not exist is the one after it). Where
    /// either step's hour is not known: `t − 24 × days`.
    public func sameHour(_ t: Int, daysBefore days: Int) -> Int {
        let utcDays = t - 24 * days
        guard let now = hourOfWeek(t), let then = hourOfWeek(utcDays) else { return utcDays }
        // How far the clock moved between the two, in hours, within half a week either way (never to `t` itself: a
        // zone that once skipped a whole day).
        let moved = ((now - then - 24 * days) % 168 + 168 + 84) % 168 - 84
        return min(utcDays + moved, t - 1)
    }

    /// The step a seasonal-naive reading of step `t` takes, among the steps before `end` that `isKnown`: the same local
    /// hour `period` days back (1 or 7), or further back by that period while that is not before `end`; where that
    /// hour is missing (a gap, a sleep), the same hour of the same weekday in an earlier week, never another weekday's
    /// (a Monday morning a VM slept through is not read from the weekend before it); at most `maxDays` back. nil if none.
    public func seasonalNaiveStep(_ t: Int, before end: Int, period: Int, maxDays: Int = .max, isKnown: (Int) -> Bool) -> Int? {
        var days = period
        while sameHour(t, daysBefore: days) >= end { days += period }
        while days <= maxDays, case let i = sameHour(t, daysBefore: days), i >= 0 {
            if isKnown(i) { return i }
            days = (days / 7 + 1) * 7
        }
        return nil
    }
}

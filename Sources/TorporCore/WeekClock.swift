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

    public static func == (a: WeekClock, b: WeekClock) -> Bool { a.zone == b.zone }
}

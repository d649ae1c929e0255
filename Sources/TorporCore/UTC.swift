/// Times in torpor are whole seconds since the Unix epoch, UTC.
public typealias EpochSeconds = Int64

/// Calendar arithmetic and ISO-8601 text for UTC times, without Foundation's formatters (they are slow on hot paths).
public enum UTC {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The civil date of a day number (inverse of `days(year:month:day:)`).
    public static func civil(days z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(yoe + era * 400 + (m <= 2 ? 1 : 0)), Int(m), Int(d))
    }

    public static func epoch(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> EpochSeconds {
        days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// The start of the `step`-long interval (aligned to the epoch) that holds `t`, also for times before 1970.
    public static func floor(_ t: EpochSeconds, to step: Int64 = 3600) -> EpochSeconds { t - ((t % step) + step) % step }

    /// The starts of the first and the last `step`-long interval that `span` (a VM's sleep) spends time in: a span that
    /// ends on a boundary does not reach the interval that begins there; one of no length marks its own.
    public static func steps(touchedBy span: ClosedRange<EpochSeconds>, step: Int64 = 3600) -> ClosedRange<EpochSeconds> {
        floor(span.lowerBound, to: step)...floor(max(span.lowerBound, span.upperBound - 1), to: step)
    }

    /// The part of the hour at `hour` (to `end`: its end, or earlier) that a VM's history reads, given its `sleeps` (each
    /// [start, end], as the journal has them): nil when a sleep begins in it (the minutes before it were measured
    /// because they were calm, the executor hibernating only a calm VM: they would read as an idle hour) or lasts to its
    /// end; else what follows the end of the sleeps in it (a VM its demand woke early in the hour has that demand
    /// there), the whole hour when none is.
    public static func hourAfterSleeps(_ hour: EpochSeconds, end: EpochSeconds, sleeps: [ClosedRange<EpochSeconds>]) -> Range<EpochSeconds>? {
        var from = hour
        for sleep in sleeps where sleep.lowerBound < end && sleep.upperBound > hour {
            if sleep.lowerBound > hour || sleep.upperBound >= end { return nil }
            from = max(from, sleep.upperBound)
        }
        return from..<end
    }

    /// `2013-07-01T00:00:00Z`
    public static func format(_ t: EpochSeconds) -> String {
        let dayNumber = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = Int(t - dayNumber * 86_400)
        let (y, m, d) = civil(days: dayNumber)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }

    /// Parses ISO-8601 / RFC 3339 and the common SQL form: `YYYY-MM-DD`, then optionally `T` or a space,
    /// `HH:MM[:SS[.fraction]]`, then optionally `Z` or `±HH[:MM]`. Text without an offset is taken as UTC.
    /// Fractions of a second are truncated. Returns nil for anything else, including out-of-range fields: hour 24
    /// (`24:00` is the next day's `00:00` in ISO 8601, but the same day's to a writer of 1–24 hours: ambiguous) and
    /// second 60 (a leap second would take the place of the next minute's first).
    public static func parseISO8601(_ text: UnsafeBufferPointer<UInt8>) -> EpochSeconds? {
        var i = 0
        let n = text.count
        func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = text[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < n, text[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var hour = 0, minute = 0, second = 0
        if i < n, text[i] == 0x54 || text[i] == 0x74 || text[i] == 0x20 {   // T, t or space
            i += 1
            guard let h = digits(2), expect(0x3A), let mi = digits(2) else { return nil }
            hour = h; minute = mi
            if expect(0x3A) {
                guard let s = digits(2) else { return nil }
                second = s
                if expect(0x2E) || expect(0x2C) {
                    let start = i
                    while i < n, text[i] >= 48, text[i] <= 57 { i += 1 }
                    guard i > start else { return nil }
                }
            }
            guard hour <= 23, minute <= 59, second <= 59 else { return nil }
        }
        var offset = 0
        if i < n {
            if text[i] == 0x5A || text[i] == 0x7A {   // Z
                i += 1
            } else if text[i] == 0x2B || text[i] == 0x2D {   // + -
                let sign = text[i] == 0x2D ? -1 : 1
                i += 1
                guard let oh = digits(2) else { return nil }
                var om = 0
                if i < n {
                    _ = expect(0x3A)
                    guard let m = digits(2) else { return nil }
                    om = m
                }
                guard oh <= 23, om <= 59 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == n else { return nil }
        return epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second) - Int64(offset)
    }

    /// String convenience for `parseISO8601(_:)`.
    public static func parseISO8601(_ text: String) -> EpochSeconds? {
        var copy = text
        return copy.withUTF8 { parseISO8601($0) }
    }

    /// A time given on a command line (`--now`): Unix seconds from 2000 on, or ISO-8601. A smaller bare number is none:
    /// `--now 20250330` (a compact date) read as 1970-08-23, and a pin's `--until 7200` as 02:00 on 1 January 1970, not
    /// as two hours.
    public static func parseInstant(_ text: String) -> EpochSeconds? {
        if let seconds = Int64(text) { return seconds >= y2000 && instants.contains(seconds) ? seconds : nil }
        return parseISO8601(text).flatMap { instants.contains($0) ? $0 : nil }
    }

    /// Whether an ISO-8601 time names its zone (`Z` or an offset after its date): one without is a local time to
    /// whoever wrote it.
    public static func namesItsZone(_ time: String) -> Bool { time.dropFirst(10).contains { "Zz+-".contains($0) } }

    /// 2000-01-01T00:00:00Z: the earliest Unix time taken as a bare number on a command line.
    static let y2000: EpochSeconds = 946_684_800

    /// The instants torpor accepts, in any input: years 1 to 9999 (far beyond, arithmetic on them would overflow).
    public static let instants: ClosedRange<EpochSeconds> = -62_135_596_800...253_402_300_799

    /// Seconds read as a number (CSV cells, Prometheus timestamps) as an instant, rounded down; nil when not finite or
    /// outside `instants` (a time 1e30 is bad input, not a crash).
    public static func instant(seconds: Double) -> EpochSeconds? {
        guard seconds.isFinite, seconds >= Double(instants.lowerBound), seconds < Double(instants.upperBound) + 1 else { return nil }
        return EpochSeconds(seconds.rounded(.down))
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// Durations written as operators write them: `300`, `300s`, `5m`, `5min`, `1h`, `2d`, `1w`.
public enum DurationText {
    public static func seconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: " ")
        let digits = trimmed.prefix { $0.isNumber }
        guard let value = Int64(digits), !digits.isEmpty else { return nil }
        let factor: Int64
        switch trimmed.dropFirst(digits.count) {
        case "", "s", "sec": factor = 1
        case "m", "min": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        case "w": factor = 604_800
        default: return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow, seconds <= 100 * 366 * 86_400 else { return nil }   // a century: more is a typo, and would overflow times
        return seconds
    }

    /// `5m`, `1h30m`-free short form used in reports: the largest whole unit.
    public static func format(_ seconds: Int64) -> String {
        for (unit, size) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}

import Testing
import TorporCore

@Suite struct UTCTests {
    @Test func epochOfKnownDates() {
        #expect(UTC.epoch(year: 1970, month: 1, day: 1) == 0)
        #expect(UTC.epoch(year: 2013, month: 7, day: 1) == 1_372_636_800)
        #expect(UTC.epoch(year: 2000, month: 2, day: 29, hour: 12) == 951_825_600)
    }

    @Test func formatRoundTrips() {
        for t: EpochSeconds in [0, 1_372_629_804, 951_825_600, 4_102_444_799] {
            #expect(UTC.parseISO8601(UTC.format(t)) == t)
        }
        #expect(UTC.format(1_372_629_804) == "2013-06-30T22:03:24Z")
    }

    @Test func aSpanTouchesTheHoursItSpendsTimeIn() {
        let t = UTC.epoch(year: 2026, month: 12, day: 4, hour: 7)
        #expect(UTC.steps(touchedBy: (t + 600)...(t + 2 * 3600 + 1)) == t...(t + 2 * 3600))
        #expect(UTC.steps(touchedBy: (t + 600)...(t + 2 * 3600)) == t...(t + 3600), "it ends as hour 2 begins")
        #expect(UTC.steps(touchedBy: (t + 3600)...(t + 3600)) == (t + 3600)...(t + 3600), "an instant marks its own hour")
        #expect(UTC.steps(touchedBy: (-3600 - 1)...(-10)) == -7200...(-3600), "before 1970 too")
    }

    @Test func anHourIsReadAfterTheSleepsThatEndInIt() {
        let h = UTC.epoch(year: 2026, month: 12, day: 4, hour: 7), end = h + 3600
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: []) == h..<end)
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [(h - 600)...(h + 720)]) == (h + 720)..<end, "after the wake")
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [h...(h + 720)]) == (h + 720)..<end, "a sleep from the hour's start: nothing before it")
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [(h - 7200)...h, (end + 1)...(end + 60)]) == h..<end, "sleeps that end as it begins, or begin after it")
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [(h + 3000)...(end + 600)]) == nil, "a sleep begins in it: its calm minutes before are no idle hour")
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [(h - 600)...(h + 300), (h + 900)...(h + 1200)]) == nil, "woken, then asleep again")
        #expect(UTC.hourAfterSleeps(h, end: end, sleeps: [(h - 600)...end]) == nil, "asleep to its end")
        #expect(UTC.hourAfterSleeps(h, end: h + 1800, sleeps: [(h - 600)...(h + 1800)]) == nil, "asleep to the end of a part hour")
    }

    @Test func parsesTheFormsSourcesUse() {
        #expect(UTC.parseISO8601("2014-02-14 14:30:00") == UTC.epoch(year: 2014, month: 2, day: 14, hour: 14, minute: 30))
        #expect(UTC.parseISO8601("2014-02-14T14:30:00.250Z") == UTC.epoch(year: 2014, month: 2, day: 14, hour: 14, minute: 30))
        #expect(UTC.parseISO8601("2014-02-14T16:30:00+02:00") == UTC.epoch(year: 2014, month: 2, day: 14, hour: 14, minute: 30))
        #expect(UTC.parseISO8601("2014-02-14T09:30-0500") == UTC.epoch(year: 2014, month: 2, day: 14, hour: 14, minute: 30))
        #expect(UTC.parseISO8601("2014-02-14") == UTC.epoch(year: 2014, month: 2, day: 14))
    }

    /// A command line's time: Unix seconds from 2000 on, or ISO-8601; a smaller bare number is no time (a compact date
    /// read as 1970, a duration read as an instant in 1970).
    @Test func aCommandLinesBareNumberIsAUnixTimeFrom2000On() {
        #expect(UTC.parseInstant("1380499200") == UTC.epoch(year: 2013, month: 9, day: 30))
        #expect(UTC.parseInstant("946684800") == UTC.epoch(year: 2000, month: 1, day: 1))
        #expect(UTC.parseInstant("2013-09-30T00:00:00Z") == UTC.epoch(year: 2013, month: 9, day: 30))
        #expect(UTC.parseInstant("1969-07-20") == UTC.epoch(year: 1969, month: 7, day: 20), "a date is a date")
        for bare in ["20250330", "7200", "0", "-5"] { #expect(UTC.parseInstant(bare) == nil, "\(bare)") }
    }

    @Test func aWeekClockTellsTheLocalDay() throws {
        // 2026-11-27 06:00 UTC is still the 26th in Los Angeles (22:00 PST); 08:00 UTC is the 27th there.
        let la = try #require(WeekClock(zone: "America/Los_Angeles"))
        let day27 = UTC.days(year: 2026, month: 11, day: 27)
        #expect(WeekClock.utc.day(of: UTC.epoch(year: 2026, month: 11, day: 27, hour: 6)) == day27)
        #expect(la.day(of: UTC.epoch(year: 2026, month: 11, day: 27, hour: 6)) == day27 - 1)
        #expect(la.day(of: UTC.epoch(year: 2026, month: 11, day: 27, hour: 8)) == day27)
        #expect(WeekClock.utc.day(of: -1) == -1)
        // Before 1970 in a half-hour zone: 1969-12-31 14:00 UTC is 19:30 on Wednesday in Kolkata (+5:30), hour
        // 2 × 24 + 19 of the week (not 20: the local time is before the epoch, and hours are floored, not truncated).
        let kolkata = try #require(WeekClock(zone: "Asia/Kolkata"))
        #expect(kolkata.hoursOfWeek(from: -10 * 3600, count: 2) == [67, 68])
    }

    /// The same local hour days earlier, across Amsterdam's changes of 2013 (clocks forward on Sunday 31 March at
    /// 01:00 UTC, back on Sunday 27 October at 01:00 UTC), on a grid of hours from Monday 25 March 00:00 UTC.
    @Test func theSameLocalHourDaysEarlierStepsOverADaylightSavingChange() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        let spring = UTC.epoch(year: 2013, month: 3, day: 25)
        let steps = LocalHourSteps(clock: amsterdam, start: spring, steps: 0..<14 * 24)
        let mondayAt9 = 7 * 24 + 7   // Monday 1 April 09:00 CEST is 07:00 UTC
        #expect(steps.sameHour(mondayAt9, daysBefore: 7) == 8, "Monday 25 March 09:00 CET is 08:00 UTC: 167 hours back")
        #expect(steps.sameHour(mondayAt9, daysBefore: 6) == 24 + 8, "Tuesday 09:00 CET")
        #expect(steps.sameHour(mondayAt9, daysBefore: 1) == 6 * 24 + 7, "Sunday 09:00 CEST: 24 hours back, after the change")
        #expect(steps.sameHour(6 * 24 + 7, daysBefore: 1) == 5 * 24 + 8, "Sunday 09:00 CEST from Saturday 09:00 CET: 23 hours back")
        // Sunday 03:00 CEST (01:00 UTC) from Saturday: 02:00 did not exist that day, 03:00 CET is 02:00 UTC.
        #expect(steps.sameHour(6 * 24 + 1, daysBefore: 1) == 5 * 24 + 2)
        #expect(steps.hourOfWeek(mondayAt9) == 9 && steps.hourOfWeek(14 * 24) == nil)
        let autumn = UTC.epoch(year: 2013, month: 10, day: 21)
        let back = LocalHourSteps(clock: amsterdam, start: autumn, steps: 0..<14 * 24)
        #expect(back.sameHour(7 * 24 + 8, daysBefore: 7) == 7, "Monday 28 October 09:00 CET (08:00 UTC) from 09:00 CEST (07:00 UTC): 169 hours back")
        // On UTC's clock, and outside the steps known, a day is 24 steps.
        let utc = LocalHourSteps(clock: .utc, start: spring, steps: 0..<14 * 24)
        #expect(utc.sameHour(mondayAt9, daysBefore: 7) == mondayAt9 - 168 && utc.sameHour(mondayAt9, daysBefore: 1) == mondayAt9 - 24)
        #expect(steps.sameHour(3, daysBefore: 1) == -21 && LocalHourSteps(hoursOfWeek: []).sameHour(200, daysBefore: 2) == 152)
        // Samoa skipped 30 December 2011 (UTC−10 to UTC+14): the day before any step is still before it.
        let apia = try #require(WeekClock(zone: "Pacific/Apia"))
        let skipped = LocalHourSteps(clock: apia, start: UTC.epoch(year: 2011, month: 12, day: 28), steps: 0..<7 * 24)
        #expect((48..<7 * 24).allSatisfy { skipped.sameHour($0, daysBefore: 1) < $0 })
    }

    /// A local time's UTC time on a zone's clock, across Amsterdam's 2024 changes (forward on 31 March, back on 27 October,
    /// both at 01:00 UTC).
    @Test func localTimesOfAZoneReadAsUTC() throws {
        let amsterdam = try #require(WeekClock(zone: "Europe/Amsterdam"))
        func local(_ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0) -> EpochSeconds { UTC.epoch(year: 2024, month: month, day: day, hour: hour, minute: minute) }
        #expect(amsterdam.utc(ofLocal: local(7, 1, 10)) == local(7, 1, 8), "CEST")
        #expect(amsterdam.utc(ofLocal: local(1, 15, 10)) == local(1, 15, 9), "CET")
        #expect(amsterdam.utc(ofLocal: local(10, 27, 2, 30)) == local(10, 27, 0, 30), "a repeated hour: its first time, CEST")
        #expect(amsterdam.utc(ofLocal: local(3, 31, 2, 30)) == local(3, 31, 1, 30), "a skipped hour: an hour later (03:30 CEST)")
        // West of UTC the same rules: New York went forward on 10 March and back on 3 November 2024, at 02:00 local.
        let newYork = try #require(WeekClock(zone: "America/New_York"))
        #expect(newYork.utc(ofLocal: local(11, 3, 1, 30)) == local(11, 3, 5, 30), "a repeated hour: its first time, EDT")
        #expect(newYork.utc(ofLocal: local(3, 10, 2, 30)) == local(3, 10, 7, 30), "a skipped hour: an hour later (03:30 EDT)")
        #expect(newYork.utc(ofLocal: local(1, 15, 9)) == local(1, 15, 14) && newYork.utc(ofLocal: local(7, 1, 9)) == local(7, 1, 13))
        // Lord Howe moves by half an hour: its skipped 02:15 reads as 02:45 (+11:00).
        let lordHowe = try #require(WeekClock(zone: "Australia/Lord_Howe"))
        #expect(lordHowe.utc(ofLocal: local(10, 6, 2, 15)) == local(10, 5, 15, 45))
        #expect(WeekClock.utc.utc(ofLocal: local(7, 1, 10)) == local(7, 1, 10))
        // Both passes of a repeated hour, earliest first; one time elsewhere (a skipped one as read above).
        #expect(amsterdam.utcTimes(ofLocal: local(10, 27, 2, 30)) == [local(10, 27, 0, 30), local(10, 27, 1, 30)])
        #expect(newYork.utcTimes(ofLocal: local(11, 3, 1, 30)) == [local(11, 3, 5, 30), local(11, 3, 6, 30)])
        #expect(amsterdam.utcTimes(ofLocal: local(10, 27, 3)) == [local(10, 27, 2)] && amsterdam.utcTimes(ofLocal: local(3, 31, 2, 30)) == [local(3, 31, 1, 30)])
        #expect(amsterdam.utcTimes(ofLocal: local(7, 1, 10)) == [local(7, 1, 8)] && WeekClock.utc.utcTimes(ofLocal: local(10, 27, 2)) == [local(10, 27, 2)])
    }

    @Test func rejectsMalformedTimes() {
        for text in ["", "2014-02-30", "2014-13-01 00:00:00", "2014-02-14 25:00:00", "14/02/2014", "2014-02-14 14:30:00 junk", "1372629804",
                     "2014-02-14 24:30:00", "2014-02-14T24:00:00Z", "2014-12-31T23:59:60Z"] {
            #expect(UTC.parseISO8601(text) == nil, "\(text)")
        }
    }

    @Test func durations() {
        #expect(DurationText.seconds("300") == 300)
        #expect(DurationText.seconds("5m") == 300)
        #expect(DurationText.seconds("5min") == 300)
        #expect(DurationText.seconds("1h") == 3600)
        #expect(DurationText.seconds("2d") == 172_800)
        #expect(DurationText.seconds("h") == nil)
        #expect(DurationText.seconds("5 parsecs") == nil)
        #expect(DurationText.format(7200) == "2h")
        #expect(DurationText.format(90) == "90s")
    }
}

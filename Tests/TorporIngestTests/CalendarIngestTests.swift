import Foundation
import Testing
import TorporCore
import TorporIngest
import TorporStore
import TorporTestSupport

@Suite struct CalendarIngestTests {
    let now = UTC.epoch(year: 2013, month: 9, day: 30)
    var business: String { Paths.repository + "/sample-data/calendars/business.ics" }

    func events(_ s: Scratch) throws -> [EventRecord] {
        try s.store.read { try EventRepository.overlapping(from: 0, to: .max, in: $0) }
    }

    @Test func categoriesTargetsAndSelectorsAreStored() throws {
        let s = try Scratch()
        let r = try CalendarIngester(store: s.store, mapping: CalendarMapping(zone: "Europe/Amsterdam"))
            .ingest(path: business, from: now - 30 * 86_400, to: now + 7 * 86_400, now: now)
        #expect(r.kind == "icalendar" && r.outcome == .ingested)
        let all = try events(s)
        #expect(all.count == r.inserted)
        let campaign = try #require(all.first { $0.category == .demand })
        #expect(campaign.selector == "group=web" && campaign.targets.isEmpty)
        let backup = try #require(all.first { $0.category == .keepAwake })
        #expect(backup.targets == ["db-01", "batch-01"] && backup.selector == nil)
        let offsite = try #require(all.first { $0.category == .holiday })
        #expect(offsite.targets.isEmpty && offsite.selector == nil, "no targets: the whole fleet")
        #expect(all.contains { $0.category == .freeze && $0.start == UTC.parseISO8601("2013-09-25T22:00:00Z") })
        let perCategory = try s.store.read { try CoverageRepository.eventsPerCategory(in: $0) }
        #expect(perCategory["keep-awake"] == 37 && perCategory["demand"] == 4)
    }

    /// Without a zone given, a calendar's all-day dates are read in the zone it says it keeps (X-WR-TIMEZONE, as Google
    /// writes it): a Los Angeles maintenance day ended at 16:00 local, read in UTC. A zone given wins, said.
    @Test func aCalendarsDeclaredZoneIsReadWhenNoneIsGiven() throws {
        let s = try Scratch()
        let path = try s.write("la.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nX-WR-TIMEZONE:America/Los_Angeles\r\nBEGIN:VEVENT\r\n"
                               + "UID:m\r\nDTSTAMP:20130901T000000Z\r\nCATEGORIES:maintenance\r\nDTSTART;VALUE=DATE:20131001\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        _ = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400, to: now + 7 * 86_400, now: now)
        #expect(try events(s).map { [$0.start, $0.end] } == [[UTC.parseISO8601("2013-10-01T07:00:00Z")!, UTC.parseISO8601("2013-10-02T07:00:00Z")!]])
        let given = try CalendarIngester(store: s.store, mapping: CalendarMapping(zone: "UTC")).ingest(path: path, from: now - 86_400, to: now + 7 * 86_400, now: now)
        #expect(try events(s).map(\.start) == [UTC.parseISO8601("2013-10-01T00:00:00Z")!])
        #expect(given.warnings.contains { $0.contains("X-WR-TIMEZONE says America/Los_Angeles: floating times and all-day dates read in UTC, as given") }, "\(given.warnings)")
        let unknown = try s.write("mars.ics", try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "America/Los_Angeles", with: "Mars/Olympus"))
        let report = try CalendarIngester(store: s.store).ingest(path: unknown, from: now - 86_400, to: now + 7 * 86_400, now: now)
        #expect(report.warnings.contains { $0.contains("X-WR-TIMEZONE Mars/Olympus is not a time zone this system knows") }, "\(report.warnings)")
    }

    /// The jobs' `$TORPOR_CALENDAR_ZONE` is the zone of a calendar's ingest by hand too (its first, `--past 90d`, as the
    /// README says, with the jobs' environment loaded): it was read by the hourly job's script alone, and the history
    /// ingested by hand stored an hour or two off. `--zone` wins, then a mapping's zone; a zone the system does not know
    /// is refused, named.
    @Test func theJobsCalendarZoneIsTheDefaultOfAnIngestByHand() throws {
        let s = try Scratch()
        let path = try s.write("floating.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:f\r\n"
                               + "DTSTAMP:20130901T000000Z\r\nCATEGORIES:maintenance\r\nDTSTART:20131001T100000\r\nDTEND:20131001T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        let jobs = ["TORPOR_CALENDAR_ZONE": "Europe/Amsterdam"]
        let byHand = try runTool("torpor-ingest", ["calendar", "--db", s.store.path, "--now", UTC.format(now), path], environment: jobs)
        #expect(byHand.status == 0, "\(byHand)")
        #expect(try events(s).map(\.start) == [UTC.parseISO8601("2013-10-01T08:00:00Z")!], "10:00 CEST")
        let given = try runTool("torpor-ingest", ["calendar", "--zone", "UTC", "--db", s.store.path, "--now", UTC.format(now), path], environment: jobs)
        #expect(given.status == 0, "\(given)")
        #expect(try events(s).map(\.start) == [UTC.parseISO8601("2013-10-01T10:00:00Z")!], "--zone UTC wins")
        // A mapping's own zone is the calendar's: before the jobs' default.
        let mapping = try s.write("ny.yaml", "zone: America/New_York\n")
        let mapped = try runTool("torpor-ingest", ["calendar", "--mapping", mapping, "--db", s.store.path, "--now", UTC.format(now), path], environment: jobs)
        #expect(mapped.status == 0, "\(mapped)")
        #expect(try events(s).map(\.start) == [UTC.parseISO8601("2013-10-01T14:00:00Z")!], "10:00 EDT")
        let unknown = try runTool("torpor-ingest", ["calendar", "--db", s.store.path, "--now", UTC.format(now), path], environment: ["TORPOR_CALENDAR_ZONE": "Europe/Amsterdm"])
        #expect(unknown.status == 2 && unknown.stderr.contains("TORPOR_CALENDAR_ZONE") && unknown.stderr.contains("Europe/Amsterdm"), "\(unknown)")
    }

    /// A calendar of all-day dates or floating times that declares no zone (Outlook's and Exchange's exports), ingested
    /// without one given, is read in UTC and said so; one given (UTC too), or times in a zone of their own, say nothing.
    @Test func localTimesReadInUTCWithoutAZoneAreSaid() throws {
        let s = try Scratch()
        func ingest(_ start: String, zone: String? = nil) throws -> [String] {
            let path = try s.write("x.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20130901T000000Z\r\n"
                                   + "CATEGORIES:maintenance\r\n\(start)\r\nDURATION:PT4H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
            return try CalendarIngester(store: s.store, mapping: CalendarMapping(zone: zone)).ingest(path: path, from: now - 86_400, to: now + 7 * 86_400, now: now).warnings
        }
        let said = "all-day dates or floating times read in UTC: neither given (--zone, the mapping's zone, TORPOR_CALENDAR_ZONE) nor declared (X-WR-TIMEZONE); give UTC if meant"
        #expect(try ingest("DTSTART;VALUE=DATE:20131001").contains(said))
        #expect(try ingest("DTSTART:20131001T220000").contains(said))
        #expect(try !ingest("DTSTART:20131001T220000", zone: "UTC").contains(said))
        #expect(try !ingest("DTSTART;TZID=Europe/Amsterdam:20131001T220000").contains(said))
        #expect(try !ingest("DTSTART:20131001T220000Z").contains(said))
    }

    /// A category this torpor does not know (a newer torpor's) is read back as keep-awake, never as one letting VMs sleep.
    @Test func anUnknownStoredCategoryKeepsVMsAwake() throws {
        let s = try Scratch()
        let path = try s.write("team.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=1"))
        _ = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        // A newer schema's check allows it; this one's is set aside to write it.
        try s.store.transaction { try $0.execute(sql: "PRAGMA ignore_check_constraints = ON; UPDATE event SET category = 'blackout'; PRAGMA ignore_check_constraints = OFF") }
        #expect(try events(s).map(\.category) == [.keepAwake])
    }

    /// A calendar no longer used (its file gone) is forgotten from now on: its upcoming events no longer keep VMs awake;
    /// those over stay for training. A file no calendar was ingested from is refused (a typo forgets nothing).
    @Test func aCalendarNoLongerUsedIsForgotten() throws {
        let s = try Scratch()
        let path = try s.write("team.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=10"))   // 28 Sep … 7 Oct, 12:00
        _ = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 20, now: now)
        #expect(try events(s).count == 10)
        try FileManager.default.removeItem(atPath: path)
        let later = now + 3 * 86_400   // 3 October, 00:00
        let forgot = try runTool("torpor-ingest", ["calendar", "--forget", "--db", s.store.path, "--now", UTC.format(later), path])   // from --now on
        #expect(forgot.status == 0 && forgot.stdout.contains("team.ics: 5 occurrences from 2013-10-03T00:00:00Z on removed"), "\(forgot)")
        #expect(try events(s).map(\.start) == (0..<5).map { UTC.epoch(year: 2013, month: 9, day: 28) + 12 * 3600 + Int64($0) * 86_400 })
        let typo = try runTool("torpor-ingest", ["calendar", "--forget", "--db", s.store.path, "--now", UTC.format(later), path + "x"])
        #expect(typo.status == 2 && typo.stderr.contains("no calendar was ingested from"), "\(typo)")
        #expect(try events(s).count == 5)
    }

    /// A calendar that comes back empty (a feed's glitch, a download cut short) would remove every keep-awake and freeze
    /// it had stored: refused, its occurrences kept, unless emptied on purpose (`--allow-empty`). Its first ingest, with
    /// nothing stored, is not refused.
    @Test func anEmptiedCalendarReplacesNothingUnlessAllowed() throws {
        let s = try Scratch()
        let empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"
        let other = try s.write("other.ics", empty)
        #expect(try CalendarIngester(store: s.store).ingest(path: other, from: now - 86_400, to: now + 86_400 * 10, now: now).inserted == 0)
        let path = try s.write("team.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=5"))
        _ = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        try empty.write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try runTool("torpor-ingest", ["calendar", "--db", s.store.path, "--now", UTC.format(now + 3600), path])
        #expect(refused.status == 2 && refused.stderr.contains("the calendar holds no event, where its earlier ingests stored 3 occurrences not over at 2013-09-30T01:00:00Z") && refused.stderr.contains("--allow-empty"),
                "\(refused)")
        #expect(try events(s).count == 5, "kept")
        let allowed = try runTool("torpor-ingest", ["calendar", "--allow-empty", "--db", s.store.path, "--now", UTC.format(now + 3600), path])
        #expect(allowed.status == 0 && allowed.stderr.contains("the calendar holds no event: the 5 occurrences its earlier ingests stored from"), "\(allowed)")
        #expect(try events(s).isEmpty)
        // Emptied once its last event is over: nothing upcoming is lost, so it is not refused; the past ones it
        // replaces are said.
        let over = try s.write("over.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=1"))   // 28 Sep, 12:00
        _ = try CalendarIngester(store: s.store).ingest(path: over, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        try empty.write(toFile: over, atomically: true, encoding: .utf8)
        let report = try CalendarIngester(store: s.store).ingest(path: over, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now + 3600)
        #expect(report.warnings.contains { $0.contains("the calendar holds no event: the 1 occurrence its earlier ingests stored from") }, "\(report.warnings)")
    }

    /// Occurrences skipped for want of a known category are named by their UIDs (a moved instance without CATEGORIES
    /// had been said only as "(none)").
    @Test func uncategorisedOccurrencesAreNamed() throws {
        let s = try Scratch()
        let path = try s.write("team.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=2").replacingOccurrences(of: "CATEGORIES:Launch", with: "CATEGORIES:Party"))
        let report = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 20, now: now)
        #expect(report.warnings.contains { $0.contains("CATEGORIES Party (UID launch@test)") }, "\(report.warnings)")
        #expect(report.summary == "\(path): 2 occurrences, 0 stored (none with a known category: see the warning), none stored", "\(report.summary)")
    }

    @Test func reIngestingAnEditedCalendarReplacesItsOccurrences() throws {
        let s = try Scratch()
        let path = try s.write("team.ics", Self.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=5"))
        let ingester = CalendarIngester(store: s.store)
        _ = try ingester.ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        #expect(try events(s).count == 5)
        #expect(try ingester.ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now).outcome == .unchanged)
        try Self.calendar(summary: "Launch (shorter)", rule: "FREQ=DAILY;COUNT=2").write(toFile: path, atomically: true, encoding: .utf8)
        _ = try ingester.ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        let after = try events(s)
        #expect(after.count == 2 && after.allSatisfy { $0.summary == "Launch (shorter)" })
    }

    /// The hourly re-ingest expands a window from a day or a month back: the occurrences over before it stay as they
    /// were known (the nightly training reads months of them); from its start on the file's occurrences replace them.
    @Test func reIngestingKeepsTheOccurrencesOverBeforeItsWindow() throws {
        let launch = try Launch()
        try launch.ingest("Launch", count: 5, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)   // 28 Sep … 2 Oct, 12:00
        let later = now + 2 * 86_400
        try launch.ingest("Launch (edited)", count: 5, from: later - 86_400, to: later + 86_400 * 10, now: later)
        let after = try events(launch.scratch)
        #expect(after.map(\.summary) == ["Launch", "Launch", "Launch", "Launch (edited)", "Launch (edited)"])
        #expect(after.map(\.start) == (0..<5).map { UTC.epoch(year: 2013, month: 9, day: 28) + 12 * 3600 + Int64($0) * 86_400 })
    }

    /// Each occurrence keeps when torpor first knew of it across re-ingests; one added later is known from that ingest,
    /// and a read as of an earlier time (a replay) does not see it.
    @Test func eachOccurrenceKeepsWhenItWasFirstKnown() throws {
        let launch = try Launch(), later = now + 2 * 86_400, window = (from: now - 86_400 * 10, to: later + 86_400 * 10)
        try launch.ingest("Launch", count: 5, from: window.from, to: window.to, now: now)
        try launch.ingest("Launch", count: 7, from: window.from, to: window.to, now: later)
        let after = try events(launch.scratch)
        #expect(after.count == 7 && after.map(\.knownFrom) == [EpochSeconds?](repeating: now, count: 5) + [later, later], "\(after.map(\.knownFrom))")
        #expect(try launch.scratch.store.read { try EventRepository.overlapping(from: 0, to: .max, knownBy: later - 1, in: $0) }.count == 5)
        #expect(after[6].known(at: later) && !after[6].known(at: later - 1))
        #expect(try launch.scratch.store.read { try CoverageRepository.eventsPerCategory(knownBy: later - 1, in: $0) } == ["demand": 5], "status at a past --now")
        // An edit (the same occurrences, another summary) keeps their first-known times; ingests replayed out of order
        // (one at an earlier now after a later one) keep the earliest.
        try launch.ingest("Launch (edited)", count: 7, from: window.from, to: window.to, now: later + 3600)
        #expect(try events(launch.scratch).map(\.knownFrom) == [EpochSeconds?](repeating: now, count: 5) + [later, later])
        try launch.ingest("Launch", count: 7, from: window.from, to: window.to, now: now - 3600)
        #expect(try events(launch.scratch).map(\.knownFrom) == [EpochSeconds?](repeating: now - 3600, count: 7))
        // What an occurrence says to torpor changed (its targets): known from that ingest.
        try launch.ingest("Launch", count: 7, extra: "X-TORPOR-VMS:web-01\r\n", from: window.from, to: window.to, now: later + 7200)
        #expect(try events(launch.scratch).map(\.knownFrom) == [EpochSeconds?](repeating: later + 7200, count: 7))
        // Stored before torpor kept first-known times (a store from before v18): known since ever, and so it stays.
        try launch.scratch.store.transaction { try $0.execute(sql: "UPDATE event SET known_from = NULL") }
        try launch.ingest("Launch (renamed)", count: 7, extra: "X-TORPOR-VMS:web-01\r\n", from: window.from, to: window.to, now: later + 9000)
        #expect(try events(launch.scratch).allSatisfy { $0.knownFrom == nil && $0.known(at: .min) })
    }

    /// `team.ics` with one daily event from 28 Sep 12:00, written again before each ingest.
    struct Launch {
        let scratch: Scratch, path: String

        init() throws {
            scratch = try Scratch()
            path = try scratch.write("team.ics", "")
        }

        /// Writes the event as `summary`, `count` days (with `extra` properties), and ingests the file over [from, to) at `now`.
        func ingest(_ summary: String, count: Int, extra: String = "", from: EpochSeconds, to: EpochSeconds, now: EpochSeconds) throws {
            try CalendarIngestTests.calendar(summary: summary, rule: "FREQ=DAILY;COUNT=\(count)", extra: extra).write(toFile: path, atomically: true, encoding: .utf8)
            _ = try CalendarIngester(store: scratch.store).ingest(path: path, from: from, to: to, now: now)
        }
    }

    /// An event without duration covers the hour from its start: one that started in the hour before the window is
    /// replaced by its own re-expansion, not lost.
    @Test func reIngestingKeepsAnEventWithoutDurationJustBeforeItsWindow() throws {
        let s = try Scratch()
        let path = try s.write("backup.ics", """
            BEGIN:VCALENDAR\r
            VERSION:2.0\r
            PRODID:-//torpor//test//EN\r
            BEGIN:VEVENT\r
            UID:backup@test\r
            DTSTAMP:20130901T000000Z\r
            SUMMARY:Backup\r
            CATEGORIES:Backup\r
            DTSTART:20130925T233000Z\r
            RRULE:FREQ=DAILY;COUNT=5\r
            END:VEVENT\r
            END:VCALENDAR\r

            """)
        let ingester = CalendarIngester(store: s.store)
        _ = try ingester.ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        #expect(try events(s).count == 5)
        let later = now - 86_400, from = later - 86_400   // 28 Sep 00:00: the 27th's backup (23:30) still covers it
        _ = try ingester.ingest(path: path, from: from, to: later + 86_400 * 10, now: later)
        #expect(try events(s).map(\.start) == (0..<5).map { UTC.epoch(year: 2013, month: 9, day: 25, hour: 23, minute: 30) + Int64($0) * 86_400 })
    }

    /// A replay at an earlier now replaces the occurrences of its window only: what an ingest at a later now stored
    /// after that window stays (today's events are not lost until the next hourly ingest). A re-run is "unchanged" only
    /// when the latest ingest of the file had its identity.
    @Test func aWindowIngestedAgainAfterAnotherIsStoredAgain() throws {
        let s = try Scratch()
        let path = try s.write("weekly.ics", Self.calendar(summary: "Weekly launch", rule: "FREQ=WEEKLY"))   // Saturdays, 12:00
        let ingester = CalendarIngester(store: s.store)
        func ingest(at now: EpochSeconds) throws -> IngestReport {
            try ingester.ingest(path: path, from: now - 30 * 86_400, to: now + 30 * 86_400, now: now)
        }
        func saturdays(from first: EpochSeconds) -> [EpochSeconds] { (0..<9).map { first + Int64($0) * 7 * 86_400 } }
        let june = UTC.epoch(year: 2024, month: 6, day: 1), march = UTC.epoch(year: 2024, month: 3, day: 1)
        let juneStarts = saturdays(from: UTC.epoch(year: 2024, month: 5, day: 4, hour: 12))     // 4 May … 29 June
        let marchStarts = saturdays(from: UTC.epoch(year: 2024, month: 2, day: 3, hour: 12))    // 3 Feb … 30 March
        _ = try ingest(at: june)
        #expect(try events(s).map(\.start) == juneStarts)
        _ = try ingest(at: march)
        #expect(try events(s).map(\.start) == marchStarts + juneStarts, "March's replay left what June's ingest stored after its window")
        let again = try ingest(at: june)
        #expect(again.outcome == .ingested && again.inserted == 9, "the latest ingest was March's")
        #expect(try events(s).map(\.start) == marchStarts + juneStarts)
        #expect(try ingest(at: june).outcome == .unchanged, "the latest ingest's window once more: all stored")
    }

    /// An event with several known categories is each of them: a holiday that is also a maintenance window keeps its
    /// VMs awake, whichever category is written first.
    @Test func anEventWithSeveralCategoriesIsEachOfThem() throws {
        let s = try Scratch()
        let path = s.dir + "/both.ics"
        try Self.calendar(summary: "Holiday maintenance", rule: "COUNT=1;FREQ=DAILY")
            .replacingOccurrences(of: "CATEGORIES:Launch", with: "CATEGORIES:holiday,Holiday\r\nCATEGORIES:maintenance")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let now = UTC.epoch(year: 2013, month: 9, day: 27)
        let r = try CalendarIngester(store: s.store).ingest(path: path, from: now, to: now + 86_400 * 3, now: now)
        #expect(r.inserted == 2)
        #expect(try events(s).map(\.category).sorted { $0.rawValue < $1.rawValue } == [.holiday, .keepAwake])
        // Aimed at a VM the store does not know: stored, and said.
        try Self.calendar(summary: "Backup", rule: "COUNT=1;FREQ=DAILY").replacingOccurrences(of: "CATEGORIES:Launch", with: "CATEGORIES:backup\r\nX-TORPOR-VMS:db01")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let aimed = try CalendarIngester(store: s.store).ingest(path: path, from: now, to: now + 86_400 * 3, now: now)
        #expect(aimed.inserted == 1 && aimed.warnings.contains { $0.contains("match no VM in the store") && $0.contains("(VM db01)") }, "\(aimed.warnings)")
    }

    @Test func eventsWithoutAKnownCategoryAreSkippedOrDefaulted() throws {
        let s = try Scratch()
        let holidays = Paths.sharedData + "/calendars/real_world/rie__Germany.ics"
        let window = (from: UTC.epoch(year: 2008, month: 1, day: 1), to: UTC.epoch(year: 2009, month: 1, day: 1))
        let skipped = try CalendarIngester(store: s.store).ingest(path: holidays, from: window.from, to: window.to, now: window.to)
        #expect(skipped.inserted == 0 && skipped.warnings.contains { $0.contains("no known category") })
        let mapped = try CalendarIngester(store: s.store, mapping: CalendarMapping(defaultCategory: .holiday))
            .ingest(path: holidays, from: window.from, to: window.to, now: window.to)
        #expect(mapped.inserted == mapped.rows && mapped.inserted > 10)
    }

    /// A cancelled event (STATUS:CANCELLED on the event, not on an override) is not stored; the report counts it.
    @Test func aCancelledEventIsNotStored() throws {
        let s = try Scratch()
        let path = try s.write("freeze.ics", Self.calendar(summary: "Freeze", rule: "FREQ=DAILY;COUNT=3")
            .replacingOccurrences(of: "CATEGORIES:Launch", with: "CATEGORIES:freeze\r\nSTATUS:CANCELLED"))
        let r = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        #expect(r.rows == 0 && r.inserted == 0)
        #expect(r.warnings == ["1 cancelled event(s) (STATUS:CANCELLED) skipped: launch@test"])
        #expect(try events(s).isEmpty)
    }

    /// Every X-TORPOR-VMS and X-TORPOR-SELECTOR property targets its VMs (the last one alone had), and each target that
    /// matches no VM the store knows is named, even beside one that does (a misspelt `bacth-01` protects nothing).
    @Test func everyTargetPropertyCountsAndEachUnknownTargetIsNamed() throws {
        let s = try Scratch()
        try s.store.transaction { db in
            _ = try VMRepository.id(of: "db-01", in: db, now: now)
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: db, now: now), hostURI: "test:///default", labels: ["group": "web"], in: db)
        }
        let path = try s.write("backup.ics", Self.calendar(summary: "Backup", rule: "FREQ=DAILY;COUNT=1")
            .replacingOccurrences(of: "CATEGORIES:Launch", with: "CATEGORIES:backup\r\nX-TORPOR-VMS:db-01,bacth-01\r\nX-TORPOR-VMS:batch-02\r\n"
                                  + "X-TORPOR-SELECTOR:group=web\r\nX-TORPOR-SELECTOR:group=wbe"))
        let r = try CalendarIngester(store: s.store).ingest(path: path, from: now - 86_400 * 10, to: now + 86_400 * 10, now: now)
        let backup = try #require(try events(s).first)
        #expect(backup.targets == ["db-01", "bacth-01", "batch-02"] && backup.selector == "group=web|group=wbe")
        #expect(backup.applies(to: "web-01", labels: ["group": "web"]) && !backup.applies(to: "web-02", labels: ["group": "api"]))
        #expect(r.warnings == ["event targets that match no VM in the store (a misspelt name or label?): "
                               + "'Backup' (VM bacth-01); 'Backup' (VM batch-02); 'Backup' (selector group=wbe)"], "\(r.warnings)")
    }

    @Test func aMalformedCalendarAddsNothing() throws {
        let s = try Scratch()
        let path = Paths.sharedData + "/calendars/malformed/rie__end_before_start_event.ics"
        let e = #expect(throws: IngestError.self) { _ = try CalendarIngester(store: s.store).ingest(path: path, from: 0, to: now, now: now) }
        #expect(e?.description.hasPrefix(path + ":32: ") == true)
        #expect(try s.count("SELECT count(*) FROM source") == 0)
        #expect(try events(s).isEmpty)
    }

    static func calendar(summary: String, rule: String, extra: String = "") -> String {
        """
        BEGIN:VCALENDAR\r
        VERSION:2.0\r
        PRODID:-//torpor//test//EN\r
        BEGIN:VEVENT\r
        UID:launch@test\r
        DTSTAMP:20130901T000000Z\r
        SUMMARY:\(summary)\r
        CATEGORIES:Launch\r
        DTSTART:20130928T120000Z\r
        DTEND:20130928T130000Z\r
        RRULE:\(rule)\r
        \(extra)END:VEVENT\r
        END:VCALENDAR\r

        """
    }
}

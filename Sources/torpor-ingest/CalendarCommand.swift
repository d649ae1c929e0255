import ArgumentParser
import Foundation
import TorporCore
import TorporCommandLine
import TorporICal
import TorporIngest
import TorporStore

struct CalendarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar",
        abstract: "Ingest iCalendar files: events known ahead, expanded into occurrences.",
        discussion: """
            Categories (from CATEGORIES, case-insensitive; a mapping adds names):
              demand      expect load (campaign, launch, sale, promotion)
              keep-awake  the VM must run (backup, maintenance, batch)
              freeze      no actions at all (change-freeze)
              holiday     (public holiday, bank holiday)
            Targets: X-TORPOR-VMS (comma-separated VM names) or X-TORPOR-SELECTOR
            (a label selector such as group=web), each such property counting,
            else the whole fleet; a target matching no known VM is warned of.
            Occurrences are expanded over [now - past, now + ahead): RRULE, RDATE,
            EXDATE, moved and cancelled instances (RECURRENCE-ID), time zones.
            Floating times and all-day dates are read in --zone (else the mapping's zone, $TORPOR_CALENDAR_ZONE, the calendar's X-WR-TIMEZONE, else UTC).
            Ingesting a calendar again replaces its occurrences from now - past on; earlier ones stay. A calendar
            that holds no event, where earlier ingests stored occurrences not yet over, is refused (a feed's glitch)
            unless --allow-empty.
            A calendar no longer used: --forget removes what it was ingested as from now on.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag

    @Option(help: "A mapping file (YAML): categories, default_category, zone.")
    var mapping: String?

    @Option(help: "The category of events with no known category (demand, keep-awake, freeze, holiday).")
    var defaultCategory: String?

    @Option(help: "The zone of floating times and all-day dates, e.g. Europe/Amsterdam (default: the mapping's zone, else $TORPOR_CALENDAR_ZONE, else the calendar's X-WR-TIMEZONE, else UTC).")
    var zone: String?

    /// The jobs' `$TORPOR_CALENDAR_ZONE`, when neither `--zone` nor the mapping gives one: a calendar's first ingest by
    /// hand (`--past 90d`) must read its floating times as the hourly job does, or the history training reads is
    /// stored hours off.
    static var jobsZone: String? { environmentSetting("TORPOR_CALENDAR_ZONE") }

    @Option(help: "How far back from --now to expand (0: from --now on; default 30d). With --forget: how far back to remove (default 0: from --now on).")
    var past: String?

    /// The window's start before --now: --past, else 30 days (an ingest), or none (--forget: the history training
    /// reads stays).
    var pastSeconds: EpochSeconds { DurationText.seconds(past ?? (forget ? "0" : "30d"))! }

    @Option(help: "How far ahead of --now to expand (more than 0).")
    var ahead = "180d"

    @Flag(help: "Print one JSON report per file on stdout (a file that failed: its path, outcome bad-input or failed, line and error).")
    var json = false

    @Flag(help: "Let a calendar that holds no event replace what its earlier ingests stored (emptied on purpose; refused otherwise: a feed's glitch would remove every keep-awake and freeze).")
    var allowEmpty = false

    @Flag(help: "Remove what these files were ingested as, from --now on (or now - past: --past; calendars no longer used, the files perhaps gone: their upcoming events would keep VMs awake); earlier occurrences stay for training.")
    var forget = false

    @Argument(help: "iCalendar (.ics) files.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one .ics file") }
        if let defaultCategory, EventRecord.Category(rawValue: defaultCategory) == nil {
            throw ValidationError("--default-category must be demand, keep-awake, freeze or holiday")
        }
        if let zone, !ICalendar.knows(zone: zone) {
            throw ValidationError(WeekClock.unknownZone("--zone", zone))
        }
        if !forget, let zone = Self.jobsZone, !ICalendar.knows(zone: zone) {   // forgetting reads no zone
            throw ValidationError(WeekClock.unknownZone("TORPOR_CALENDAR_ZONE", zone))
        }
        for (name, value) in [("--past", past ?? "0"), ("--ahead", ahead)] where DurationText.seconds(value) == nil {
            throw ValidationError("\(name) '\(value)' is not a duration such as 30d")
        }
        // An empty window would replace the calendar's upcoming occurrences with none. (`--past 0` is a window from
        // --now on: what it replaces, it expands again.)
        if DurationText.seconds(ahead) == 0 {
            throw ValidationError("--ahead '\(ahead)' is no time at all: the calendar's upcoming events stored before would be replaced by none; give a duration such as 180d")
        }
    }

    func run() throws {
        if forget { return try forgetFiles() }
        try store.refuseAheadOfTheClock(replay)
        var m: CalendarMapping
        do { m = try mapping.map { path throws(IngestError) in try CalendarMapping.load(path: path) } ?? CalendarMapping() } catch { throw reportFailure(error) }
        if let defaultCategory { m.defaultCategory = EventRecord.Category(rawValue: defaultCategory) }
        if let zone = zone ?? m.zone ?? Self.jobsZone { m.zone = zone }
        let ingester = CalendarIngester(store: try store.openStore(), mapping: m, allowsEmpty: allowEmpty)
        let now = store.nowSeconds
        let from = now - pastSeconds, to = now + DurationText.seconds(ahead)!
        let logger = store.logger("torpor.ingest.calendar")
        if to - now < 7 * 86_400 {
            logger.warning("--ahead \(ahead) is shorter than the longest plan horizon (7d): a plan looking further does not know the events after it (keep-awake, freeze)")
        }
        try runEach(files.map { file in { try ingester.ingest(path: file, from: from, to: to, now: now) } }, json: json, logger: logger)
    }

    /// `--forget`: each file's stored occurrences from now - past on removed, by the location its ingests recorded (the
    /// file need not exist); a file no calendar was ingested from is bad input (a typo forgets nothing), the others go on.
    private func forgetFiles() throws {
        let store = try self.store.openStore(creating: false)
        let from = self.store.nowSeconds - pastSeconds
        var unknown = false
        for file in files {
            let location = URL(fileURLWithPath: file).standardizedFileURL.path
            if let removed = try store.transaction({ try EventRepository.forget(location: location, from: from, in: $0) }) {
                print("\(file): \(removed) occurrences from \(UTC.format(from)) on removed; earlier ones stay")
            } else {
                printError("\(file): no calendar was ingested from \(location): nothing to forget")
                unknown = true
            }
        }
        if unknown { throw ExitCode(2) }
    }
}

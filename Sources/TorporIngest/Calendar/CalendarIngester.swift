import Foundation
import TorporCore
import TorporHash
import TorporICal
import TorporStore
import TorporYAML

/// How calendar events become torpor events: which CATEGORIES mean which category, and the category of events that
/// have none of them (e.g. a public-holiday calendar). A small YAML file or flags.
public struct CalendarMapping: Codable, Equatable, Sendable {
    /// CATEGORIES value (case-insensitive) → category, added to the built-in names.
    public var categories: [String: EventRecord.Category]
    /// The category of events none of whose CATEGORIES is known; nil skips them with a warning.
    public var defaultCategory: EventRecord.Category?
    /// The zone of floating times and all-day dates (IANA name); nil: the zone the calendar says it keeps
    /// (`X-WR-TIMEZONE`), else UTC.
    public var zone: String?

    /// Built-in names: each category's own name, plus common words.
    public static let builtIn: [String: EventRecord.Category] = [
        "demand": .demand, "campaign": .demand, "launch": .demand, "sale": .demand, "promotion": .demand,
        "keep-awake": .keepAwake, "keepawake": .keepAwake, "backup": .keepAwake, "maintenance": .keepAwake, "batch": .keepAwake,
        "freeze": .freeze, "change-freeze": .freeze, "change freeze": .freeze,
        "holiday": .holiday, "holidays": .holiday, "public holiday": .holiday, "bank holiday": .holiday,
    ]

    enum CodingKeys: String, CodingKey {
        case categories
        case defaultCategory = "default_category"
        case zone
    }

    public init(categories: [String: EventRecord.Category] = [:], defaultCategory: EventRecord.Category? = nil, zone: String? = nil) {
        self.categories = categories
        self.defaultCategory = defaultCategory
        self.zone = zone
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        categories = try c.decodeIfPresent([String: EventRecord.Category].self, forKey: .categories) ?? [:]
        defaultCategory = try c.decodeIfPresent(EventRecord.Category.self, forKey: .defaultCategory)
        zone = try c.decodeIfPresent(String.self, forKey: .zone)
    }

    /// The keys a mapping file may hold.
    static let shape = YAMLShape.keys(["categories": .any, "default_category": .any, "zone": .any])

    /// Reads a mapping file; a key it does not know is refused with its line.
    public static func load(path: String) throws(IngestError) -> CalendarMapping {
        let mapping = try decodeMappingFile(CalendarMapping.self, path: path, shape: shape)
        // Said of the mapping: at ingest, a floating time's unknown zone is said of the calendar being read.
        if let zone = mapping.zone, !ICalendar.knows(zone: zone) {
            throw .badInput(source: path, line: nil, message: WeekClock.unknownZone("zone", zone))
        }
        return mapping
    }

    /// The categories of an occurrence: every CATEGORIES value the mapping or the built-in names know, each once (an
    /// event that is both a holiday and a maintenance window is both); the default category when none is known.
    func categories(of values: [String]) -> [EventRecord.Category] {
        var found: [EventRecord.Category] = []
        for value in values {
            let key = value.lowercased()
            if let c = self.categories.first(where: { $0.key.lowercased() == key })?.value ?? CalendarMapping.builtIn[key], !found.contains(c) { found.append(c) }
        }
        return found.isEmpty ? defaultCategory.map { [$0] } ?? [] : found
    }
}

/// Ingests an iCalendar file as occurrences over a window around `now`. Targets come from `X-TORPOR-VMS`
/// (comma-separated VM names) or `X-TORPOR-SELECTOR` (a label selector such as `group=web`), each property of them
/// (several: the VMs of any), else the whole fleet; each target that matches no VM the store knows is named in a warning.
/// Re-ingesting a calendar (edited or not, or with another window) replaces its occurrences from the window's start on;
/// those over before it stay (the nightly training reads months of them), and so do those after the window when an
/// ingest at a later `now` has read the calendar (a replay of history leaves today's events as they are).
public struct CalendarIngester {
    public let store: Store
    public let mapping: CalendarMapping
    /// Whether a calendar holding no event may replace the occurrences its earlier ingests stored (emptied on purpose).
    public let allowsEmpty: Bool

    public init(store: Store, mapping: CalendarMapping = CalendarMapping(), allowsEmpty: Bool = false) {
        self.store = store
        self.mapping = mapping
        self.allowsEmpty = allowsEmpty
    }

    /// The zone floating times and all-day dates are read in: the one given, else the one the calendar declares (Google
    /// and Apple write X-WR-TIMEZONE: without it, a Los Angeles maintenance day would end at 16:00 local), else UTC;
    /// with what to say when the two differ, the declared one is not known, or neither is there for a calendar of local
    /// times (`localTimes`: Outlook's and Exchange's exports declare none).
    static func floatingZone(_ given: String?, declared: String?, localTimes: Bool) -> (zone: String, said: String?) {
        guard let declared, declared != given else {
            return (given ?? "UTC", given == nil && localTimes
                ? "all-day dates or floating times read in UTC: neither given (--zone, the mapping's zone, TORPOR_CALENDAR_ZONE) nor declared (X-WR-TIMEZONE); give UTC if meant"
                : nil)
        }
        if let given { return (given, "X-WR-TIMEZONE says \(declared): floating times and all-day dates read in \(given), as given") }
        guard ICalendar.knows(zone: declared) else {
            return ("UTC", "X-WR-TIMEZONE \(declared) is not a time zone this system knows: floating times and all-day dates read in UTC (give --zone)")
        }
        return (declared, nil)
    }

    /// How a calendar was read, part of its source's identity.
    private struct Window: Encodable {
        let from: EpochSeconds, to: EpochSeconds
        let mapping: CalendarMapping
    }

    public func ingest(path: String, from: EpochSeconds, to: EpochSeconds, now: EpochSeconds) throws(IngestError) -> IngestReport {
        let occurrences: [CalendarOccurrence]
        var calendarWarnings: [String]
        let location = URL(fileURLWithPath: path).standardizedFileURL.path
        var eventCount = 0
        // Read once: what is parsed is what the source's identity hashes (a feed replaced between two reads would be
        // recorded under the new content's identity with the old one's events, and its next ingest called unchanged).
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .badInput(source: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        do {
            let calendar = try ICalendar(data: data, source: path)
            eventCount = calendar.eventCount
            let (zone, said) = Self.floatingZone(mapping.zone, declared: calendar.declaredZone, localTimes: calendar.hasLocalTimes)
            occurrences = try calendar.occurrences(from: from, to: to, floatingZone: zone)
            calendarWarnings = calendar.warnings + (said.map { [$0] } ?? [])
        } catch {
            throw .badInput(source: path, line: error.line, message: error.message)
        }
        // A feed that answers with an empty calendar (a download cut short, a server's glitch) would remove every
        // keep-awake and freeze its earlier ingests stored: VMs that must run would be hibernated. Refused while any is
        // not over; the past ones it replaces by none are said (the training reads them until a good ingest).
        if eventCount == 0 {
            let (upcoming, inWindow): (Int, Int)
            do {
                (upcoming, inWindow) = try store.read { db in
                    (try EventRepository.notOver(location: location, at: now, ingestedBy: now, in: db),
                     try EventRepository.notOver(location: location, at: from, ingestedBy: now, in: db))
                }
            } catch {
                throw .failure(source: path, message: "\(error)")
            }
            if upcoming > 0 && !allowsEmpty {
                throw .badInput(source: path, line: nil, message: "the calendar holds no event, where its earlier ingests stored \(upcoming) occurrence\(upcoming == 1 ? "" : "s") "
                                + "not over at \(UTC.format(now)): a download cut short or a feed's glitch would remove them all (keep-awake and freeze too); "
                                + "nothing is replaced. Emptied on purpose: give --allow-empty (or --forget)")
            }
            if inWindow > 0 {
                calendarWarnings.append("the calendar holds no event: the \(inWindow) occurrence\(inWindow == 1 ? "" : "s") its earlier ingests stored from "
                                        + "\(UTC.format(from)) on are replaced by none (a feed's glitch? the next ingest of the full calendar stores them again)")
            }
        }
        let content = SHA256.hexDigest(of: data)
        // The window and the mapping are part of what was ingested: another window re-expands the calendar. As JSON
        // with sorted keys: a dictionary's description (the mapping's categories) is in another order in each process.
        let identity = SourceTransaction.identity(contentSHA256: content, readWith: Window(from: from, to: to, mapping: mapping))
        // Each ingest replaces the occurrences earlier ones stored from its window's start on: an ingest of another
        // window may have replaced those of an earlier one of this identity, so only the latest ingest of the file counts.
        return try SourceTransaction.run(store: store, kind: "icalendar", source: path, location: location, sha256: identity,
                                         now: now, futureTolerance: to - now, replacesLocation: true) { session in
            var events: [EventRecord] = []
            var uncategorized: [String: Set<String>] = [:]   // CATEGORIES as written → the UIDs of the events
            for o in occurrences {
                session.countRow()
                let categories = mapping.categories(of: o.categories)
                guard !categories.isEmpty else {
                    uncategorized[o.categories.isEmpty ? "(none)" : o.categories.joined(separator: ","), default: []].insert(o.uid)
                    continue
                }
                // Every X-TORPOR-VMS and X-TORPOR-SELECTOR property counts (a second one names more VMs, not other ones).
                var targets: [String] = []
                for name in (o.extensions["X-TORPOR-VMS"] ?? []).flatMap({ $0.split(separator: ",") }) {
                    let vm = name.trimmingCharacters(in: .whitespaces)
                    if !vm.isEmpty, !targets.contains(vm) { targets.append(vm) }
                }
                let selector = o.extensions["X-TORPOR-SELECTOR"].map { $0.joined(separator: "|") }
                for category in categories {
                    events.append(EventRecord(uid: o.uid, summary: o.summary, category: category, start: o.start, end: o.end,
                                              targets: targets, selector: selector))
                }
                session.report.firstTime = min(session.report.firstTime ?? o.start, o.start)
                session.report.lastTime = max(session.report.lastTime ?? o.end, o.end)
            }
            calendarWarnings.forEach(session.warn)
            // A target that matches no VM protects nothing: likely a misspelt name or label, even beside targets that match.
            let fleet = try session.knownVMs()
            let names = Set(fleet.map(\.name))
            let aimless = Set(events.flatMap { e in
                e.targets.filter { !names.contains($0) }.map { "'\(e.summary)' (VM \($0))" }
                    + e.selectors.filter { s in !fleet.contains { EventRecord.labels($0.labels, match: s) } }.map { "'\(e.summary)' (selector \($0))" }
            })
            if !aimless.isEmpty {
                session.warn("event targets that match no VM in the store (a misspelt name or label?): \(aimless.sorted().prefix(10).joined(separator: "; "))")
            }
            if !uncategorized.isEmpty {
                let named = uncategorized.sorted { $0.key < $1.key }.prefix(10).map { categories, uids in
                    "\(categories) (UID \(uids.sorted().prefix(3).joined(separator: ", "))\(uids.count > 3 ? ", …" : ""))"
                }
                session.warn("occurrences with no known category skipped (map them with categories or default_category): CATEGORIES \(named.joined(separator: "; "))")
            }
            let counts = Dictionary(grouping: events, by: \.category).mapValues(\.count)
            session.report.format = EventRecord.Category.allCases.compactMap { c in counts[c].map { "\($0) \(c.rawValue)" } }.joined(separator: ", ")
            session.replaceEvents(from: from, to: to, with: events)
        }
    }
}

import CICal
import Foundation
import TorporCore

/// The one error type of the calendar module: the file, the 1-based line when known, and what is wrong.
public struct ICalError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let line: Int?
    public let message: String

    public var description: String { line.map { "\(source):\($0): \(message)" } ?? "\(source): \(message)" }
}

/// One occurrence of a calendar event, in UTC.
public struct CalendarOccurrence: Hashable, Sendable {
    public var uid: String
    public var summary: String
    public var start: EpochSeconds
    public var end: EpochSeconds
    public var allDay: Bool
    /// Every CATEGORIES value (comma-split, several properties allowed), as written.
    public var categories: [String]
    /// The event's `X-` properties, e.g. `X-TORPOR-VMS`, by upper-case name: the value of each property of that name,
    /// in the file's order (one given twice is two values, as CATEGORIES are).
    public var extensions: [String: [String]]
    /// The original start of an instance moved by a RECURRENCE-ID override.
    public var recurrenceID: EpochSeconds?
}

/// A parsed iCalendar file (libical's `icalparser_parse_string`), owning libical's component tree (`icalcomponent_free`).
/// Structure errors are reported with their line before libical sees the text; libical's own complaints
/// (`X-LIC-ERROR` properties, which it adds where it drops a property) are mapped back to the line they concern.
public final class ICalendar {
    public let source: String
    /// Things survived: blank lines, unknown property names, zero-length events, events without occurrences.
    public private(set) var warnings: [String]
    private let root: OpaquePointer
    private let content: ContentLines

    /// Whether `zone` is a time zone libical knows (an IANA name of the system's zoneinfo), or UTC.
    public static func knows(zone: String) -> Bool { zone == "UTC" || icaltimezone_get_builtin_timezone(zone) != nil }

    /// The largest number of occurrences one event may expand to within a window.
    public static let maxOccurrencesPerEvent = 100_000

    public init(text: String, source: String) throws(ICalError) {
        self.source = source
        content = try ContentLines(text: text, source: source)
        warnings = content.warnings
        guard let root = icalparser_parse_string(text) else {
            throw ICalError(source: source, line: nil, message: "libical could not parse the calendar")
        }
        self.root = root
        try checkLibicalErrors()
    }

    public convenience init(path: String) throws(ICalError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ICalError(source: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: data, source: path)
    }

    /// A calendar from the bytes of a file (`source` names it in errors): refused unless UTF-8 text without NUL.
    public convenience init(data: Data, source path: String) throws(ICalError) {
        guard let text = String(data: data, encoding: .utf8) else {
            let lines = data.split(separator: 10, omittingEmptySubsequences: false)
            let bad = lines.firstIndex { String(data: Data($0), encoding: .utf8) == nil }.map { $0 + 1 }
            throw ICalError(source: path, line: bad, message: "not UTF-8 text")
        }
        guard !text.contains("\u{0}") else {
            let line = text.prefix { $0 != "\u{0}" }.reduce(1) { $1 == "\n" || $1 == "\r\n" ? $0 + 1 : $0 }
            throw ICalError(source: path, line: line, message: "NUL character in the calendar")
        }
        try self.init(text: text, source: path)
    }

    deinit { icalcomponent_free(root) }

    /// The VEVENTs of the file in document order: inside each VCALENDAR, or bare (libical wraps several top-level
    /// components in an XROOT).
    private var events: [OpaquePointer] {
        let top = icalcomponent_isa(root) == ICAL_XROOT_COMPONENT ? children(of: root, ICAL_ANY_COMPONENT) : [root]
        return top.flatMap { component -> [OpaquePointer] in
            switch icalcomponent_isa(component) {
            case ICAL_VCALENDAR_COMPONENT: children(of: component, ICAL_VEVENT_COMPONENT)
            case ICAL_VEVENT_COMPONENT: [component]
            default: []
            }
        }
    }

    /// How many VEVENTs the file holds (none: an empty calendar, or a feed's glitch).
    public var eventCount: Int { events.count }

    /// Whether the file is an iTIP message (a METHOD of requests, replies and cancellations, e.g. RFC 2446's examples),
    /// not a schedule: METHOD:PUBLISH is what calendar servers' exports (Google, Exchange) say, and is one.
    private var isITIPMessage: Bool {
        content.lines.contains { $0.name == "METHOD" && $0.value.trimmingCharacters(in: .whitespaces).uppercased() != "PUBLISH" }
    }

    /// The zone the file says its calendar keeps (`X-WR-TIMEZONE`, as Google and Apple write it), if it says one.
    public var declaredZone: String? {
        content.lines.first { $0.name == "X-WR-TIMEZONE" }.map { $0.value.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether any event starts at a local time of wherever it is read: an all-day date or a floating date-time (the
    /// zone the caller gives for them decides when it happens).
    public var hasLocalTimes: Bool {
        events.contains { Self.readsInFloatingZone(icalcomponent_get_dtstart($0)) }
    }

    /// The sub-components of one kind (`icalcomponent_get_first_component` / `_next_component`).
    private func children(of component: OpaquePointer, _ kind: icalcomponent_kind) -> [OpaquePointer] {
        collect(first: icalcomponent_get_first_component(component, kind)) { icalcomponent_get_next_component(component, kind) }
    }

    /// The properties of one kind (`icalcomponent_get_first_property` / `_next_property`).
    private func properties(of component: OpaquePointer, _ kind: icalproperty_kind) -> [OpaquePointer] {
        collect(first: icalcomponent_get_first_property(component, kind)) { icalcomponent_get_next_property(component, kind) }
    }

    /// libical's iteration idiom: a first item, then `next()` until it returns NULL.
    private func collect(first: OpaquePointer?, next: () -> OpaquePointer?) -> [OpaquePointer] {
        var result: [OpaquePointer] = []
        var item = first
        while let i = item {
            result.append(i)
            item = next()
        }
        return result
    }

    // MARK: libical's complaints

    /// Turns libical's X-LIC-ERROR properties into errors (a date, time, duration or rule it could not read: the
    /// event would silently change) or warnings (anything it could skip safely), with the line they concern.
    private func checkLibicalErrors() throws(ICalError) {
        var components = [root]
        var index = 0
        while index < components.count {
            let component = components[index]
            index += 1
            components += children(of: component, ICAL_ANY_COMPONENT)
            for property in properties(of: component, ICAL_XLICERROR_PROPERTY) {
                let text = String(cString: icalproperty_get_xlicerror(property))
                let line = lineOf(libicalError: text)
                // A start, end, length or rule libical could not read would silently change the schedule: an error.
                // An RDATE or EXDATE it dropped changes one instance: a warning, with the line, as for the rest (Google's
                // birthday calendar writes RDATE:20131210Z; refused, such a calendar could never be ingested again).
                let fatal = ["DTSTART", "DTEND", "DURATION", "RRULE", "RECURRENCE-ID", "TZOFFSETFROM", "TZOFFSETTO"]
                    .contains { text.contains("in \($0) property") }
                if fatal { throw ICalError(source: source, line: line, message: text) }
                let warning = (line.map { "line \($0): " } ?? "") + text
                if !warnings.contains(warning) { warnings.append(warning) }
            }
        }
    }

    /// The line of the property an X-LIC-ERROR text is about: `… in NAME property. Removing entire property: VALUE`
    /// or `… property name: NAME` / `… begin tag: TEXT`.
    private func lineOf(libicalError text: String) -> Int? {
        let marker = text.range(of: " in ") ?? text.range(of: "No value for ")
        if let marker, let propertyRange = text.range(of: " property", range: marker.upperBound..<text.endIndex) {
            let name = String(text[marker.upperBound..<propertyRange.lowerBound])
            let value = text.range(of: ": ", options: .backwards).map { String(text[$0.upperBound...]) }
            // The value as it stands first (a cut-short value is the start of a whole one on another line), then one
            // holding it (libical may quote part of it), then the property's first line.
            let trimmed = value?.trimmingCharacters(in: .whitespaces)
            return content.lines.first { $0.name == name && trimmed != nil && $0.value.trimmingCharacters(in: .whitespaces) == trimmed }?.line
                ?? content.lines.first { $0.name == name && (value == nil || $0.value.contains(value!)) }?.line
                ?? content.lines.first { $0.name == name }?.line
        }
        if let colon = text.range(of: ": ", options: .backwards) {
            let fragment = String(text[colon.upperBound...])
            return content.lines.first { $0.name == fragment.uppercased() || "\($0.name):\($0.value)".hasPrefix(fragment) }?.line
        }
        return nil
    }

    // MARK: expansion

    /// Every occurrence of every VEVENT that overlaps [from, to), sorted by start, then UID. RRULE and EXDATE are
    /// expanded by `icalcomponent_foreach_recurrence`, RDATE (in its TZID's zone; a period for as long as it says) and
    /// EXDATE again (in its TZID's zone) here; RECURRENCE-ID overrides replace the instance they name
    /// (and a cancelled override removes it); one with RANGE=THISANDFUTURE also every later instance, moved by as much as
    /// it moves its own, as long as it lasts, with its summary and properties (cancelled: every later instance is gone).
    /// An override whose master is not in the file is an event of its own (with RANGE=THISANDFUTURE, its RRULE and
    /// RDATEs expanded up to the next such override).
    /// A cancelled event (STATUS:CANCELLED, not an override) has no occurrences
    /// of its own, counted in a warning; its overrides that are not cancelled themselves stand. Times with a TZID follow
    /// that zone (VTIMEZONE of the file, else the system's zoneinfo); floating times and all-day dates are read in
    /// `floatingZone` (IANA name, default UTC). All-day events cover whole days: [start date 00:00, end date 00:00),
    /// one day when DTEND is absent. Days and weeks of a DURATION are days of the event's zone (RFC 5545: nominal).
    public func occurrences(from: EpochSeconds, to: EpochSeconds, floatingZone: String = "UTC") throws(ICalError) -> [CalendarOccurrence] {
        let zone: OpaquePointer? = floatingZone == "UTC" ? nil : icaltimezone_get_builtin_timezone(floatingZone)
        if floatingZone != "UTC", zone == nil {
            throw ICalError(source: source, line: nil, message: "unknown time zone '\(floatingZone)'")
        }
        var result: [CalendarOccurrence] = []
        var overrides: [String: [OpaquePointer]] = [:]
        var masters: [(OpaquePointer, Int)] = []
        for (index, event) in events.enumerated() {
            let lines = content.component("VEVENT", index: index)
            do {
                try validate(event, lines: lines)
            } catch {
                // An iTIP message carries requests and cancellations, not a schedule: skip what is invalid.
                guard isITIPMessage else { throw error }
                warnings.append("\(error.line.map { "line \($0): " } ?? "")\(error.message): event skipped (iTIP message, METHOD is set and not PUBLISH)")
                continue
            }
            if let uid = icalcomponent_get_uid(event), icaltime_is_null_time(icalcomponent_get_recurrenceid(event)) == 0 {
                overrides[String(cString: uid), default: []].append(event)
            } else {
                masters.append((event, index))
            }
        }
        var cancelled: [String] = []
        for (master, index) in masters {
            let uid = icalcomponent_get_uid(master).map { String(cString: $0) } ?? "event at line \(content.component("VEVENT", index: index)?.first?.line ?? 0)"
            // The master's clock: a RECURRENCE-ID written without a zone names an instance on it, as the instances are.
            let masterZone = self.zone(of: master, floating: zone)
            if icalcomponent_get_status(master) == ICAL_STATUS_CANCELLED {
                cancelled.append(uid)
            } else {
                // An all-day master's instances are dates: an override names one by its date, whatever time and zone
                // its RECURRENCE-ID was written with (Outlook writes DATE-TIME with a TZID).
                let masterIsDate = icalcomponent_get_dtstart(master).is_date != 0
                let named = (overrides[uid] ?? []).map { override -> (event: OpaquePointer, instance: EpochSeconds) in
                    var id = recurrenceID(of: override)
                    if masterIsDate {
                        (id.hour, id.minute, id.second, id.is_date, id.zone) = (0, 0, 0, 1, nil)
                    }
                    return (override, epoch(id, floating: masterZone))
                }
                let replaced = Set(named.map(\.instance))
                // THISANDFUTURE overrides, latest instance first: each later instance follows the latest before it.
                // Moved by as much wall-clock time as it moves its own instance, in the master's zone (a week later
                // across a daylight-saving change, still at the same local hour).
                let ranged = named.filter { appliesToLaterInstances($0.event) }.sorted { $0.instance > $1.instance }
                    .map { (event: $0.event, instance: $0.instance,
                            shift: wallClock(epoch(icalcomponent_get_dtstart($0.event), floating: zone), in: masterZone) - wallClock($0.instance, in: masterZone)) }
                // A moved instance may move into the window from outside it: the master is expanded wider, then cut.
                let reach = ranged.map { abs($0.shift) + 3600 + EventSpan.end(start: 0, end: length(of: $0.event).days * 86_400 + length(of: $0.event).seconds) }.max() ?? 0
                let instances = try expand(master, uid: uid, from: from - reach, to: to + reach, floating: zone,
                                           line: content.component("VEVENT", index: index)?.first { $0.name == "RRULE" }?.line)
                if instances.isEmpty, properties(of: master, ICAL_RRULE_PROPERTY).isEmpty == false {
                    warnings.append("\(uid): no occurrence between \(UTC.format(from)) and \(UTC.format(to))")
                }
                for instance in instances where !replaced.contains(instance.start) {
                    let o: CalendarOccurrence
                    if let r = ranged.first(where: { $0.instance < instance.start }) {
                        guard icalcomponent_get_status(r.event) != ICAL_STATUS_CANCELLED else { continue }
                        o = occurrence(r.event, uid: uid, start: moved(instance.start, by: r.shift, in: masterZone), floating: zone, recurrenceID: instance.start,
                                       series: master)
                    } else {
                        o = occurrence(master, uid: uid, start: instance.start, end: instance.end, floating: zone, recurrenceID: nil)
                    }
                    if EventSpan.overlaps(start: o.start, end: o.end, from: from, to: to) { result.append(o) }
                }
            }
            for override in overrides[uid] ?? [] where icalcomponent_get_status(override) != ICAL_STATUS_CANCELLED {
                let start = epoch(icalcomponent_get_dtstart(override), floating: zone)
                let o = occurrence(override, uid: uid, start: start, floating: zone, recurrenceID: epoch(recurrenceID(of: override), floating: masterZone), series: master)
                if EventSpan.overlaps(start: o.start, end: o.end, from: from, to: to) { result.append(o) }
            }
            overrides[uid] = nil
        }
        if !cancelled.isEmpty {
            warnings.append("\(cancelled.count) cancelled event(s) (STATUS:CANCELLED) skipped: \(cancelled.prefix(10).joined(separator: ", "))\(cancelled.count > 10 ? ", …" : "")")
        }
        // Overrides of a master that is not in the file: each is an event of its own. One with RANGE=THISANDFUTURE carries
        // the rest of the series (Lotus Notes writes its RDATEs there): its RRULE and RDATEs are expanded, up to the next
        // such override of the UID (cancelled or not), less the instances a single override names.
        for (uid, orphans) in overrides {
            let named = orphans.map { (event: $0, instance: epoch(recurrenceID(of: $0), floating: self.zone(of: $0, floating: zone)), ranged: appliesToLaterInstances($0)) }
            let single = Set(named.filter { !$0.ranged }.map(\.instance))
            for o in named where icalcomponent_get_status(o.event) != ICAL_STATUS_CANCELLED {
                let start = epoch(icalcomponent_get_dtstart(o.event), floating: zone)
                guard o.ranged else {
                    let occ = occurrence(o.event, uid: uid, start: start, floating: zone, recurrenceID: o.instance)
                    if EventSpan.overlaps(start: occ.start, end: occ.end, from: from, to: to) { result.append(occ) }
                    continue
                }
                let until = named.filter { $0.ranged && $0.instance > o.instance }.map(\.instance).min() ?? .max
                for instance in try expand(o.event, uid: uid, from: from, to: to, floating: zone)
                where instance.start < until && (instance.start == start || !single.contains(instance.start)) {
                    result.append(occurrence(o.event, uid: uid, start: instance.start, end: instance.end, floating: zone,
                                             recurrenceID: instance.start == start ? o.instance : nil))
                }
            }
        }
        // iTIP files repeat an event in several messages: identical occurrences count once (two that differ in their VMs
        // or categories are two events, each kept; other vendors' X- properties, a generation number, say nothing of it).
        var seen = Set<CalendarOccurrence>()
        let kept = result.sorted { ($0.start, $0.uid, $0.end) < ($1.start, $1.uid, $1.end) }.filter { o in
            var key = o
            key.extensions = o.extensions.filter { $0.key.hasPrefix("X-TORPOR-") }
            return seen.insert(key).inserted
        }
        // Kept as written (the safe side: it keeps its VMs awake, or frozen), but a year and more is likely a typo.
        var told = Set<String>()
        for o in kept where o.end - o.start > Self.longestLikely && told.insert(o.uid).inserted {
            warnings.append("\(o.uid) lasts \((o.end - o.start) / 86_400) days (\(UTC.format(o.start)) to \(UTC.format(o.end))): kept, "
                            + "it acts on its VMs that long; a DTEND typo?")
        }
        return kept
    }

    /// How long an occurrence may last before it is said (`occurrences`): a year.
    static let longestLikely: EpochSeconds = 366 * 86_400

    /// What libical accepts but a schedule cannot use: no DTSTART, end before start, a negative or absurd DURATION.
    /// DTEND with DURATION (forbidden by RFC 5545, written by some exporters) is survived: DTEND wins.
    private func validate(_ event: OpaquePointer, lines: ArraySlice<ContentLine>?) throws(ICalError) {
        let begin = lines?.first?.line
        func line(_ name: String) -> Int? { lines?.first { $0.name == name }?.line ?? begin }
        guard icalcomponent_get_first_property(event, ICAL_DTSTART_PROPERTY) != nil else {
            throw ICalError(source: source, line: begin, message: "VEVENT without DTSTART")
        }
        // libical rolls an impossible date or time over (day 99 becomes a later month, hour 25 the next day): refused.
        // A TZID neither the file nor zoneinfo knows leaves the time floating: said, with what it is read in.
        for property in lines ?? [] where ["DTSTART", "DTEND", "RDATE", "EXDATE", "RECURRENCE-ID"].contains(property.name) {
            if let tzid = property.parameters.split(separator: ";").first(where: { $0.uppercased().hasPrefix("TZID=") })?
                .dropFirst(5).trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
               icalcomponent_get_timezone(root, tzid) == nil, icaltimezone_get_builtin_timezone(tzid) == nil {
                let warning = "line \(property.line): unknown TZID '\(tzid)' (no VTIMEZONE in the file, not a zoneinfo name): its time is read in the calendar's zone"
                if !warnings.contains(warning) { warnings.append(warning) }
            }
            for item in property.value.split(separator: ",") where property.name != "EXDATE" {   // a bad EXDATE stays a warning
                let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
                let time = parts.first ?? ""   // an RDATE period: its start
                if let problem = Self.outOfRange(time) {
                    throw ICalError(source: source, line: property.line, message: "\(property.name) \(time): \(problem)")
                }
                if parts.count == 2, let problem = Self.periodProblem(start: time, end: parts[1]) {
                    throw ICalError(source: source, line: property.line, message: "\(property.name) period \(item): \(problem)")
                }
            }
        }
        let hasEnd = icalcomponent_get_first_property(event, ICAL_DTEND_PROPERTY) != nil
        let hasDuration = icalcomponent_get_first_property(event, ICAL_DURATION_PROPERTY) != nil
        if hasEnd && hasDuration {
            warnings.append("line \(line("DURATION") ?? 0): VEVENT with both DTEND and DURATION (RFC 5545 allows one): DTEND used")
        }
        // The event's own DURATION (a VALARM's inside it is another's).
        let duration = lines.map(ContentLines.own)?.first { $0.name == "DURATION" }
        if hasDuration {
            // libical reads what is not RFC 5545's grammar as it can: `PT1H30` as an hour, `PT90` and `P` as no time.
            if let duration {
                if !Self.isDuration(duration.value) {
                    throw ICalError(source: source, line: duration.line, message: "DURATION '\(duration.value)' is not an RFC 5545 duration: P, then weeks "
                                    + "alone (P2W), or days (P1D) and a time, or a time alone: T then hours, minutes and seconds in that order, "
                                    + "each with its number, none left out between two given (PT1H30M, P1DT12H, PT1H0M30S)")
                }
                if duration.value.split(whereSeparator: { !$0.isNumber }).contains(where: { $0.count > 6 }) {
                    throw ICalError(source: source, line: duration.line, message: "DURATION \(duration.value) is out of range")
                }
            }
            let d = icalcomponent_get_duration(event)
            if d.is_neg != 0 || icaldurationtype_as_int(d) < 0 { throw ICalError(source: source, line: duration?.line ?? begin, message: "negative DURATION") }
        }
        if hasEnd, let end = dtend(of: event) {
            let start = icalcomponent_get_dtstart(event)
            let seconds = epoch(end, floating: nil) - epoch(start, floating: nil)
            if seconds < 0 { throw ICalError(source: source, line: line("DTEND"), message: "DTEND is before DTSTART") }
            if seconds == 0, start.is_date != 0, end.is_date != 0 {
                warnings.append("line \(line("DTEND") ?? 0): an all-day event whose DTEND is its DTSTART's date: read as that one day")
            }
        }
        if properties(of: event, ICAL_RRULE_PROPERTY).count > 1 {
            warnings.append("line \(line("RRULE") ?? 0): more than one RRULE (deprecated by RFC 5545); all are expanded")
        }
    }

    /// Why an RDATE period (`start/end` or `start/duration`) cannot be used, if it cannot: an end out of range or
    /// before its start (both written alike: the same zone), a duration that is not RFC 5545's or is negative.
    static func periodProblem(start: String, end: String) -> String? {
        if end.hasPrefix("P") || end.hasPrefix("+P") || end.hasPrefix("-P") {
            guard isDuration(end) else { return "its duration '\(end)' is not an RFC 5545 duration" }
            return end.hasPrefix("-") && end.contains(where: { $0.isNumber && $0 != "0" }) ? "negative duration" : nil
        }
        if let problem = outOfRange(end) { return "its end: \(problem)" }
        let alike = start.count == end.count && start.hasSuffix("Z") == end.hasSuffix("Z")
        return alike && end < start ? "it ends before it starts" : nil
    }

    /// Whether `value` is a DURATION value of RFC 5545 (§3.3.6): `[+|-]P` then `nW`, or `nD` with an optional time, or a
    /// time: `T` then `nH`, `nM`, `nS` in that order, at least one, and none skipped between two given (`dur-hour` is
    /// followed by `dur-minute` only).
    static func isDuration(_ value: String) -> Bool {
        var rest = Substring(value)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        guard rest.first == "P" else { return false }
        // The designators as written, each after its number (`T` after none).
        var designators = ""
        var digits = 0
        for c in rest.dropFirst() {
            if c.isASCII, c.isNumber {
                digits += 1
            } else if c == "T" ? digits == 0 : digits > 0 && "WDHMS".contains(c) {
                designators.append(c)
                digits = 0
            } else {
                return false
            }
        }
        let times = ["H", "HM", "HMS", "M", "MS", "S"].map { "T" + $0 }
        return digits == 0 && (["W", "D"] + times + times.map { "D" + $0 }).contains(designators)
    }

    /// What is impossible in a DATE (`YYYYMMDD`) or DATE-TIME (`YYYYMMDDTHHMMSS[Z]`) value, if anything; text of
    /// another shape is left to libical's own checks.
    static func outOfRange(_ value: String) -> String? {
        let digits = Array(value.utf8.filter { (48...57).contains($0) }.map { Int($0 - 48) })   // ASCII digits only
        guard digits.count == 8 || digits.count == 14 else { return nil }
        func field(_ from: Int, _ length: Int) -> Int { digits[from..<from + length].reduce(0) { $0 * 10 + $1 } }
        let (year, month, day) = (field(0, 4), field(4, 2), field(6, 2))
        guard (1...12).contains(month) else { return "month \(month) does not exist" }
        guard (1...UTC.daysIn(month: month, year: year)).contains(day) else { return "day \(day) does not exist in \(year)-\(String(format: "%02d", month))" }
        guard digits.count == 14 else { return nil }
        let (hour, minute, second) = (field(8, 2), field(10, 2), field(12, 2))
        guard hour < 24, minute < 60, second <= 60 else { return String(format: "%02d:%02d:%02d is not a time of day", hour, minute, second) }
        return nil
    }

    /// The instances of `event` overlapping [from, to): UTC start and end. RRULEs are expanded by libical on the event's
    /// wall clock (a TZID's, or `floating`'s for a floating or all-day event), each instance's local time then read by
    /// `utc(ofLocal:in:)`; RDATEs and EXDATEs here, since libical reads an RDATE's time as UTC whatever its TZID and
    /// drops an RDATE period, and compares an EXDATE with wall-clock instances as if both were UTC. An RDATE period
    /// lasts as it says; every other instance as the event.
    /// libical compares UNTIL with wall-clock instances as if they were UTC: an UNTIL in UTC is read in the event's zone
    /// first (east of UTC the last instance was lost); a DATE UNTIL of date-times (which RFC 5545 forbids, and libical
    /// ends at that date's midnight) ends with that whole day. `line`: the RRULE's, for what is said.
    private func expand(_ event: OpaquePointer, uid: String, from: EpochSeconds, to: EpochSeconds, floating: OpaquePointer?, line: Int? = nil) throws(ICalError) -> [(start: EpochSeconds, end: EpochSeconds)] {
        final class Collector {
            var starts: [EpochSeconds] = []
            var overflow = false
        }
        let collector = Collector()
        let dtstart = icalcomponent_get_dtstart(event)
        let isFloating = Self.readsInFloatingZone(dtstart)
        // An event in a TZID is expanded on its wall clock, as a floating one, and each instance's local time read by
        // `utc(ofLocal:in:)`: libical takes a time in the hour the autumn change repeats as its second occurrence.
        let dtstartProperty = icalcomponent_get_first_property(event, ICAL_DTSTART_PROPERTY)
        let tzid = isFloating ? nil : dtstartProperty.flatMap { icalproperty_get_first_parameter($0, ICAL_TZID_PARAMETER) }
            .flatMap { icalparameter_get_tzid($0) }.map { String(cString: $0) }
        let onWallClock = isFloating || tzid != nil
        let wallClockZone = zone(of: event, floating: floating)
        // Instances on a wall clock are computed as UTC by libical: widen the window by a day and shift.
        let slack: EpochSeconds = onWallClock ? 86_400 * 2 : 0
        let length = length(of: event)
        // An instance overlaps [from, to) when what it covers does (`EventSpan`: an hour for one without duration); its
        // days may be a daylight-saving change longer than 24 hours each, a day in all at most.
        let covers = EventSpan.end(start: 0, end: length.days * 86_400 + length.seconds) + (length.days > 0 ? 86_400 : 0)
        let windowStart = icaltime_from_timet_with_zone(time_t(from - covers - slack), 0, icaltimezone_get_utc_timezone())
        let windowEnd = icaltime_from_timet_with_zone(time_t(to + slack), 0, icaltimezone_get_utc_timezone())
        // libical expands the event without its RDATEs and EXDATEs (taken out for the call, put back after), DTSTART
        // without its TZID, its UNTILs as above (all set back after).
        let rdates = properties(of: event, ICAL_RDATE_PROPERTY), exdates = properties(of: event, ICAL_EXDATE_PROPERTY)
        for p in rdates + exdates { icalcomponent_remove_property(event, p) }
        if tzid != nil, let dtstartProperty { icalproperty_remove_parameter_by_kind(dtstartProperty, ICAL_TZID_PARAMETER) }
        let rules = properties(of: event, ICAL_RRULE_PROPERTY).map { (property: $0, written: icalproperty_get_rrule($0)) }
        var rewritten: [(property: OpaquePointer, written: icalrecurrencetype)] = []
        // (Not an RSCALE rule: setting one frees the calendar scale's name that the written copy still points at.)
        for rule in rules where icaltime_is_null_time(rule.written.until) == 0 && rule.written.rscale == nil {
            var r = rule.written
            if onWallClock, icaltime_is_utc(r.until) != 0 {
                r.until = icaltime_from_timet_with_zone(time_t(epoch(r.until, floating: nil)), 0, wallClockZone)
                r.until.zone = nil
                if dtstart.is_date != 0 { (r.until.hour, r.until.minute, r.until.second, r.until.is_date) = (0, 0, 0, 1) }
            } else if dtstart.is_date == 0, r.until.is_date != 0 {
                (r.until.hour, r.until.minute, r.until.second, r.until.is_date, r.until.zone) = (23, 59, 59, 0, onWallClock ? nil : dtstart.zone)
                let warning = "\(line.map { "line \($0): " } ?? "")\(uid): RRULE's UNTIL is a date, DTSTART a date-time: instances on that date are kept"
                if !warnings.contains(warning) { warnings.append(warning) }
            } else {
                continue
            }
            icalproperty_set_rrule(rule.property, r)
            rewritten.append(rule)
        }
        /// The event as it was written: its RDATEs, EXDATEs and DTSTART's TZID back, its rewritten UNTILs set back.
        func putBack() {
            for p in rdates + exdates { icalcomponent_add_property(event, p) }
            if let tzid, let dtstartProperty { icalproperty_set_parameter(dtstartProperty, icalparameter_new_tzid(tzid)) }
            for rule in rewritten { icalproperty_set_rrule(rule.property, rule.written) }
        }
        let tooMany = "\(uid) has more than \(ICalendar.maxOccurrencesPerEvent) occurrences in the window: narrow the window or fix the RRULE"
        // libical calls back for every instance in the window, the cap on them reached or not: a rule repeating each
        // second over weeks burned 20 s of CPU before it was refused. One without BY parts (which thin it out; the only
        // parts of a rule whose name has "BY") is counted first, and refused as it would have been.
        for rule in rules where [ICAL_SECONDLY_RECURRENCE, ICAL_MINUTELY_RECURRENCE].contains(rule.written.freq)
            && !String(cString: icalproperty_get_value_as_string(rule.property)).uppercased().contains("BY") {
            let r = rule.written, every = max(1, EpochSeconds(r.interval)) * (r.freq == ICAL_SECONDLY_RECURRENCE ? 1 : 60)
            let start = epoch(dtstart, floating: floating)
            var last = icaltime_is_null_time(r.until) == 0 ? min(to + slack, epoch(r.until, floating: floating)) : to + slack
            if r.count > 0 { last = min(last, start + EpochSeconds(r.count - 1) * every) }   // COUNT counts from DTSTART
            if (last - max(start, from - covers - slack)) / every > EpochSeconds(ICalendar.maxOccurrencesPerEvent) {
                putBack()
                throw ICalError(source: source, line: line, message: tooMany)
            }
        }
        withExtendedLifetime(collector) {
            icalcomponent_foreach_recurrence(event, windowStart, windowEnd, { _, span, data in
                let collector = Unmanaged<Collector>.fromOpaque(data!).takeUnretainedValue()
                guard collector.starts.count < ICalendar.maxOccurrencesPerEvent else { collector.overflow = true; return }
                collector.starts.append(EpochSeconds(span!.pointee.start))
            }, Unmanaged.passUnretained(collector).toOpaque())
        }
        putBack()
        if collector.overflow { throw ICalError(source: source, line: line, message: tooMany) }
        let shifted = onWallClock ? collector.starts.map { Self.utc(ofLocal: $0, in: wallClockZone) } : collector.starts
        // EXDATEs in their TZID's zone (or UTC, or a date: DTSTART's time that day) remove RRULE and RDATE instances alike;
        // one with neither, and an RDATE, is a time of the series' own clock (a TZID series', not `floating`).
        let excluded = Set(properties(of: event, ICAL_EXDATE_PROPERTY).map { p in
            epoch(instant(resolved(icalproperty_get_exdate(p), property: p, in: event), like: dtstart), floating: wallClockZone)
        })
        var instances = shifted.filter { !excluded.contains($0) }.map { (start: $0, end: end(of: event, startingAt: $0, floating: floating)) }
        for p in rdates {
            let value = icalproperty_get_rdate(p)
            let period = icaltime_is_null_time(value.time) != 0
            let start = epoch(instant(resolved(period ? value.period.start : value.time, property: p, in: event), like: dtstart), floating: wallClockZone)
            guard !excluded.contains(start) else { continue }
            var end = end(of: event, startingAt: start, floating: floating)
            if period {
                end = icaltime_is_null_time(value.period.end) == 0 ? epoch(resolved(value.period.end, property: p, in: event), floating: wallClockZone)
                    : start + EpochSeconds(icaldurationtype_as_int(value.period.duration))
                // Written alike, `validate` refused it with its line; an end in another zone than its start's is caught here.
                guard end >= start else {
                    throw ICalError(source: source, line: nil, message: "\(uid): an RDATE period from \(UTC.format(start)) ends before it starts, at \(UTC.format(end))")
                }
            }
            instances.append((start, end))
        }
        // One instance per start (an RDATE may repeat an RRULE's), the longest.
        var byStart: [EpochSeconds: EpochSeconds] = [:]
        for i in instances { byStart[i.start] = max(byStart[i.start] ?? i.end, i.end) }
        return byStart.map { (start: $0.key, end: $0.value) }.sorted { $0.start < $1.start }
            .filter { EventSpan.overlaps(start: $0.start, end: $0.end, from: from, to: to) }
    }

    /// A date given for an event of date-times (or the reverse) taken as the event's instances are: an all-day event's
    /// instance is its date; a date-time event's, that date at DTSTART's time of day.
    private func instant(_ value: icaltimetype, like dtstart: icaltimetype) -> icaltimetype {
        var time = value
        if dtstart.is_date != 0 {
            (time.hour, time.minute, time.second, time.is_date, time.zone) = (0, 0, 0, 1, nil)
        } else if time.is_date != 0 {
            (time.hour, time.minute, time.second, time.is_date, time.zone) = (dtstart.hour, dtstart.minute, dtstart.second, 0, dtstart.zone)
        }
        return time
    }

    /// The event's length: whole days, counted on the calendar of its zone (DURATION's days and weeks, the dates from an
    /// all-day DTSTART to its DTEND, or an all-day event's one day), then exact seconds (DTEND − DTSTART of date-times,
    /// DURATION's hours, minutes and seconds); 0 when it has none.
    private func length(of event: OpaquePointer) -> (days: Int64, seconds: Int64) {
        let start = icalcomponent_get_dtstart(event)
        if let end = dtend(of: event) {
            let seconds = epoch(end, floating: nil) - epoch(start, floating: nil)
            // An all-day event lasts a day at least (one whose DTEND is its DTSTART's date is that day: `validate`).
            return start.is_date != 0 && end.is_date != 0 ? (days: max(1, seconds / 86_400), seconds: 0) : (days: 0, seconds: seconds)
        }
        if icalcomponent_get_first_property(event, ICAL_DURATION_PROPERTY) != nil {
            let d = icalcomponent_get_duration(event)
            let sign: Int64 = d.is_neg != 0 ? -1 : 1
            return (days: sign * (Int64(d.weeks) * 7 + Int64(d.days)), seconds: sign * (Int64(d.hours) * 3600 + Int64(d.minutes) * 60 + Int64(d.seconds)))
        }
        return start.is_date != 0 ? (days: 1, seconds: 0) : (days: 0, seconds: 0)
    }

    /// The end of the instance of `event` that starts at `start`: its days added on the calendar of its zone (the same
    /// local time that many days later, 23 or 25 hours across a daylight-saving change), then its exact seconds.
    /// A DTSTART and DTEND on one local clock (both floating, or both in one TZID) are wall-clock times, as calendar
    /// programs show each instance: such an instance ends as much wall-clock time after its start or as much exact time
    /// (RFC 5545's reading of a recurring DTEND), whichever is later (an event that keeps VMs awake is never cut short
    /// by a daylight-saving change; an end in the hour the spring change skips is the exact one, as RFC 5545 reads such
    /// a time).
    private func end(of event: OpaquePointer, startingAt start: EpochSeconds, floating: OpaquePointer?) -> EpochSeconds {
        let length = length(of: event)
        let dtstart = icalcomponent_get_dtstart(event)
        let wallClockEnd = dtend(of: event).flatMap { Self.onOneLocalClock(dtstart, $0) ? $0 : nil }
        guard length.days != 0 || wallClockEnd != nil else { return start + length.seconds }
        let zone = zone(of: event, floating: floating)
        guard let wallClockEnd else { return moved(start, by: length.days * 86_400, in: zone) + length.seconds }
        return max(moved(start, by: Self.wallClockSeconds(from: dtstart, to: wallClockEnd), in: zone), start + length.seconds)
    }

    /// The wall-clock time from one local time to another as written (04:00 is five hours after 23:00 the day before,
    /// whatever the clocks did in between): for two floating times, their exact length too.
    private static func wallClockSeconds(from start: icaltimetype, to end: icaltimetype) -> EpochSeconds {
        naive(end) - naive(start)
    }

    /// Whether a time is a date-time with neither a zone nor UTC: the local time of wherever it is read.
    private static func isFloatingDateTime(_ time: icaltimetype) -> Bool { time.zone == nil && icaltime_is_utc(time) == 0 && time.is_date == 0 }

    /// Whether a time is read in the floating zone: an all-day date, or a floating date-time.
    private static func readsInFloatingZone(_ time: icaltimetype) -> Bool { time.is_date != 0 || isFloatingDateTime(time) }

    /// Whether two date-times are read on one local clock that may change its offset: both floating, or both in the
    /// same TZID (UTC never changes).
    private static func onOneLocalClock(_ a: icaltimetype, _ b: icaltimetype) -> Bool {
        if isFloatingDateTime(a) && isFloatingDateTime(b) { return true }
        guard a.is_date == 0, b.is_date == 0, icaltime_is_utc(a) == 0, let za = a.zone, let zb = b.zone,
              let ta = icaltimezone_get_tzid(za), let tb = icaltimezone_get_tzid(zb) else { return false }
        return strcmp(ta, tb) == 0
    }

    /// The zone an event's times are counted in: its DTSTART's, or `floating` for a floating or all-day one (UTC when nil).
    private func zone(of event: OpaquePointer, floating: OpaquePointer?) -> OpaquePointer {
        let dtstart = icalcomponent_get_dtstart(event)
        let isFloating = Self.readsInFloatingZone(dtstart)
        return (isFloating ? floating : dtstart.zone) ?? icaltimezone_get_utc_timezone()
    }

    /// An instant's wall-clock time in `zone`, as seconds counted as if it were UTC.
    private func wallClock(_ instant: EpochSeconds, in zone: OpaquePointer) -> EpochSeconds {
        Self.naive(icaltime_from_timet_with_zone(time_t(instant), 0, zone))
    }

    /// The instant `seconds` of wall-clock time after `instant` in `zone`: the same local time a day later is 23 or 25
    /// hours later across a daylight-saving change.
    private func moved(_ instant: EpochSeconds, by seconds: EpochSeconds, in zone: OpaquePointer) -> EpochSeconds {
        Self.utc(ofLocal: wallClock(instant, in: zone) + seconds, in: zone)
    }

    /// One occurrence of `event` from `start` (to `end`, or for the event's length). An override of a `series` keeps the
    /// series' CATEGORIES and each `X-` property it leaves out (exporters write only what changed): a moved backup is
    /// still a backup, of the same VMs.
    private func occurrence(_ event: OpaquePointer, uid: String, start: EpochSeconds, end: EpochSeconds? = nil, floating: OpaquePointer?, recurrenceID: EpochSeconds?,
                            series: OpaquePointer? = nil) -> CalendarOccurrence {
        var categories = self.categories(of: event), extensions = self.extensions(of: event)
        if let series {
            if categories.isEmpty { categories = self.categories(of: series) }
            for (name, values) in self.extensions(of: series) where extensions[name] == nil { extensions[name] = values }
        }
        let allDay = icalcomponent_get_dtstart(event).is_date != 0
        return CalendarOccurrence(uid: uid, summary: icalcomponent_get_summary(event).map { String(cString: $0) } ?? "",
                                  start: start, end: max(start, end ?? self.end(of: event, startingAt: start, floating: floating)), allDay: allDay,
                                  categories: categories, extensions: extensions, recurrenceID: recurrenceID)
    }

    /// Every CATEGORIES value of `event` (comma-split, several properties allowed).
    private func categories(of event: OpaquePointer) -> [String] {
        properties(of: event, ICAL_CATEGORIES_PROPERTY).flatMap { p -> [String] in
            guard let value = icalproperty_get_categories(p) else { return [] }
            return String(cString: value).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// The `X-` properties of `event` by upper-case name, each name's values in the file's order.
    private func extensions(of event: OpaquePointer) -> [String: [String]] {
        var extensions: [String: [String]] = [:]
        for p in properties(of: event, ICAL_X_PROPERTY) {
            if let name = icalproperty_get_x_name(p), let value = icalproperty_get_x(p) {
                extensions[String(cString: name).uppercased(), default: []].append(String(cString: value))
            }
        }
        return extensions
    }

    /// Whether an override's RECURRENCE-ID says RANGE=THISANDFUTURE: it stands for the instance it names and every later one.
    private func appliesToLaterInstances(_ event: OpaquePointer) -> Bool {
        guard let property = icalcomponent_get_first_property(event, ICAL_RECURRENCEID_PROPERTY),
              let range = icalproperty_get_first_parameter(property, ICAL_RANGE_PARAMETER) else { return false }
        return icalparameter_get_range(range) == ICAL_RANGE_THISANDFUTURE
    }

    /// RECURRENCE-ID with its TZID resolved (libical's getter leaves it floating).
    private func recurrenceID(of event: OpaquePointer) -> icaltimetype {
        guard let property = icalcomponent_get_first_property(event, ICAL_RECURRENCEID_PROPERTY) else { return icaltime_null_time() }
        return resolved(icalproperty_get_recurrenceid(property), property: property, in: event)
    }

    /// DTEND as written, with its TZID resolved (libical's `icalcomponent_get_dtend` prefers DTSTART + DURATION).
    private func dtend(of event: OpaquePointer) -> icaltimetype? {
        guard let property = icalcomponent_get_first_property(event, ICAL_DTEND_PROPERTY) else { return nil }
        return resolved(icalproperty_get_dtend(property), property: property, in: event)
    }

    /// A property's time in the zone its TZID names: the file's VTIMEZONE, else the system's zoneinfo.
    private func resolved(_ value: icaltimetype, property: OpaquePointer, in event: OpaquePointer) -> icaltimetype {
        var time = value
        guard Self.isFloatingDateTime(time),
              let parameter = icalproperty_get_first_parameter(property, ICAL_TZID_PARAMETER),
              let tzid = icalparameter_get_tzid(parameter) else { return time }
        var zone: OpaquePointer?
        var parent = icalcomponent_get_parent(event)
        while let p = parent, zone == nil {
            zone = icalcomponent_get_timezone(p, tzid)
            parent = icalcomponent_get_parent(p)
        }
        if let z = zone ?? icaltimezone_get_builtin_timezone(tzid) { time = icaltime_set_timezone(&time, z) }
        return time
    }

    /// A time as UTC seconds: with its zone, or as local time in `floating` when it has none.
    private func epoch(_ time: icaltimetype, floating: OpaquePointer?) -> EpochSeconds {
        let isFloating = Self.readsInFloatingZone(time)
        return Self.utc(ofLocal: Self.naive(time), in: isFloating ? floating : time.zone)
    }

    /// A time's wall-clock fields counted as if they were UTC seconds, whatever its zone.
    private static func naive(_ time: icaltimetype) -> EpochSeconds {
        var local = time
        local.zone = nil
        return EpochSeconds(icaltime_as_timet_with_zone(local, icaltimezone_get_utc_timezone()))
    }

    /// The instant of a wall-clock time in `zone` (given as if it were UTC seconds; UTC when nil), as RFC 5545 §3.3.5
    /// reads it: in the hour the autumn change repeats, its first occurrence (summer time: an event at 02:30 that night
    /// starts before the clocks go back, where libical takes the second); in the hour the spring change skips, with
    /// the offset before the gap. As `WeekClock.utc(ofLocal:)` reads a CSV's local times.
    static func utc(ofLocal local: EpochSeconds, in zone: OpaquePointer?) -> EpochSeconds {
        guard let zone else { return local }
        func offset(_ instant: EpochSeconds) -> EpochSeconds {
            var time = icaltime_from_timet_with_zone(time_t(instant), 0, icaltimezone_get_utc_timezone())
            var daylight: Int32 = 0
            return EpochSeconds(icaltimezone_get_utc_offset_of_utc_time(zone, &time, &daylight))
        }
        // The offsets a day either side are those before and after any change near `local`; a candidate holds when the
        // zone's offset at it is the one it was made with.
        let before = local - offset(local - 86_400), after = local - offset(local + 86_400)
        return [before, after].filter { local - $0 == offset($0) }.min() ?? before
    }

}

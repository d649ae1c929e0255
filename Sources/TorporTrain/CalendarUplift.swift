import Foundation
import GRDB
import TorporCore
import TorporStore

/// Calendar events known ahead, per VM and hour: which categories (demand, keep-awake, freeze, holiday) are on, and
/// since when torpor knew (`known(by:)`: as a replay of an earlier hour saw them).
public struct CalendarHours: Sendable {
    /// Per VM and hour, the categories on.
    var byVM: [String: [EpochSeconds: Set<EventRecord.Category>]]
    /// Per VM and hour, when torpor first knew of each category on, where that was not since ever.
    var knownFrom: [String: [EpochSeconds: [EventRecord.Category: EpochSeconds]]] = [:]
    /// Only what torpor knew by then counts (`categories`).
    public private(set) var knownBy: EpochSeconds = .max

    /// Categories on per VM and hour, known since ever.
    public init(_ byVM: [String: [EpochSeconds: Set<EventRecord.Category>]] = [:]) { self.byVM = byVM }

    /// The events of the store overlapping [from, to) that torpor knew of by `knownBy`, spread over the hours of the VMs
    /// they apply to.
    public static func load(vms: [VMRecord], from: EpochSeconds, to: EpochSeconds, knownBy: EpochSeconds = .max, in db: Database) throws -> CalendarHours {
        CalendarHours(events: try EventRepository.overlapping(from: from, to: to, knownBy: knownBy, in: db), vms: vms, from: from, to: to)
    }

    /// `events` (read for [from, to)) spread over the hours of [from, to) of the VMs they apply to.
    public init(events: [EventRecord], vms: [VMRecord], from: EpochSeconds, to: EpochSeconds) {
        byVM = [:]
        for e in events {
            let known = e.knownFrom ?? .min
            for vm in vms where e.applies(to: vm.name, labels: vm.labels) {
                var hour = max(from, UTC.floor(e.start))
                while hour < min(EventSpan.end(start: e.start, end: e.end), to) {
                    // Known as early as the earliest event that puts the category on; since ever (.min) is not kept.
                    let first = byVM[vm.name, default: [:]][hour, default: []].insert(e.category).inserted
                    let earliest = min(known, first ? .max : knownFrom[vm.name]?[hour]?[e.category] ?? .min)
                    if earliest > .min { knownFrom[vm.name, default: [:]][hour, default: [:]][e.category] = earliest }
                    else { knownFrom[vm.name]?[hour]?[e.category] = nil }
                    hour += 3600
                }
            }
        }
    }

    /// The same hours as torpor knew them at `time`: an event recorded later (an incident entered the next day) is not on.
    public func known(by time: EpochSeconds) -> CalendarHours {
        var view = self
        view.knownBy = time
        return view
    }

    /// The categories on during the hour that starts at `hour`, of the events known by `knownBy`.
    public func categories(vm: String, hour: EpochSeconds) -> Set<EventRecord.Category> {
        guard let on = byVM[vm]?[hour] else { return [] }
        guard knownBy < .max, let known = knownFrom[vm]?[hour] else { return on }
        return on.filter { (known[$0] ?? .min) <= knownBy }
    }
}

/// What calendar events do to a VM's demand beyond what the model forecasts: per category and quantile, the correction
/// (in the VM's scaled units) that minimizes the pinball loss of the model's forecasts over the training hours when
/// that category was on, i.e. the τ-quantile of the residuals there. Added to the model's forecast only at the hours
/// an event is on, so a campaign next Tuesday raises next Tuesday's forecast and nothing else.
public struct CalendarUplift: Equatable, Sendable {
    /// Category → per quantile.
    public var values: [EventRecord.Category: [Float]]

    public init(_ values: [EventRecord.Category: [Float]] = [:]) { self.values = values }

    /// Fits from `(categories on, residual per quantile)` of training hours; a category needs `minimumHours` of them.
    public static func fit(_ samples: [(Set<EventRecord.Category>, [Float])], quantiles: [Float], minimumHours: Int = 12) -> CalendarUplift {
        var uplift = CalendarUplift()
        for category in EventRecord.Category.allCases {
            let mine = samples.filter { $0.0.contains(category) }.map(\.1)
            guard mine.count >= minimumHours else { continue }
            uplift.values[category] = quantiles.indices.map { j in
                let sorted = mine.map { $0[j] }.sorted()
                return sorted[min(sorted.count - 1, Int((quantiles[j] * Float(sorted.count)).rounded(.down)))]
            }
        }
        return uplift
    }

    /// The forecast of one hour (per quantile, in series units) with the uplift of the categories on, still sorted.
    public func apply(_ forecast: [Float], categories: Set<EventRecord.Category>, scale: Float) -> [Float] {
        guard !categories.isEmpty else { return forecast }
        var result = forecast
        // In a fixed order: a float sum in a set's (per-process) order could differ in its last bit from run to run.
        for category in categories.sorted(by: { $0.rawValue < $1.rawValue }) { if let u = values[category] { for j in result.indices { result[j] += u[j] * scale } } }
        return result.map { max(0, $0) }.sorted()
    }

    /// Whether each category's uplift has a finite value for each of a model's `quantiles` (a model file's may be
    /// damaged).
    public func fits(quantiles: Int) -> Bool { values.values.allSatisfy { $0.count == quantiles && $0.allSatisfy(\.isFinite) } }

    /// As model-file metadata: `calendar.demand` = `0.12,0.31,0.52`.
    public var metadata: [String: String] {
        Dictionary(uniqueKeysWithValues: values.map { ("calendar.\($0.key.rawValue)", $0.value.map { "\($0)" }.joined(separator: ",")) })
    }

    public init(metadata: [String: String]) {
        var values: [EventRecord.Category: [Float]] = [:]
        for (key, text) in metadata where key.hasPrefix("calendar.") {
            if let category = EventRecord.Category(rawValue: String(key.dropFirst("calendar.".count))) {
                values[category] = text.split(separator: ",").compactMap { Float(String($0)) }
            }
        }
        self.values = values
    }
}

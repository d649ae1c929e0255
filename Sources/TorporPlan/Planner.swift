import Foundation
import TorporCore
import TorporStore

/// One VM as the planner sees it.
public struct PlanningVM: Sendable {
    public var name: String
    public var host: String?
    public var labels: [String: String]
    public var vcpus: Int?
    public var memoryBytes: Int64?
    /// Hours of known demand in the history the forecast was made from.
    public var knownHours: Int
    /// Hours from the first known hour of that history to its end, its sleeps and gaps included: how long the VM has
    /// been seen, up to the history's length (nil: taken as `knownHours`; `historyHours(of:)`).
    public var historyHours: Int?

    /// `historyHours` of an hourly history (missing hours NaN).
    public static func historyHours(of history: [Float]) -> Int {
        history.firstIndex { !$0.isNaN }.map { history.count - $0 } ?? 0
    }
    public var forecast: QuantileForecast?
    /// Set when the VM is asleep now (hibernated by torpor).
    public var hibernatedSince: EpochSeconds?
    /// Measured p95 save and restore times, when the executor has measured them.
    public var saveSeconds: Int64?
    public var restoreSeconds: Int64?
    /// State-pool bytes one hibernation is expected to add (from earlier hibernations), else allocated memory counts.
    public var stateBytes: Int64?
    /// An operator's pin: no hibernation before this time.
    public var pinnedUntil: EpochSeconds?
    /// Set when the VM's newest demand data is older than the policy's `max_data_age`: the time data stops.
    public var staleSince: EpochSeconds?
    /// Set when the collector has seen the VM's domain since then without reading its demand (it keeps writing the
    /// allocation of a shut-off or paused domain, no CPU counters; `PlanningInputs.seenNotRunning`): not running, so
    /// neither hibernated nor counted as running by the guardrails, however fresh its data otherwise is.
    public var notRunningSince: EpochSeconds? = nil

    /// Set when libvirt holds the VM saved without torpor's record (a `virsh managedsave` by hand), as the inventory
    /// found it (`JournalRepository.savedWithoutRecord`): asleep for the guardrails through the whole horizon, as the
    /// executor's pre-flight counts it (counted as neither, each plan proposed windows the pre-flight refused).
    public var savedWithoutRecord = false

    /// Known to run (data fresh, not seen shut off) or asleep: whom the hourly job may name as dormant. A VM without
    /// fresh data (shut off, gone, its collector stopped) is neither.
    var knownRunningOrAsleep: Bool { hibernatedSince != nil || staleSince == nil && notRunningSince == nil }
    /// What the guardrails count: known to run or asleep, or saved without torpor's record.
    var countedByGuardrails: Bool { knownRunningOrAsleep || savedWithoutRecord }
    /// Set when a training run marked the VM not predictable (`DemandForecaster.unpredictable`: the newest run, or the
    /// one whose model serves it): the reason.
    public var notPredictable: String?
    /// Set when the VM runs because a demand signal or an operator woke it before its planned restore: when it came
    /// back. Its forecast was wrong then, so for a day its next hibernation waits for `min_idle` of measured quiet since.
    public var wokenEarlyAt: EpochSeconds?
    /// Set when forecast demand did not come: from an hour the plans' forecast called for demand in while the VM ran
    /// (`Planner.demandCalls`; a call that claimed at least what the current policy's would), its measured demand stayed
    /// under `restore_above` for `min_idle` (this is when that was over), and has reached it at no time since while it
    /// ran (`PlanningInputs.unmetDemand`).
    /// Under the idle timeout its forecast is then not used for a day (`Planner.distrustPeriod`), as for a VM without
    /// forecast skill: it sleeps once measured demand has stayed under `hibernate_below` for `min_idle` (or
    /// `Planner.idleCarriedWait` since it woke, `PlanningVM.idleHours`), and only a demand
    /// signal, an event, an operator or `max_sleep` ends that sleep within the day; after it the forecast, which has
    /// seen those hours, decides again.
    public var unmetDemandAt: EpochSeconds?
    /// Known hours (measured while it ran) in the history the forecast was made from since the newest whose demand
    /// reached `restore_above`, the newest missing hour it did not sleep in (`MeasuredHistory.quietHours`: a gap in the
    /// data ends them), or the hour of its last unplanned wake (a demand signal's or an operator's), all of them when
    /// none did. Under the idle timeout a VM quiet for
    /// `Planner.dormancyHours` of them is dormant: its forecast's demand ends no sleep until measured demand returns.
    public var quietHours: Int
    /// Known hours (measured while it ran, in the same history) of its quiet at `restore_above` (as `quietHours`)
    /// in which its plans' forecast, at its tier's quantile, called for demand there (`MeasuredHistory.falseAlarms`):
    /// each a call that did not come true. Under the idle timeout a VM with `Planner.falseAlarmLimit` of them, on
    /// `Planner.falseAlarmDays` days at least, is dormant.
    public var falseAlarms: FalseAlarms
    /// Known hours (measured while it ran, in the same history) since the newest whose demand reached `hibernate_below`,
    /// the newest missing hour it did not sleep in (`MeasuredHistory.quietHours` at that threshold: a gap in the data
    /// ends them) or the hour of its last unplanned wake, all of them when none did. Under the idle timeout, once they
    /// make `min_idle` the VM's next sleep waits only `Planner.idleCarriedWait` of measured quiet since it last woke: the
    /// quiet it slept from counts (its sleeps do not, nor break it; a wake no plan scheduled does).
    public var idleHours: Int

    public init(name: String, host: String?, labels: [String: String] = [:], vcpus: Int? = nil, memoryBytes: Int64? = nil,
                knownHours: Int, forecast: QuantileForecast?, hibernatedSince: EpochSeconds? = nil, saveSeconds: Int64? = nil,
                restoreSeconds: Int64? = nil, stateBytes: Int64? = nil, pinnedUntil: EpochSeconds? = nil, staleSince: EpochSeconds? = nil) {
        self.name = name; self.host = host; self.labels = labels; self.vcpus = vcpus; self.memoryBytes = memoryBytes
        self.knownHours = knownHours; self.forecast = forecast; self.hibernatedSince = hibernatedSince; self.saveSeconds = saveSeconds
        self.restoreSeconds = restoreSeconds; self.stateBytes = stateBytes; self.pinnedUntil = pinnedUntil
        self.staleSince = staleSince
        notPredictable = nil
        wokenEarlyAt = nil
        unmetDemandAt = nil
        quietHours = 0
        falseAlarms = FalseAlarms(hours: 0, days: 0)
        idleHours = 0
    }
}

/// A VM's forecast calls for demand that did not come true since its last measured demand (`PlanningVM.falseAlarms`).
public struct FalseAlarms: Sendable, Equatable {
    /// The known hours its forecast called for demand in.
    public var hours: Int
    /// The whole days (on the fleet's clock) without demand those hours fall on: a day's calls are not independent of
    /// each other, and a day its demand came late or left early in is no day without it.
    public var days: Int

    public init(hours: Int, days: Int) { self.hours = hours; self.days = days }
}

/// Everything a plan is made from. The same input gives the same plan, byte for byte.
public struct PlanningInput: Sendable {
    public var now: EpochSeconds
    public var vms: [PlanningVM]
    public var events: [EventRecord]
    public var policy: Policy
    public var policySHA256: String
    public var model: String
    public var dataWatermark: EpochSeconds?

    public init(now: EpochSeconds, vms: [PlanningVM], events: [EventRecord], policy: Policy, policySHA256: String, model: String,
                dataWatermark: EpochSeconds?) {
        self.now = now; self.vms = vms; self.events = events; self.policy = policy; self.policySHA256 = policySHA256
        self.model = model; self.dataWatermark = dataWatermark
    }
}

/// Turns forecasts and the policy into a plan: hibernation windows per VM (the tier's quantile under
/// `hibernate_below` for at least `min_idle`, longer than the break-even, clear of keep-awake, freeze and demand
/// events and pins), within the fleet guardrails and host capacities, each with a restore scheduled to finish by the
/// forecast demand onset; every VM already asleep gets a restore.
public enum Planner {
    /// How long a VM whose forecast was proven wrong (woken before its planned restore, or running through forecast
    /// demand that did not come) is not trusted to it: the forecast that was wrong is the day's; a day later it has seen the VM since.
    public static let distrustPeriod: Int64 = 86_400

    /// How many hours a VM under the idle timeout may go without measured demand (hours measured while it ran; hours it
    /// slept not counted, a gap in the data starts the count again) before its forecast's calls for demand at tier quantile `quantile` are no longer believed
    /// (`PlanningVM.quietHours`): a week and a day, so that a VM busy on one day of each week is still restored for it,
    /// and long enough that demand as rare as the tier's risk (one hour in 1 / (1 − quantile)) would most likely have
    /// shown itself: 3 / (1 − quantile) hours (the rule of three; q0.99: 300 h).
    public static func dormancyHours(quantile: Float) -> Int {
        max(8 * 24, falseAlarmLimit(quantile: quantile))
    }

    /// How many of its forecast's calls for demand at tier quantile `quantile` may go unanswered by a VM under the idle
    /// timeout since its last measured demand (`PlanningVM.falseAlarms`) before they are no longer believed: a call at
    /// quantile q says demand comes with a chance of 1 − q at least, and after 3 / (1 − q) calls in a row without it
    /// (the rule of three; q0.5: 6, q0.9: 30, q0.99: 300) that chance is most likely lower for this VM now, once they
    /// also fall on `falseAlarmDays` whole days without demand (calls within a day are not independent trials).
    public static func falseAlarmLimit(quantile: Float) -> Int {
        let tenThousandths = (Double(quantile) * 10_000).rounded()   // exact: 3 / (1 − 0.9) is 30, not 30.000000000000004
        return Int((30_000 / (10_000 - tenThousandths)).rounded(.up))
    }

    /// On how many whole days without demand (`FalseAlarms.days`, on the fleet's clock) a VM's false alarms
    /// (`falseAlarmLimit` of them) must fall for it to be dormant: a holiday, or two (Thanksgiving and the Friday after,
    /// Good Friday and Easter Monday), when the forecast expects a working day's demand, makes none.
    public static let falseAlarmDays = 3

    /// What a VM under the idle timeout whose measured quiet since its last demand already makes `min_idle`
    /// (`PlanningVM.idleHours`) waits after a wake before it sleeps again: an hour of measured quiet since it woke (a
    /// plan's step), instead of `min_idle` once more. A restore for forecast demand that did not come then costs the
    /// hours the forecast named and one, not `min_idle`.
    public static let idleCarriedWait: Int64 = 3600

    /// Whether a VM whose forecast was proven wrong at `provenWrongAt` is still not trusted to it at `now`.
    public static func distrusts(provenWrongAt: EpochSeconds?, now: EpochSeconds) -> Bool {
        provenWrongAt.map { now - $0 < distrustPeriod } ?? false
    }

    public static func plan(_ input: PlanningInput) -> Plan {
        Planning(input).run()
    }

    /// The VMs whose forecast the plan sets aside under the idle timeout because forecast demand did not come, and until
    /// when (`PlanningVM.unmetDemandAt`), by name: what the hourly job reports beside the plan.
    public static func forecastsSetAside(_ input: PlanningInput) -> [(vm: String, until: EpochSeconds)] {
        let planning = Planning(input)
        return setAside(unmetDemandAt: Dictionary(uniqueKeysWithValues: input.vms.compactMap { vm in
            planning.unmetDemand(vm, settings: input.policy.settings(vm: vm.name, labels: vm.labels)).map { (vm.name, $0) }
        }))
    }

    /// The dormant VMs (idle timeout only: no measured demand for `dormancyHours`, `PlanningVM.quietHours`, or in
    /// `falseAlarmLimit` hours its forecast called for it in, on `falseAlarmDays` whole days without it, `PlanningVM.falseAlarms`), by name:
    /// their forecast's demand wakes them no more, so the hourly job names them (they need a demand signal).
    public static func dormantVMs(_ input: PlanningInput) -> [String] {
        let planning = Planning(input)
        return input.vms.filter { vm in
            let settings = input.policy.settings(vm: vm.name, labels: vm.labels)
            // Not those whose forecast is not used at all (listed apart or skipped), nor those not planned.
            return planning.dormant(vm, settings: settings) != nil && planning.unjudged(vm, settings: settings) == nil
                && vm.host != nil && vm.knownRunningOrAsleep
        }.map(\.name).sorted()
    }

    /// What introduces a list of the dormant VMs, wherever one is shown.
    public static let dormantHeading = "dormant (idle timeout; no measured demand over restore_above in their last \(dormancyHours(quantile: 0.5)) h of data, "
        + "or in \(falseAlarmLimit(quantile: 0.5)) h their forecast called for it in at q0.5, \(falseAlarmLimit(quantile: 0.9)) at q0.9, more at a cautious tier, "
        + "on \(falseAlarmDays) whole days without it at least: " + dormantWakes + ")"

    /// How a dormant VM wakes, wherever one is shown.
    public static let dormantWakes = "its forecast's demand wakes it no more, its measured demand (a demand signal), an event, an operator or max_sleep does"

    /// The VMs whose forecast demand did not come at `unmetDemandAt` (still in use), with when their forecast is used
    /// again, by name.
    public static func setAside(unmetDemandAt: [String: EpochSeconds]) -> [(vm: String, until: EpochSeconds)] {
        unmetDemandAt.map { (vm: $0.key, until: $0.value + distrustPeriod) }.sorted { $0.vm < $1.vm }
    }

    /// What introduces a list of the VMs whose forecast is set aside, wherever one is shown.
    public static let setAsideHeading = "forecast set aside (forecast demand did not come; idle timeout only, a demand signal or an operator wakes them)"

    /// The VMs running now whose forecast calls for demand in the hour that holds `input.now`, with what each call
    /// claimed: at or over `restore_above` at its median (or the tier's quantile, when that is lower: `callQuantile`), so
    /// that demand was expected at least as likely as not, and at the tier's quantile. A cautious tier's high quantile
    /// is over `restore_above` in many hours demand usually does not come: `PlanningInputs.unmetDemand` judges only the
    /// median's calls against measured demand, `MeasuredHistory.falseAlarms` counts the tier's that did not come true.
    public static func demandCalls(_ input: PlanningInput) -> [String: [DemandCall]] {
        let planning = Planning(input)
        var calls: [String: [DemandCall]] = [:]
        for vm in planning.input.vms {
            let settings = input.policy.settings(vm: vm.name, labels: vm.labels)
            guard vm.hibernatedSince == nil, settings.excluded == nil else { continue }
            for quantile in Set([callQuantile(input.policy, settings), input.policy.tiers[settings.tier]!.quantile]).sorted() {
                guard let forecast = planning.tierSeries(vm, quantile: quantile)?.tier.first, !forecast.isNaN,
                      Double(forecast) >= settings.restoreAbove else { continue }
                calls[vm.name, default: []].append(DemandCall(hour: planning.hour0, quantile: quantile, forecast: forecast))
            }
        }
        return calls
    }

    /// The quantile a VM's demand calls are made at: its median, or its tier's quantile when that is lower.
    public static func callQuantile(_ policy: Policy, _ settings: Policy.VMSettings) -> Float {
        min(policy.tiers[settings.tier]!.quantile, 0.5)
    }
}

/// One planning run's working state.
struct Planning {
    let input: PlanningInput
    let policy: Policy
    let hour0: EpochSeconds
    let hours: Int
    let horizonEnd: EpochSeconds

    /// A hibernation the planner would like to make.
    struct Window {
        var vm: PlanningVM
        var settings: Policy.VMSettings
        var tier: Policy.Tier
        var start: EpochSeconds
        var deadline: EpochSeconds
        var firstHour: Int, idleEndHour: Int, endHour: Int
        var saveSeconds: Int64, restoreSeconds: Int64
        /// The shortest this sleep may be, from its start to its restore's end (`break_even_factor` × save + restore).
        var breakEven: Int64 = 0
        var stateBytes: Int64
        var onset: String
        var cause: String
        var asleepAlready: Bool
        /// Under the idle timeout, or for a VM woken early: sleep only once measured demand has stayed under
        /// hibernate_below this long.
        var afterIdle: Int64? = nil
        /// An idle-timeout window: forecast-calm hours only, no forecast-idle ones.
        var idleTimeout: Bool { afterIdle != nil && idleEndHour == firstHour }
        /// An idle-timeout window whose wait is the carried one (`Planner.idleCarriedWait`), shorter than `min_idle`.
        var carriedWait: Bool { idleTimeout && (afterIdle ?? 0) < settings.minIdle }
        var hours: Double { Double(deadline - start) / 3600 }
        var key: String { "\(vm.name)@\(start)" }
    }

    init(_ input: PlanningInput) {
        // Each VM's forecast with the quantile its tier decides by among its own (interpolated when it is not one,
        // `QuantileForecast.including`): its windows, its demand calls and the plan's record read that column.
        var input = input
        for k in input.vms.indices {
            let tier = input.policy.tiers[input.policy.settings(vm: input.vms[k].name, labels: input.vms[k].labels).tier]!
            input.vms[k].forecast = input.vms[k].forecast.map { $0.including(quantile: tier.quantile) ?? $0 }
        }
        self.input = input
        policy = input.policy
        hour0 = UTC.floor(input.now)
        hours = input.policy.horizonHours
        horizonEnd = hour0 + Int64(hours) * 3600
    }

    func run() -> Plan {
        var skipped: [Plan.Skip] = []
        var candidates: [Window] = [], sleeping: [Window] = []
        var forecasts: [Plan.VMForecast] = []
        for vm in input.vms.sorted(by: { $0.name < $1.name }) {
            let settings = policy.settings(vm: vm.name, labels: vm.labels)
            let tier = policy.tiers[settings.tier]!
            if let f = vm.forecast {
                forecasts.append(.init(vm: vm.name, start: Instant(f.start), quantiles: f.quantiles.map(Self.quantileValue),
                                       values: f.values.map { $0.map { Self.rounded($0) } }, tier: settings.tier, tierQuantile: Self.quantileValue(tier.quantile),
                                       hibernateBelow: settings.hibernateBelow, restoreAbove: settings.restoreAbove, source: f.source))
            }
            if vm.hibernatedSince != nil {
                sleeping.append(wakeUp(vm, settings: settings, tier: tier))
                continue
            }
            switch windows(vm, settings: settings, tier: tier) {
            case .success(let found): candidates += found
            case .failure(let reason): skipped.append(.init(vm: vm.name, reason: reason.message))
            }
        }
        var accepted = admit(candidates, sleeping: sleeping, skipped: &skipped)
        // Restores are scheduled per host. A window whose restore would have to start before its save ends, or so early
        // that the sleep no longer pays its break-even, is dropped and the host rescheduled without it; so is the
        // least-priority window of a host where the new restores would make a sleeping VM's restore late.
        var slots: [String: RestoreScheduler.Slot] = [:]
        let sleepersAlone = schedule(sleeping)
        while true {
            slots = schedule(accepted + sleeping)
            // Those that fail on their own first (their restore so early the sleep does not pay), then, with those gone,
            // those the queue makes late: a window that cannot start its restore as placed makes the ones behind it wait,
            // and must not take them down with it.
            let tooShort = accepted.filter { w in
                slots[w.key].map { $0.start - (w.start + w.saveSeconds) < 0 || $0.start + w.restoreSeconds - w.start < w.breakEven } ?? true
            }
            var dropped = tooShort.isEmpty ? accepted.filter { slots[$0.key]?.late == true } : tooShort
            for w in dropped {
                let window = "the \(DurationText.format(Int64(w.hours * 3600))) window from \(UTC.format(w.start))"
                skipped.append(.init(vm: w.vm.name, reason: tooShort.isEmpty
                    ? "\(window) refused: its restore would end after its deadline, queued on \(w.vm.host ?? "?")"
                    : "the restore queue on \(w.vm.host ?? "?") leaves too little time asleep in \(window)"))
            }
            // A sleeper is harmed when it is late and ends later than it would without the new windows (one late
            // already alone, its restore longer than the time left, must not be made later still).
            func harmed(_ w: Window) -> Bool {
                guard let slot = slots[w.key], slot.late, let alone = sleepersAlone[w.key] else { return false }
                return !alone.late || slot.end > alone.end
            }
            if dropped.isEmpty, let sleeper = sleeping.first(where: harmed), let yielding = culprit(sleeper, accepted + sleeping, slots: slots) {
                dropped = [yielding]
                skipped.append(.init(vm: yielding.vm.name, reason: "window from \(UTC.format(yielding.start)) refused: its restore would make the restore of \(sleeper.vm.name), asleep now, late on \(yielding.vm.host ?? "?")"))
            }
            if dropped.isEmpty { break }
            let keys = Set(dropped.map(\.key))
            accepted.removeAll { keys.contains($0.key) }
        }
        var actions: [Plan.Action] = []
        for w in sleeping + accepted {
            actions += self.actions(for: w, slot: slots[w.key]!)
        }
        actions.sort { ($0.at, $0.vm, $0.action.rawValue) < ($1.at, $1.vm, $1.action.rawValue) }
        let plan = Plan(schema: Plan.schema, id: "", createdAt: Instant(input.now), validUntil: Instant(input.now + policy.validFor),
                        inputs: .init(dataWatermark: input.dataWatermark.map(Instant.init), model: input.model,
                                      policySHA256: input.policySHA256, horizonHours: hours,
                                      guardrails: policy.guardrails(counted: input.vms.filter(\.countedByGuardrails).map(\.name).sorted())),
                        actions: actions, skipped: Self.merged(skipped), forecasts: forecasts)
        return plan.sealed()
    }

    // MARK: windows

    struct Refusal: Error { var message: String }

    /// The hours in which `vm` must run whatever the forecast says: keep-awake, freeze and demand events, and a pin.
    func blockedHours(_ vm: PlanningVM) -> [String?] {
        var blocked = [String?](repeating: nil, count: hours)
        for e in input.events where e.category != .holiday && e.applies(to: vm.name, labels: vm.labels) {
            for h in 0..<hours where e.overlaps(from: hour0 + Int64(h) * 3600, to: hour0 + Int64(h + 1) * 3600) {
                blocked[h] = blocked[h] ?? "\(e.category.rawValue) event '\(e.summary)'"
            }
        }
        if let pin = vm.pinnedUntil {
            for h in 0..<hours where hour0 + Int64(h) * 3600 < pin { blocked[h] = blocked[h] ?? (pin == .max ? "pinned awake" : "pinned until \(UTC.format(pin))") }
        }
        return blocked
    }

    /// The tier's quantile per planning hour (NaN where unknown: never idle).
    func tierSeries(_ vm: PlanningVM, quantile: Float) -> (tier: [Float], top: [Float])? {
        guard let f = vm.forecast, let series = f.series(quantile: quantile) else { return nil }
        let offset = Int((hour0 - f.start) / 3600)
        let top = f.values.map { $0.last ?? .nan }
        func at(_ s: [Float], _ h: Int) -> Float { h + offset >= 0 && h + offset < s.count ? s[h + offset] : .nan }
        return ((0..<hours).map { at(series, $0) }, (0..<hours).map { at(top, $0) })
    }

    func windows(_ vm: PlanningVM, settings: Policy.VMSettings, tier: Policy.Tier) -> Result<[Window], Refusal> {
        if let reason = settings.excluded { return .failure(.init(message: "excluded: \(reason)")) }
        guard vm.host != nil else { return .failure(.init(message: "no host known (run torpor-ingest inventory)")) }
        if let reason = unjudged(vm, settings: settings), !settings.idleTimeout { return .failure(.init(message: reason)) }
        if let stale = vm.staleSince {
            return .failure(.init(message: "no measured demand since \(UTC.format(stale)) (no samples, or under half an hour's usual: missing is not idle; "
                                  + "max_data_age \(DurationText.format(policy.maxDataAge)))"))
        }
        if let off = vm.notRunningSince {
            return .failure(.init(message: "not running since \(UTC.format(off)) (the collector sees its domain without CPU counters): nothing to hibernate"))
        }
        if vm.savedWithoutRecord && vm.hibernatedSince == nil {
            return .failure(.init(message: "libvirt holds it saved without torpor's record (as the inventory found it): nothing to hibernate"))
        }
        guard let (q, _) = tierSeries(vm, quantile: tier.quantile) else {
            return .failure(.init(message: vm.forecast == nil ? "no forecast" : "the forecast has no q\(Self.quantileText(tier.quantile)) for tier \(settings.tier)"))
        }
        let blocked = blockedHours(vm)
        func idle(_ h: Int) -> Bool { blocked[h] == nil && !q[h].isNaN && Double(q[h]) < settings.hibernateBelow }
        let calm = sleepGoesOn(vm, settings: settings, q: q, blocked: blocked)
        let save = vm.saveSeconds ?? policy.defaultSaveSeconds, restore = vm.restoreSeconds ?? policy.defaultRestoreSeconds
        let breakEven = Int64((policy.breakEvenFactor * Double(save + restore)).rounded(.up))
        var found: [Window] = [], longestIdle: Int64 = 0, blockers = Set<String>()
        var h = 0
        while h < hours {
            if let b = blocked[h], !q[h].isNaN, Double(q[h]) < settings.hibernateBelow { blockers.insert(b) }
            guard idle(h) else { h += 1; continue }
            var idleEnd = h
            while idleEnd < hours && idle(idleEnd) { idleEnd += 1 }
            var end = idleEnd
            while end < hours && calm(end) { end += 1 }
            let start = max(input.now, hour0 + Int64(h) * 3600)
            let idleSeconds = hour0 + Int64(idleEnd) * 3600 - start
            let deadline = hour0 + Int64(end) * 3600
            longestIdle = max(longestIdle, idleSeconds)
            let limit = limited(start: start, deadline: deadline, end: end, settings: settings)
            guard unjudged(vm, settings: settings) == nil && idleSeconds >= settings.minIdle && limit.deadline - start >= breakEven else {
                h = idleEnd   // a longer idle stretch may follow in the calm hours after this one
                continue
            }
            let (onset, cause) = limit.onset
                ?? onset(vm, at: end, deadline: deadline, blocked: blocked, q: q, settings: settings, tier: tier)
            found.append(Window(vm: vm, settings: settings, tier: tier, start: start, deadline: limit.deadline, firstHour: h,
                                idleEndHour: min(idleEnd, limit.end), endHour: limit.end, saveSeconds: save, restoreSeconds: restore, breakEven: breakEven,
                                stateBytes: vm.stateBytes ?? vm.memoryBytes ?? 0, onset: onset, cause: cause, asleepAlready: false,
                                afterIdle: distrusted(vm) ? settings.minIdle : nil))
            h = end
        }
        if settings.idleTimeout {
            found += idleTimeoutWindows(vm, settings: settings, tier: tier, planned: found, q: q, blocked: blocked, calm: calm,
                                        save: save, restore: restore, breakEven: breakEven)
        }
        if !found.isEmpty { return .success(found) }
        if let reason = unjudged(vm, settings: settings) {
            return .failure(.init(message: reason + "; no stretch the idle timeout could sleep through"))
        }
        let known = q.filter { !$0.isNaN }
        if known.isEmpty { return .failure(.init(message: "no forecast for the next \(hours) h (missing is not idle)")) }
        if longestIdle == 0 {
            if !blockers.isEmpty { return .failure(.init(message: "idle only while it must run: " + blockers.sorted().joined(separator: "; "))) }
            return .failure(.init(message: "busy: q\(Self.quantileText(tier.quantile)) never under \(Self.percent(settings.hibernateBelow)) in the next \(hours) h (lowest \(Self.percent(known.min()!)))"))
        }
        if longestIdle < settings.minIdle {
            return .failure(.init(message: "idle at most \(DurationText.format(longestIdle)), under min_idle \(DurationText.format(settings.minIdle))"
                                  + (blockers.isEmpty ? "" : " (" + blockers.sorted().joined(separator: "; ") + ")")))
        }
        return .failure(.init(message: "no window longer than the break-even \(DurationText.format(breakEven)) (\(policy.breakEvenFactor)× save + restore)"))
    }

    /// The idle timeout's windows (policy `idle_timeout`): each stretch of forecast-calm hours (the tier's quantile under
    /// restore_above), up to the forecast window in it if there is one, longer than the break-even. The VM sleeps there
    /// only once its measured demand has stayed under hibernate_below for min_idle; it is restored by the stretch's end
    /// (by the forecast window's start, where the next plan keeps it asleep into that window).
    func idleTimeoutWindows(_ vm: PlanningVM, settings: Policy.VMSettings, tier: Policy.Tier, planned: [Window], q: [Float], blocked: [String?],
                            calm: (Int) -> Bool, save: Int64, restore: Int64, breakEven: Int64) -> [Window] {
        var found: [Window] = []
        var h = 0
        while h < hours {
            guard calm(h) else { h += 1; continue }
            var stretchEnd = h
            while stretchEnd < hours && calm(stretchEnd) { stretchEnd += 1 }
            let window = planned.first { (h..<stretchEnd).contains($0.firstHour) }
            let end = window?.firstHour ?? stretchEnd
            let start = max(input.now, hour0 + Int64(h) * 3600), deadline = hour0 + Int64(end) * 3600
            let limit = limited(start: start, deadline: deadline, end: end, settings: settings)
            if limit.deadline - start >= breakEven {
                let (onset, cause) = limit.onset
                    ?? window.map { _ in ("the forecast window from \(UTC.format(deadline)) takes over (a newer plan, approved, keeps the VM asleep into it)", "window") }
                    ?? onset(vm, at: end, deadline: deadline, blocked: blocked, q: q, settings: settings, tier: tier)
                found.append(Window(vm: vm, settings: settings, tier: tier, start: start, deadline: limit.deadline, firstHour: h, idleEndHour: h,
                                    endHour: limit.end, saveSeconds: save, restoreSeconds: restore, breakEven: breakEven, stateBytes: vm.stateBytes ?? vm.memoryBytes ?? 0,
                                    onset: onset, cause: cause, asleepAlready: false, afterIdle: idleTimeoutWait(vm, settings: settings)))
            }
            h = stretchEnd
        }
        return found
    }

    /// How long an idle-timeout sleep waits for measured quiet since the VM last woke: `min_idle`, or
    /// `Planner.idleCarriedWait` when its known hours under `hibernate_below` since it was last over it (`PlanningVM.idleHours`,
    /// its sleeps not counted) already make `min_idle`, unless it was woken early within the day (the demand that woke it
    /// is in an hour its history misses).
    func idleTimeoutWait(_ vm: PlanningVM, settings: Policy.VMSettings) -> Int64 {
        !distrusted(vm) && Int64(vm.idleHours) * 3600 >= settings.minIdle ? min(settings.minIdle, Planner.idleCarriedWait) : settings.minIdle
    }

    /// Why the VM's forecast cannot be judged, if it cannot: under the idle timeout, forecast demand did not come less
    /// than `distrustPeriod` ago; the training run marked it not predictable, or it has less known history than
    /// `min_history` (newer than the model). Such a VM sleeps only under the idle timeout.
    func unjudged(_ vm: PlanningVM, settings: Policy.VMSettings) -> String? {
        guard let at = unmetDemand(vm, settings: settings) else { return notPredictable(vm) }
        return "forecast demand did not come (measured demand under \(Self.percent(settings.restoreAbove)) for "
            + "\(DurationText.format(settings.minIdle)) from an hour its forecast called for demand in, until \(UTC.format(at)), and not over it since; "
            + (notPredictable(vm).map { "and " + $0 + ")" } ?? "its forecast is trusted again from \(UTC.format(at + Planner.distrustPeriod)))")
    }

    /// Why the VM's forecast can never be judged, if it cannot: the training run marked it not predictable, or it has
    /// less known history than `min_history`.
    func notPredictable(_ vm: PlanningVM) -> String? {
        if let reason = vm.notPredictable { return "not predictable (training run): \(reason)" }
        if vm.knownHours < policy.minHistoryHours { return "not predictable: \(vm.knownHours) h of known history, \(policy.minHistoryHours) h needed" }
        return nil
    }

    /// Under the idle timeout, why the VM is dormant, if it is: no measured demand over `restore_above` for
    /// `Planner.dormancyHours` of data measured while it ran (`PlanningVM.quietHours`), or `Planner.falseAlarmLimit` of
    /// its forecast's calls for demand since the last it had, on `Planner.falseAlarmDays` whole days without it
    /// (`PlanningVM.falseAlarms`). Its forecast's demand then ends
    /// no sleep: the forecast still says when it is idle, but a VM quiet that long is woken by its demand (a demand
    /// signal), an event or an operator.
    func dormant(_ vm: PlanningVM, settings: Policy.VMSettings) -> String? {
        // Woken before its planned restore (by its demand, say) within the day: the hour it came back in is missing from
        // the history (it slept part of it), so the demand that woke it is not among the known hours; it is not dormant.
        guard settings.idleTimeout, settings.excluded == nil, !distrusted(vm) else { return nil }
        let quantile = policy.tiers[settings.tier]!.quantile, calm = "no measured demand over \(Self.percent(settings.restoreAbove))"
        let why: String
        if vm.quietHours >= Planner.dormancyHours(quantile: quantile) {
            why = "\(calm) in its last \(vm.quietHours) h of data"
        } else if vm.falseAlarms.hours >= Planner.falseAlarmLimit(quantile: quantile) && vm.falseAlarms.days >= Planner.falseAlarmDays {
            why = "\(calm) in \(vm.falseAlarms.hours) h of data its forecast called for it in at q\(Self.quantileText(quantile)), "
                + "on \(vm.falseAlarms.days) whole days without it"
        } else {
            return nil
        }
        return "dormant (\(why)): the forecast's demand ends no sleep until demand returns, a demand signal or an operator wakes it; "
    }

    /// Under the idle timeout, when forecast demand did not come less than `distrustPeriod` ago (`PlanningVM.unmetDemandAt`).
    func unmetDemand(_ vm: PlanningVM, settings: Policy.VMSettings) -> EpochSeconds? {
        settings.idleTimeout && Planner.distrusts(provenWrongAt: vm.unmetDemandAt, now: input.now) ? vm.unmetDemandAt : nil
    }

    /// Whether the VM's forecast was proven wrong lately (a demand signal or an operator woke it before its planned
    /// restore, under `distrustPeriod` ago): its next hibernation then waits for min_idle of measured quiet.
    func distrusted(_ vm: PlanningVM) -> Bool {
        Planner.distrusts(provenWrongAt: vm.wokenEarlyAt, now: input.now)
    }

    /// Whether a sleep may go on through hour `h`: nothing blocks it and the tier's quantile is known and under
    /// restore_above (missing is not idle). Under the idle timeout, where the forecast has nothing to say (a VM without
    /// forecast skill or too new to judge, an hour it does not know) the sleep goes on as the idle timeout's does: it
    /// starts only on measured quiet, and a demand signal or an operator wakes it. A dormant VM's sleep goes on through
    /// every hour nothing blocks: its forecast's demand ends none.
    func sleepGoesOn(_ vm: PlanningVM, settings: Policy.VMSettings, q: [Float], blocked: [String?]) -> (Int) -> Bool {
        let unusedUntil = forecastUnusedUntil(vm, settings: settings), dormant = dormant(vm, settings: settings) != nil
        return { [hour0] h in
            blocked[h] == nil && (dormant || hour0 + Int64(h + 1) * 3600 <= unusedUntil
                                  || (q[h].isNaN ? settings.idleTimeout : Double(q[h]) < settings.restoreAbove))
        }
    }

    /// Until when the VM's forecast is not used under the idle timeout: for good if it cannot be judged (not predictable,
    /// too new), for `distrustPeriod` after forecast demand that did not come; never without the idle timeout.
    func forecastUnusedUntil(_ vm: PlanningVM, settings: Policy.VMSettings) -> EpochSeconds {
        guard settings.idleTimeout else { return .min }
        if notPredictable(vm) != nil { return .max }
        return unmetDemand(vm, settings: settings).map { $0 + Planner.distrustPeriod } ?? .min
    }

    /// A VM asleep now: restored by its demand onset, or by the end of the horizon at the latest; at once when nothing
    /// would start its sleep now (`sleepEndsNow`).
    func wakeUp(_ vm: PlanningVM, settings: Policy.VMSettings, tier: Policy.Tier) -> Window {
        let q = tierSeries(vm, quantile: tier.quantile)?.tier ?? [Float](repeating: .nan, count: hours)
        let blocked = blockedHours(vm)
        let goesOn = sleepGoesOn(vm, settings: settings, q: q, blocked: blocked)
        let endsNow = sleepEndsNow(vm, settings: settings)
        var end = 0
        while endsNow == nil && end < hours && goesOn(end) { end += 1 }
        let start = vm.hibernatedSince ?? input.now
        let restoreSeconds = vm.restoreSeconds ?? policy.defaultRestoreSeconds
        // Restored at once: by when the executor's next pass can have it back (a deadline it can meet, not a violation).
        let soonest = input.now + restoreSeconds + policy.executeEvery
        let limit = limited(start: start, deadline: endsNow != nil ? soonest : max(input.now, hour0 + Int64(end) * 3600), end: end, settings: settings, soonest: soonest)
        let (onset, cause) = endsNow ?? limit.onset
            ?? onset(vm, at: end, deadline: limit.deadline, blocked: blocked, q: q, settings: settings, tier: tier)
        let unused = settings.idleTimeout && endsNow == nil ? unjudged(vm, settings: settings).map { $0 + ": its forecast is not used, a demand signal or an operator wakes it; " } ?? dormant(vm, settings: settings) : nil
        return Window(vm: vm, settings: settings, tier: tier, start: start, deadline: limit.deadline, firstHour: 0,
                      idleEndHour: 0, endHour: limit.end, saveSeconds: 0, restoreSeconds: restoreSeconds,
                      stateBytes: vm.stateBytes ?? vm.memoryBytes ?? 0, onset: "asleep; " + (unused ?? "") + onset, cause: cause, asleepAlready: true)
    }

    /// Why a VM asleep now is restored at once whatever its forecast says, in words and as the restore's deadline
    /// cause: excluded by the policy since it fell asleep, or (without the idle timeout, which sleeps on measured
    /// quiet) its forecast no longer judged fit to plan on (a training run marked it not predictable): a forecast
    /// that starts no sleep keeps none going (missing is not idle).
    func sleepEndsNow(_ vm: PlanningVM, settings: Policy.VMSettings) -> (String, String)? {
        if let reason = settings.excluded { return ("excluded (\(reason)): restored now", "excluded") }
        if !settings.idleTimeout, let reason = notPredictable(vm) {
            return ("\(reason): its forecast no longer keeps it asleep (missing is not idle)", "missing")
        }
        return nil
    }

    /// A sleep from `start` until `deadline` (through hour `end`) held to the VM's `max_sleep`: the deadline and end hour
    /// it keeps, and why it ends, in words and as the restore's deadline cause, when the limit comes first. A limit
    /// already past is met `soonest` (a VM asleep: by when the executor's next pass can have it back), else now.
    func limited(start: EpochSeconds, deadline: EpochSeconds, end: Int, settings: Policy.VMSettings, soonest: EpochSeconds? = nil)
        -> (deadline: EpochSeconds, end: Int, onset: (String, String)?) {
        guard let limit = settings.maxSleep, start + limit < deadline else { return (deadline, end, nil) }
        let capped = max(soonest ?? input.now, start + limit)
        return (capped, min(end, max(0, Int((capped - hour0 + 3599) / 3600))),
                ("max_sleep \(DurationText.format(limit)) reached at \(UTC.format(capped)) (asleep from \(UTC.format(start)))", "max-sleep"))
    }

    /// Why `vm`'s sleep ends at hour `end`, in words and as the restore's deadline cause.
    func onset(_ vm: PlanningVM, at end: Int, deadline: EpochSeconds, blocked: [String?], q: [Float], settings: Policy.VMSettings,
               tier: Policy.Tier) -> (String, String) {
        if end == hours && dormant(vm, settings: settings) != nil {
            return ("restore at the horizon's end unless a newer approved plan carries it forward (dormant: its forecast's demand ends no sleep)", "dormant")
        }
        if end == hours {
            return ("q\(Self.quantileText(tier.quantile)) never over \(Self.percent(settings.restoreAbove)) within the horizon: restore at its end unless a newer "
                    + "approved plan carries it forward", "horizon-end")
        }
        if let b = blocked[end] { return ("the VM must run from \(UTC.format(deadline)): \(b)", "event") }
        if q[end].isNaN { return ("the forecast is unknown from \(UTC.format(deadline)) (missing is not idle)", "missing") }
        return ("demand returns at \(UTC.format(deadline)): q\(Self.quantileText(tier.quantile)) \(Self.percent(q[end])) ≥ \(Self.percent(settings.restoreAbove))", "demand")
    }

    // MARK: guardrails and capacity

    /// Admits candidate windows, the longest savings first, while every hour keeps the guardrails (share of a group and
    /// of a host asleep, VMs running per group) and each host's state pool, memory and vCPUs hold. VMs asleep now count
    /// first. The guardrails' shares count the VMs known to run (data fresh, not seen shut off) or asleep: a VM without
    /// fresh data (shut off, gone, or its collector stopped) or seen not running is no VM running (a group or host of one VM in all is exempt, as before).
    /// Memory and vCPUs count every VM placed on the host: one without data may run all the same. Where a host has a
    /// limit and a size it counts is unknown (a VM's memory or vCPUs, a sleep's saved state), no new sleep on it is
    /// admitted: an unknown size is no size of zero (a VM without a host, of a trace, is on no host to count).
    func admit(_ candidates: [Window], sleeping: [Window], skipped: inout [Plan.Skip]) -> [Window] {
        let groupOf: (PlanningVM) -> String? = { [policy] vm in vm.labels[policy.groupLabel] }
        var groupSize: [String: Int] = [:], hostSize: [String: Int] = [:], groupAll: [String: Int] = [:], hostAll: [String: Int] = [:]
        var hostMemory: [String: Int64] = [:], hostVCPUs: [String: Int64] = [:]
        // The VMs of each host whose memory, vCPUs or (asleep) saved state's size is not known.
        var memoryUnknown: [String: [String]] = [:], vcpusUnknown: [String: [String]] = [:], stateUnknown: [String: [String]] = [:]
        let stateKnown = { (vm: PlanningVM) in vm.stateBytes != nil || vm.memoryBytes != nil }
        for vm in input.vms {
            let counted = vm.countedByGuardrails
            if let g = groupOf(vm) {
                groupAll[g, default: 0] += 1
                if counted { groupSize[g, default: 0] += 1 }
            }
            if let h = vm.host {
                hostAll[h, default: 0] += 1
                if counted { hostSize[h, default: 0] += 1 }
                hostMemory[h, default: 0] += vm.memoryBytes ?? 0
                hostVCPUs[h, default: 0] += Int64(vm.vcpus ?? 0)
                if vm.memoryBytes == nil { memoryUnknown[h, default: []].append(vm.name) }
                if vm.vcpus == nil { vcpusUnknown[h, default: []].append(vm.name) }
            }
        }
        var groupAsleep: [String: [Int]] = [:], hostAsleep: [String: [Int]] = [:]
        // Per hour, and one more for the horizon's end, when every restore of the plan is done.
        var poolUsed: [String: [Int64]] = [:], memoryAsleep: [String: [Int64]] = [:], vcpusAsleep: [String: [Int64]] = [:]
        func add(_ w: Window) {
            let hostKey = w.vm.host ?? "?"
            if w.vm.host != nil && !stateKnown(w.vm) { stateUnknown[hostKey, default: []].append(w.vm.name) }
            for h in w.firstHour..<max(w.firstHour, w.endHour) {
                if let g = groupOf(w.vm) { groupAsleep[g, default: [Int](repeating: 0, count: hours)][h] += 1 }
                hostAsleep[hostKey, default: [Int](repeating: 0, count: hours)][h] += 1
                poolUsed[hostKey, default: [Int64](repeating: 0, count: hours)][h] += w.stateBytes
                memoryAsleep[hostKey, default: [Int64](repeating: 0, count: hours + 1)][h] += w.vm.memoryBytes ?? 0
                vcpusAsleep[hostKey, default: [Int64](repeating: 0, count: hours + 1)][h] += Int64(w.vm.vcpus ?? 0)
            }
        }
        sleeping.forEach(add)
        // Saved without torpor's record: asleep in its group and on its host for as long as torpor can see (no window:
        // no restore of torpor's is owed it).
        func asleepThroughout(_ counts: inout [String: [Int]], _ key: String) {
            counts[key] = (counts[key] ?? [Int](repeating: 0, count: hours)).map { $0 + 1 }
        }
        for vm in input.vms where vm.savedWithoutRecord && vm.hibernatedSince == nil {
            if let g = groupOf(vm) { asleepThroughout(&groupAsleep, g) }
            if let h = vm.host { asleepThroughout(&hostAsleep, h) }
        }
        let rails = policy.guardrails()
        var accepted: [Window] = []
        let order = candidates.sorted { a, b in
            a.idleTimeout != b.idleTimeout ? !a.idleTimeout :   // forecast windows first
            a.hours * Double(a.vm.vcpus ?? 1) != b.hours * Double(b.vm.vcpus ?? 1)
                ? a.hours * Double(a.vm.vcpus ?? 1) > b.hours * Double(b.vm.vcpus ?? 1) : (a.vm.name, a.start) < (b.vm.name, b.start)
        }
        for w in order {
            let hostKey = w.vm.host ?? "?"
            let hostPolicy = policy.host(hostKey)
            let span = w.firstHour..<max(w.firstHour, w.endHour)
            var refusal: String?
            if let g = groupOf(w.vm), let size = groupSize[g], groupAll[g, default: 0] > 1 {
                let allowed = rails.groupAllows(size: size)
                if let h = span.first(where: { (groupAsleep[g]?[$0] ?? 0) + 1 > allowed }) {
                    refusal = "guardrail: group \(policy.groupLabel)=\(g) may have \(max(0, allowed)) of \(size) asleep at once (share \(policy.maxHibernatedShare), min_running \(policy.minRunning)); full at \(UTC.format(hour0 + Int64(h) * 3600))"
                }
            }
            if refusal == nil, let size = hostSize[hostKey] {
                let allowed = rails.hostAllows(size: size)
                if hostAll[hostKey, default: 0] > 1, let h = span.first(where: { (hostAsleep[hostKey]?[$0] ?? 0) + 1 > allowed }) {
                    refusal = "guardrail: host \(hostKey) may have \(allowed) of \(size) VMs asleep at once; full at \(UTC.format(hour0 + Int64(h) * 3600))"
                }
            }
            func unknown(_ names: [String], _ what: String) -> String {
                "\(what) of \(names.count == 1 ? "" : "\(names.count) VMs: ")\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", …" : "") unknown"
            }
            let unsized = (stateUnknown[hostKey] ?? []) + (w.vm.host == nil || stateKnown(w.vm) ? [] : [w.vm.name])
            if refusal == nil, let capacity = hostPolicy.statePoolBytes, !unsized.isEmpty {
                refusal = "state pool of \(hostKey) (\(ByteSize.format(capacity))): \(unknown(unsized, "the saved state's size")): its use cannot be checked"
            }
            if refusal == nil, let capacity = hostPolicy.statePoolBytes,
               let h = span.first(where: { (poolUsed[hostKey]?[$0] ?? 0) + w.stateBytes > capacity }) {
                refusal = "state pool of \(hostKey) full at \(UTC.format(hour0 + Int64(h) * 3600)): \(ByteSize.format(w.stateBytes)) needed, \(ByteSize.format(capacity - (poolUsed[hostKey]?[h] ?? 0))) of \(ByteSize.format(capacity)) free"
            }
            // From the restore on (at the horizon's end too), the VM needs its memory and vCPUs back: the host must hold
            // every VM not asleep then.
            let resources: [(name: String, capacity: Int64?, total: [String: Int64], asleep: [String: [Int64]], unknown: [String: [String]], text: (Int64) -> String)] = [
                ("memory", hostPolicy.memoryBytes, hostMemory, memoryAsleep, memoryUnknown, ByteSize.format),
                ("vCPUs", hostPolicy.vcpus.map(Int64.init), hostVCPUs, vcpusAsleep, vcpusUnknown, { "\($0)" }),
            ]
            for r in resources where refusal == nil {
                guard let capacity = r.capacity else { continue }
                if let names = r.unknown[hostKey] {
                    refusal = "host \(hostKey) \(r.name) (\(r.text(capacity))): \(unknown(names, r.name)): the restore could not be guaranteed"
                    continue
                }
                let runningThen = (r.total[hostKey] ?? 0) - (r.asleep[hostKey]?[w.endHour] ?? 0)
                if runningThen > capacity {
                    refusal = "host \(hostKey) \(r.name): at the restore (\(UTC.format(w.deadline))) its VMs need \(r.text(runningThen)), more than its \(r.text(capacity)): the restore could not be guaranteed"
                }
            }
            if let refusal {
                skipped.append(.init(vm: w.vm.name, reason: "window from \(UTC.format(w.start)) refused: " + refusal))
            } else {
                accepted.append(w)
                add(w)
            }
        }
        return accepted
    }

    /// The new window to refuse for a sleeper its host's new restores make late: the least-priority (then shortest) of
    /// those whose restore alone delays it (without it, it ends sooner), else of every new window on the host (it is
    /// late through several together).
    func culprit(_ sleeper: Window, _ windows: [Window], slots: [String: RestoreScheduler.Slot]) -> Window? {
        let host = windows.filter { $0.vm.host == sleeper.vm.host }
        let new = host.filter { !$0.asleepAlready }
        let ends = slots[sleeper.key]?.end ?? .max
        let alone = new.filter { w in (schedule(host.filter { $0.key != w.key })[sleeper.key]?.end ?? .max) < ends }
        return (alone.isEmpty ? new : alone).max { ($0.tier.priority, -$0.hours) < ($1.tier.priority, -$1.hours) }
    }

    func schedule(_ windows: [Window]) -> [String: RestoreScheduler.Slot] {
        var result: [String: RestoreScheduler.Slot] = [:]
        for (host, group) in Dictionary(grouping: windows, by: { $0.vm.host ?? "?" }) {
            let requests = group.map { w in
                // Planned one executor interval early: the pass that starts it may come that much after its slot.
                RestoreScheduler.Request(id: w.key, deadline: w.deadline - policy.executeEvery, seconds: w.restoreSeconds, priority: w.tier.priority,
                                         earliest: w.asleepAlready ? input.now : w.start + w.saveSeconds)
            }
            result.merge(RestoreScheduler.schedule(requests, concurrent: policy.host(host).concurrentRestores)) { a, _ in a }
        }
        return result
    }

    // MARK: actions

    func actions(for w: Window, slot: RestoreScheduler.Slot) -> [Plan.Action] {
        let vm = w.vm, host = vm.host ?? "?"
        let series = tierSeries(vm, quantile: w.tier.quantile)
        let span = w.firstHour..<max(w.firstHour, w.endHour)
        let peak = span.compactMap { h in series.flatMap { $0.tier[h].isNaN ? nil : Double($0.tier[h]) } }.max() ?? .nan
        let worst = span.compactMap { h in series.flatMap { $0.top[h].isNaN ? nil : Double($0.top[h]) } }.max() ?? .nan
        // A VM whose forecast cannot be judged, or asleep through hours its forecast does not know, may see demand at any time.
        let unknown = span.contains { h in series.map { $0.tier[h].isNaN } ?? true }
        let risk = slot.late || unjudged(vm, settings: w.settings) != nil || unknown || thinHistory(vm) != nil ? "high"
            : worst >= w.settings.restoreAbove ? "high" : worst >= w.settings.hibernateBelow ? "medium" : "low"
        // Under the idle timeout the sleep waits for min_idle of measured quiet: counted from min_idle into the window
        // (an underestimate when the VM was quiet already).
        let saved = max(0, Double(slot.start - (w.asleepAlready ? input.now : w.start + w.saveSeconds + (w.afterIdle ?? 0))) / 3600)
        let quantile = Self.quantileValue(w.tier.quantile)
        let restoreID = Plan.Action.makeID(vm: vm.name, kind: .restore, at: slot.start)
        let hibernateID = Plan.Action.makeID(vm: vm.name, kind: .hibernate, at: w.start)
        var queue = slot.queueingDelay > 0 ? "; starts \(DurationText.format(slot.queueingDelay)) earlier for the restore queue" : ""
        if slot.late { queue += "; the restore queue may finish it after its deadline" }
        let restore = Plan.Action(
            id: restoreID, vm: vm.name, host: host, action: .restore, at: Instant(slot.start), deadline: Instant(w.deadline),
            tier: w.settings.tier, priority: w.tier.priority, pairedWith: w.asleepAlready ? nil : hibernateID, deadlineCause: w.cause,
            rationale: .init(quantile: quantile, forecastPeak: Self.rounded(peak), worstCase: Self.rounded(worst),
                             hibernateBelow: w.settings.hibernateBelow, restoreAbove: w.settings.restoreAbove,
                             expectedVMHoursSaved: Self.rounded(saved), risk: risk, forecastSource: vm.forecast?.source ?? "none",
                             text: w.onset + "; p95 restore \(DurationText.format(w.restoreSeconds)) + execute_every \(DurationText.format(policy.executeEvery))" + queue),
            reservations: .init(statePoolBytes: nil, memoryBytes: vm.memoryBytes, vcpus: vm.vcpus),
            hostConcurrentRestores: policy.host(host).concurrentRestores)
        guard !w.asleepAlready else { return [restore] }
        let hibernate = Plan.Action(
            id: hibernateID, vm: vm.name, host: host, action: .hibernate, at: Instant(w.start), deadline: nil,
            tier: w.settings.tier, priority: w.tier.priority, pairedWith: restoreID, deadlineCause: nil,
            rationale: .init(quantile: quantile, forecastPeak: Self.rounded(peak), worstCase: Self.rounded(worst),
                             hibernateBelow: w.settings.hibernateBelow, restoreAbove: w.settings.restoreAbove,
                             expectedVMHoursSaved: Self.rounded(saved), risk: risk, forecastSource: vm.forecast?.source ?? "none",
                             text: sleepText(w, series: series?.tier ?? [], worst: worst)),
            reservations: .init(statePoolBytes: w.stateBytes, memoryBytes: nil, vcpus: nil), afterIdleSeconds: w.afterIdle,
            afterIdleOnceBusySeconds: w.carriedWait ? w.settings.minIdle : nil, breakEvenSeconds: w.breakEven)
        return [hibernate, restore]
    }

    /// Known history under which a VM's sleeps are high risk whatever its forecast: under two weeks, no hour of its
    /// week has been seen twice, and the forecast's quantiles may rest on one value each (q0.1 = q0.99: a VM idle while
    /// it was set up looks idle for sure the week it goes live).
    static let thinHistoryHours = 14 * 24

    /// Why `vm`'s history is too thin for a sleep to be anything but high risk (`thinHistoryHours`): seen for under two
    /// weeks (not: asleep much of them, which leaves few known hours to a VM seen for weeks); nil when it is not.
    func thinHistory(_ vm: PlanningVM) -> String? {
        let seen = vm.historyHours ?? vm.knownHours
        return seen < Self.thinHistoryHours
            ? "seen for \(seen) h, under two weeks (no hour of its week seen twice): high risk; " : nil
    }

    /// "q0.9 under 5.0 % for 6h from 01:00 (peak 1.2 %), then under 15.0 % for 2h (peak 9.0 %); top quantile peaks at … (against the
    /// thresholds); <onset>"
    func sleepText(_ w: Window, series: [Float], worst: Double) -> String {
        func known(_ h: Int) -> Bool { series.indices.contains(h) && !series[h].isNaN }
        func peak(_ r: Range<Int>) -> String { Self.percent(r.compactMap { known($0) ? Double(series[$0]) : nil }.max() ?? .nan) }
        let unknownHours = (w.firstHour..<max(w.firstHour, w.endHour)).filter { !known($0) }.count
        let unjudged = unjudged(w.vm, settings: w.settings)
        let onset = (unknownHours == 0 || unjudged != nil ? "" : "the forecast does not know \(unknownHours) h of it "
            + "(missing is not idle: asleep there only as the idle timeout is, woken by a demand signal or an operator); ")
            + (unjudged == nil ? dormant(w.vm, settings: w.settings) ?? "" : "") + (thinHistory(w.vm) ?? "") + w.onset
        let idleSeconds = hour0 + Int64(w.idleEndHour) * 3600 - w.start
        let carried = w.carriedWait
            ? " since it last woke (\(w.vm.idleHours) h of its data under it since it was last over it, its sleeps not counted, make min_idle "
                + "\(DurationText.format(w.settings.minIdle)); once over it again before it sleeps, for \(DurationText.format(w.settings.minIdle)))" : ""
        let wait = w.afterIdle.map { "once measured demand has stayed under \(Self.percent(w.settings.hibernateBelow)) for \(DurationText.format($0))" + carried }
        if let wait, w.idleTimeout {
            let timeout = "idle timeout: " + wait + "; "
            if let unjudged {
                return timeout + unjudged + ": its forecast is not used, a demand signal (torpor-execute --wake-on) or an operator wakes it; \(onset)"
            }
            let calm = dormant(w.vm, settings: w.settings) == nil ? "under \(Self.percent(w.settings.restoreAbove)) " : ""
            return timeout + "q\(Self.quantileText(w.tier.quantile)) \(calm)from \(UTC.format(w.start)) for \(DurationText.format(w.deadline - w.start)) (peak \(peak(w.firstHour..<w.endHour)))"
                + "; \(worstText(worst, settings: w.settings)); \(onset)"
        }
        let distrust = distrusted(w.vm) ? "woken before its planned restore, running since \(UTC.format(w.vm.wokenEarlyAt!)) (its forecast was wrong then): " : ""
        var text = distrust + (wait.map { "only " + $0 + " since; " } ?? "")
            + "q\(Self.quantileText(w.tier.quantile)) under \(Self.percent(w.settings.hibernateBelow)) for \(DurationText.format(idleSeconds)) from \(UTC.format(w.start)) (peak \(peak(w.firstHour..<w.idleEndHour)))"
        if w.endHour > w.idleEndHour {
            let calm = dormant(w.vm, settings: w.settings) == nil ? "under \(Self.percent(w.settings.restoreAbove)) " : "asleep through its forecast's demand (dormant) "
            text += ", then \(calm)for \(DurationText.format(Int64(w.endHour - w.idleEndHour) * 3600)) (peak \(peak(w.idleEndHour..<w.endHour)))"
        }
        return text + "; \(worstText(worst, settings: w.settings)); \(onset)"
    }

    /// The top quantile's peak over a sleep against the thresholds: what its risk (low, medium, high) is read from.
    func worstText(_ worst: Double, settings: Policy.VMSettings) -> String {
        let against = !worst.isFinite ? "" : worst >= settings.restoreAbove ? " (over restore_above \(Self.percent(settings.restoreAbove)): demand may come while it sleeps)"
            : worst >= settings.hibernateBelow ? " (over hibernate_below \(Self.percent(settings.hibernateBelow)), under restore_above)"
            : " (under hibernate_below \(Self.percent(settings.hibernateBelow)))"
        return "top quantile peaks at \(Self.percent(worst))" + against
    }

    static func quantileValue(_ q: Float) -> Double { (Double(q) * 10_000).rounded() / 10_000 }
    static func quantileText(_ q: Float) -> String { "\(quantileValue(q))" }

    static func rounded(_ v: Double) -> Double { v.isFinite ? (v * 100).rounded() / 100 : -1 }
    static func rounded(_ v: Float) -> Double? { v.isFinite ? (Double(v) * 100).rounded() / 100 : nil }
    static func percent(_ v: Double) -> String { v.isFinite ? String(format: "%.1f %%", v) : "unknown" }
    static func percent(_ v: Float) -> String { percent(Double(v)) }

    /// One line per VM: a VM refused several windows lists each reason once.
    static func merged(_ skips: [Plan.Skip]) -> [Plan.Skip] {
        var reasons: [String: [String]] = [:]
        for s in skips where !(reasons[s.vm]?.contains(s.reason) ?? false) { reasons[s.vm, default: []].append(s.reason) }
        return reasons.keys.sorted().map { Plan.Skip(vm: $0, reason: reasons[$0]!.joined(separator: "; ")) }
    }
}

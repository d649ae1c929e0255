import Foundation
import TorporCore
import TorporHash

/// A UTC time written as ISO-8601 text in plan files (`2013-09-30T01:00:00Z`), so a person can read them.
public struct Instant: Codable, Comparable, Hashable, Sendable {
    public var seconds: EpochSeconds
    public init(_ seconds: EpochSeconds) { self.seconds = seconds }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let t = UTC.parseISO8601(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO-8601 time"))
        }
        seconds = t
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(UTC.format(seconds))
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.seconds < b.seconds }
    public var text: String { UTC.format(seconds) }
}

/// A hibernation schedule for review (`torpor-plan show`), approval and execution. The file is JSON with sorted keys;
/// its layout is `schema` = `torpor-plan/1`, documented in `docs/plan-format.md`. `id` is the SHA-256 of the plan with
/// an empty id, so the same inputs and `--now` always give the same id and the same bytes.
public struct Plan: Codable, Equatable, Sendable {
    public static let schema = "torpor-plan/1"

    /// What the plan was made from: a different input gives a different plan id.
    public struct Inputs: Codable, Equatable, Sendable {
        /// The newest hour of demand data any VM has.
        public var dataWatermark: Instant?
        /// The promoted model's run (`model #N`), or the baseline that stood in for it.
        public var model: String
        public var policySHA256: String
        public var horizonHours: Int
        /// The fleet guardrails the plan's windows were admitted under, which the executor checks again at each
        /// hibernation's pre-flight. nil in plans made before they were recorded.
        public var guardrails: Guardrails? = nil
    }

    /// The policy's fleet guardrails (`group_label`, `guardrails`): how many VMs of a group, and of a host, may sleep at
    /// once, out of those known to run or asleep.
    public struct Guardrails: Codable, Equatable, Sendable {
        /// The label whose values form the groups.
        public var groupLabel: String
        /// At most this share of a group, and of a host's VMs, asleep at once.
        public var maxHibernatedShare: Double
        /// At least this many VMs of each group running.
        public var minRunning: Int
        /// The VMs the plan counted as running or asleep (fresh data, not seen shut off; or asleep), by name: where the
        /// executor does not ask libvirt (a host another executor covers), these run and every other VM does not.
        public var counted: [String]? = nil

        public init(groupLabel: String, maxHibernatedShare: Double, minRunning: Int, counted: [String]? = nil) {
            self.groupLabel = groupLabel; self.maxHibernatedShare = maxHibernatedShare; self.minRunning = minRunning; self.counted = counted
        }

        /// How many of a group's `size` VMs (known to run or asleep) may sleep at once.
        public func groupAllows(size: Int) -> Int { min(hostAllows(size: size), size - minRunning) }
        /// How many of a host's `size` VMs (known to run or asleep) may sleep at once.
        public func hostAllows(size: Int) -> Int { Int((maxHibernatedShare * Double(size)).rounded(.down)) }
    }

    public enum Kind: String, Codable, Sendable { case hibernate, restore }

    /// Why an action is in the plan.
    public struct Rationale: Codable, Equatable, Sendable {
        /// The forecast quantile the VM's tier decides by.
        public var quantile: Double
        /// The highest forecast of that quantile over the window (percent).
        public var forecastPeak: Double
        /// The highest forecast of the top quantile over the window: what could happen in a bad hour.
        public var worstCase: Double
        public var hibernateBelow: Double
        public var restoreAbove: Double
        /// Hours asleep, net of the save and restore times.
        public var expectedVMHoursSaved: Double
        /// low: even the top quantile stays under hibernate_below; medium: it crosses hibernate_below;
        /// high: it crosses restore_above somewhere in the window.
        public var risk: String
        public var forecastSource: String
        public var text: String

        /// `risk` in order: low 0, medium 1, high 2 (anything else counts as high).
        public var riskRank: Int { ["low": 0, "medium": 1][risk] ?? 2 }

        /// Whether the forecast came at least halfway to its thresholds since `earlier` (the same sleep in an older
        /// plan), within one risk level: the deciding quantile's peak used over half its margin under hibernate_below,
        /// or the top quantile's over half its margin under restore_above (any rise, once over it). A standing
        /// approval does not carry such a sleep, and `diff` says it.
        public func closerToThresholds(than earlier: Rationale) -> Bool {
            func halfUsed(_ was: Double, _ now: Double, _ limit: Double) -> Bool { now - was > max(0, limit - was) / 2 }
            return halfUsed(earlier.forecastPeak, forecastPeak, hibernateBelow) || halfUsed(earlier.worstCase, worstCase, restoreAbove)
        }

        /// Whether the same sleep's forecast rose since `earlier` enough for a person to look again: a higher risk, or
        /// halfway to its thresholds (`closerToThresholds`). What `diff` marks `!`, and no standing approval carries.
        public func rose(since earlier: Rationale) -> Bool { riskRank > earlier.riskRank || closerToThresholds(than: earlier) }
    }

    /// What an action holds while it lasts: state-pool bytes while asleep, host memory and vCPUs from the restore on.
    public struct Reservations: Codable, Equatable, Sendable {
        public var statePoolBytes: Int64?
        public var memoryBytes: Int64?
        public var vcpus: Int?
    }

    public struct Action: Codable, Equatable, Sendable {
        /// `VM/kind/at`, unique in the plan.
        public var id: String
        public var vm: String
        public var host: String
        public var action: Kind
        /// When to start.
        public var at: Instant
        /// A restore's deadline: the forecast demand onset, when the VM must run again.
        public var deadline: Instant?
        public var tier: String
        /// The tier's restore priority: 1 restores first when restores queue.
        public var priority: Int
        /// The restore of a hibernation, the hibernation of a restore (nil: the VM was already asleep).
        public var pairedWith: String?
        /// What sets a restore's deadline: `demand` (the forecast crosses restore_above), `event` (a keep-awake, freeze
        /// or demand event, or a pin), `missing` (the forecast is unknown from then: missing is not idle), or
        /// `horizon-end` (no onset within the horizon; the next plan carries the VM forward), or `window` (an idle-timeout
        /// sleep ends where the forecast's own window begins; a newer plan, approved, keeps the VM asleep into it), or `max-sleep`
        /// (the policy's `max_sleep` since the VM went to sleep), or `dormant` (at the horizon's end as `horizon-end`, for a
        /// VM under the idle timeout slept through its forecast's demand: no measured demand for long; its own signature,
        /// so that a standing approval does not carry the first such sleep), or `excluded` (the policy excludes a VM
        /// asleep: restored at once).
        public var deadlineCause: String?
        public var rationale: Rationale
        public var reservations: Reservations
        /// A hibernation under the idle timeout (policy `idle_timeout`), or of a VM woken early: it happens only once the
        /// VM's measured demand has stayed under `hibernate_below` for this many seconds, at any time from `at` until its
        /// restore is due.
        public var afterIdleSeconds: Int64?
        /// Set when `afterIdleSeconds` is the carried wait (`Planner.idleCarriedWait`: the VM's measured quiet before
        /// the plan's hour already made `min_idle`, `PlanningVM.idleHours`): the wait instead (`min_idle`) once a
        /// stored sample since `busyCheckStart` reached `hibernate_below`, which ends the quiet the plan counted on
        /// (`idleWait`). A plan is valid for hours; the executor checks this at each pass.
        public var afterIdleOnceBusySeconds: Int64? = nil
        /// A hibernation's break-even (`break_even_factor` × (save + restore)): the least time from its start to its
        /// restore's deadline that pays for both. The executor starts it no later than that before the deadline (an
        /// idle-timeout sleep may start any time in its window). nil in plans made before it was recorded.
        public var breakEvenSeconds: Int64? = nil
        /// A restore's host's `concurrent_restores`, under which the plan queued it: the executor runs that many of the
        /// host's restores at once, else they start later than the plan's queue says. nil in plans made before it was recorded.
        public var hostConcurrentRestores: Int? = nil

        /// How long the VM's measured demand must stay under `hibernate_below` before this hibernation, given whether a
        /// stored sample reached it since `busyCheckStart`: `afterIdleSeconds`, or `afterIdleOnceBusySeconds` once
        /// the VM was busy again. nil: not a hibernation that waits for measured quiet.
        public func idleWait(busy: Bool) -> Int64? {
            busy ? afterIdleOnceBusySeconds ?? afterIdleSeconds : afterIdleSeconds
        }

        /// From when a stored sample at or over `hibernate_below` ends a carried wait: the hour before the plan's
        /// (`planHour`; a sample stored after the plan read that hour is not in its history, which holds each hour's
        /// highest sample), or the VM's last wake (`wokeAt`), when that is earlier and less than `min_idle` before the
        /// plan's hour (the hour it woke in is missing from that history unless it woke on the hour; when the whole hours known after it already
        /// make `min_idle`, they left that much quiet since, whatever the wake's hour held).
        public func busyCheckStart(planHour: EpochSeconds, wokeAt: EpochSeconds?) -> EpochSeconds {
            guard let wokeAt, wokeAt < planHour - 3600, planHour - (UTC.floor(wokeAt) + 3600) < afterIdleOnceBusySeconds ?? 0 else { return planHour - 3600 }
            return wokeAt
        }

        /// Why this hibernation is not worth starting at `time` before `restore`, its pair (the executor's pre-flight, and
        /// the backtest's replay of it), nil when it is: its restore has started, or what is left of the sleep before
        /// the restore's deadline no longer pays for the save and the restore (`breakEvenSeconds`; started late in its
        /// window, a save of minutes would hold the VM past its deadline).
        public func notWorthStarting(at time: EpochSeconds, restore: Action) -> String? {
            guard restore.at.seconds > time else { return "its restore is already due: not worth sleeping" }
            let deadline = restore.deadline ?? restore.at
            if let breakEven = breakEvenSeconds, deadline.seconds - time < breakEven {
                return "its restore's deadline \(deadline.text) is less than the break-even \(DurationText.format(breakEven)) away: not worth sleeping"
            }
            return nil
        }

        /// The action as a person reads it: `hibernate`, `restore`, or `hibernate after 4h idle` (idle timeout).
        public var what: String { afterIdleSeconds.map { "hibernate after \(DurationText.format($0)) idle" } ?? action.rawValue }

        public static func makeID(vm: String, kind: Kind, at: EpochSeconds) -> String { "\(vm)/\(kind.rawValue)/\(UTC.format(at))" }

        /// Whether `id` is one `makeID` gives an action of `kind` (`VM/KIND/TIME`; a libvirt name has no `/`).
        public static func id(_ id: String, isOf kind: Kind) -> Bool {
            let parts = id.split(separator: "/")
            return parts.count >= 3 && parts[parts.count - 2] == kind.rawValue
        }

        /// What must stay the same for a standing approval to carry over: VM, host and kind; a hibernation's start (under
        /// the idle timeout: its idle time; a start no earlier is checked apart, since each hourly plan moves it); a
        /// restore's deadline (its start moves with the restore queue and measured restore times), and a restore at the
        /// end of the horizon (which moves with every plan) is the same while it stays at the end.
        public var signature: String {
            switch (action, deadlineCause) {
            case (.restore, "horizon-end"), (.restore, "dormant"): "\(vm)|\(host)|restore|\(deadlineCause!)"
            case (.restore, _): "\(vm)|\(host)|restore|\(deadline?.seconds ?? -1)"
            case (.hibernate, _): afterIdleSeconds.map { "\(vm)|\(host)|hibernate-after-idle|\($0)" + (afterIdleOnceBusySeconds.map { "|once-busy|\($0)" } ?? "") }
                ?? "\(vm)|\(host)|hibernate|\(at.seconds)"
            }
        }
    }

    /// A VM the plan leaves running, and why; or, for a VM the plan acts on, a window of it the plan did not take.
    public struct Skip: Codable, Equatable, Sendable {
        public var vm: String
        public var reason: String

        public init(vm: String, reason: String) { self.vm = vm; self.reason = reason }
    }

    /// The forecast a VM was planned on (per hour from `start`, per quantile), kept for review and charts.
    public struct VMForecast: Codable, Equatable, Sendable {
        public var vm: String
        public var start: Instant
        public var quantiles: [Double]
        /// null where nothing is known (never read as idle).
        public var values: [[Double?]]
        public var tier: String
        /// The quantile the tier decides by.
        public var tierQuantile: Double
        public var hibernateBelow: Double
        public var restoreAbove: Double
        public var source: String
    }

    public var schema: String
    public var id: String
    public var createdAt: Instant
    public var validUntil: Instant
    public var inputs: Inputs
    /// By time, then VM.
    public var actions: [Action]
    public var skipped: [Skip]
    /// The VMs the plan leaves running (it has no action for them), and why.
    public var leftRunning: [Skip] { skipped.filter { s in !actions.contains { $0.vm == s.vm } } }
    /// Why windows of VMs the plan acts on were not taken (a second window of a VM it hibernates, refused).
    public var windowsNotTaken: [Skip] { skipped.filter { s in actions.contains { $0.vm == s.vm } } }
    /// By VM name.
    public var forecasts: [VMForecast]

    /// The plan file's bytes: sorted-key JSON, one layout for every writer.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Every field is a plain value: encoding cannot fail.
        return try! encoder.encode(self) + Data("\n".utf8)
    }

    /// The plan with its id set from its content.
    public func sealed() -> Plan {
        var unsealed = self
        unsealed.id = ""
        var plan = self
        plan.id = SHA256.hexDigest(of: unsealed.encoded())
        return plan
    }

    /// Reads a plan file: checks the schema and that the content still matches its id (a hand-edited plan is refused).
    public static func decode(_ data: Data, source: String) throws(PlanError) -> Plan {
        let decoder = JSONDecoder()
        let plan: Plan
        do {
            plan = try decoder.decode(Plan.self, from: data)
        } catch let error as DecodingError {
            throw PlanError(.badInput, "\(source): not a torpor plan: \(error.summary)")
        } catch {
            throw PlanError(.badInput, "\(source): not a torpor plan: \(error)")
        }
        guard plan.schema == schema else { throw PlanError(.badInput, "\(source): plan schema '\(plan.schema)' is not \(schema); use the torpor that wrote it") }
        guard bytesMatch(data, id: plan.id) || plan.sealed().id == plan.id else {
            throw PlanError(.badInput, "\(source): the plan was modified after torpor-plan wrote it (its content no longer matches its id \(plan.id.prefix(12)))")
        }
        return plan
    }

    /// Whether `data`, a plan file's bytes, hash to `id` with its id's value emptied, as `sealed` hashed them: the check
    /// that outlasts the writer (a field a later torpor no longer has, another toolchain's way of writing a number),
    /// where encoding the decoded plan again would call an upgraded store's approved plans modified.
    static func bytesMatch(_ data: Data, id: String) -> Bool {
        // The top level's id: the only key indented by two spaces that is "id" (an action's is deeper).
        guard let range = data.range(of: Data("\n  \"id\" : \"\(id)\"".utf8)) else { return false }
        var unsealed = data
        unsealed.replaceSubrange(range, with: Data("\n  \"id\" : \"\"".utf8))
        return SHA256.hexDigest(of: unsealed) == id
    }

    public static func load(path: String) throws(PlanError) -> (plan: Plan, bytes: Data) {
        guard let data = FileManager.default.contents(atPath: path) else { throw PlanError(.badInput, "\(path): cannot read the plan file") }
        return (try decode(data, source: path), data)
    }

    /// The action with `id`.
    public func action(_ id: String) -> Action? { actions.first { $0.id == id } }

    public func forecast(of vm: String) -> VMForecast? { forecasts.first { $0.vm == vm } }
}

import Foundation
import TorporCore
import TorporHash
import TorporYAML
import Yams

/// The planning policy: thresholds, SLA tiers, overrides per label group and per VM, fleet guardrails and host
/// capacities. Read from YAML (see `sample-data/policy.yaml`, which documents every key); `Policy.embeddedDefault`
/// applies when no file is given.
public struct Policy: Equatable, Sendable {
    /// What a VM is held to, after defaults, group overrides and VM overrides are applied in that order.
    public struct VMSettings: Equatable, Sendable {
        public var tier: String
        /// Demand (percent of allocated vCPUs) under which a VM may sleep.
        public var hibernateBelow: Double
        /// Demand at which a sleeping VM must run again (the restore deadline is when the forecast crosses it).
        public var restoreAbove: Double
        /// The shortest idle stretch worth a hibernation.
        public var minIdle: Int64
        /// Also sleep in hours the forecast calls calm (under `restore_above`) but not idle or does not know, and on VMs
        /// whose forecast cannot be judged (not predictable, newer than `min_history`), once the VM's measured demand
        /// has stayed under `hibernate_below` for `minIdle`; for a day after forecast demand did not come, the VM's forecast
        /// is not used at all (`PlanningVM.unmetDemandAt`).
        public var idleTimeout: Bool
        /// Why the VM is never hibernated, when it is excluded.
        public var excluded: String?
        /// The longest a sleep may last before the VM is restored whatever its forecast says (nil: no limit): a
        /// backstop for VMs that only a demand signal would wake (under the idle timeout).
        public var maxSleep: Int64? = nil
    }

    /// An SLA tier: the forecast quantile that decides, and the restore priority (1 restores first).
    public struct Tier: Equatable, Sendable, Codable {
        public var quantile: Float
        public var priority: Int
    }

    /// A host's limits: state-pool bytes for hibernated VMs, restores at once, memory and vCPUs for running VMs.
    public struct Host: Equatable, Sendable {
        public var statePoolBytes: Int64?
        public var concurrentRestores: Int
        public var memoryBytes: Int64?
        public var vcpus: Int?
    }

    /// Settings that override others for VMs whose labels match (`match`) or that are named (`vms`).
    public struct Override: Equatable, Sendable {
        /// Whether a VM with `labels` is one this group's settings apply to.
        func matches(_ labels: [String: String]) -> Bool { match.allSatisfy { labels[$0.key] == $0.value } }

        public var match: [String: String]
        public var tier: String?
        public var hibernateBelow: Double?
        public var restoreAbove: Double?
        public var minIdle: Int64?
        public var idleTimeout: Bool?
        /// Whether the VMs are excluded (false: an exclusion of a group or the defaults is lifted); nil when it says
        /// nothing of it.
        public var exclude: Bool?
        /// Why they are excluded (`reason`).
        public var reason: String?
        public var maxSleep: Int64? = nil
    }

    public var horizonHours: Int
    /// How long after planning a hibernation of this plan may still start (restores are never bound by it).
    public var validFor: Int64
    /// How often torpor-execute runs (its cron or timer interval): restores are planned to start this much earlier, so
    /// that the pass that starts one comes in time.
    public var executeEvery: Int64
    /// A window must last at least this many times the VM's save + restore time.
    public var breakEvenFactor: Double
    public var defaultSaveSeconds: Int64
    public var defaultRestoreSeconds: Int64
    /// The label whose values form the guardrail groups.
    public var groupLabel: String
    /// At most this share of a group, and of a host's VMs, asleep at once.
    public var maxHibernatedShare: Double
    /// At least this many VMs of each group running at all times.
    public var minRunning: Int
    /// `groupLabel`, `maxHibernatedShare` and `minRunning`, as a plan records them with the VMs it counted.
    public func guardrails(counted: [String]? = nil) -> Plan.Guardrails {
        .init(groupLabel: groupLabel, maxHibernatedShare: maxHibernatedShare, minRunning: minRunning, counted: counted)
    }
    /// VMs with less known history than this are not planned.
    public var minHistoryHours: Int
    /// VMs whose newest data is older than this are not planned (missing is not idle).
    public var maxDataAge: Int64
    public var defaults: Override
    public var tiers: [String: Tier]
    public var groups: [Override]
    public var vms: [String: Override]
    public var hosts: [String: Host]
    public var defaultHost: Host

    /// The demand at which a sleeping VM must run again unless a group or the VM says otherwise.
    public var defaultRestoreAbove: Double { defaults.restoreAbove ?? 15 }

    /// Sets one VM's own `hibernate_below` (in its `vms` entry, made when it has none).
    public mutating func setHibernateBelow(_ value: Double, vm: String) {
        vms[vm, default: Override(match: [:])].hibernateBelow = value
    }

    /// The settings of one VM.
    public func settings(vm: String, labels: [String: String]) -> VMSettings {
        var s = VMSettings(tier: defaults.tier ?? "silver", hibernateBelow: defaults.hibernateBelow ?? 5,
                           restoreAbove: defaultRestoreAbove, minIdle: defaults.minIdle ?? 4 * 3600,
                           idleTimeout: defaults.idleTimeout ?? false, excluded: nil)
        func exclusion(_ o: Override) -> String? {
            o.exclude == true ? (o.reason.flatMap { $0.isEmpty ? nil : $0 } ?? "excluded by the policy") : nil
        }
        s.excluded = exclusion(defaults)
        // A group's exclusion holds whatever a later group says: a group's `exclude: false` lifts the defaults' (a
        // pilot that excludes all but some groups), never another group's (`env=prod` excluded, then `team=analytics`
        // with `exclude: false`, must not wake prod analytics); only the VM's own entry lifts a group's.
        var byGroup: String?
        func apply(_ o: Override, isGroup: Bool) {
            if let v = o.tier { s.tier = v }
            if let v = o.hibernateBelow { s.hibernateBelow = v }
            if let v = o.restoreAbove { s.restoreAbove = v }
            if let v = o.minIdle { s.minIdle = v }
            if let v = o.idleTimeout { s.idleTimeout = v }
            if o.exclude != nil {
                // Every group that excludes the VM says why (the first alone had hidden a freeze's reason behind prod's).
                if isGroup, let reason = exclusion(o) { byGroup = [byGroup, reason].compactMap { $0 }.joined(separator: "; ") }
                s.excluded = isGroup ? byGroup ?? exclusion(o) : exclusion(o)
            }
            if let v = o.maxSleep { s.maxSleep = v }
        }
        for g in groups where g.matches(labels) { apply(g, isGroup: true) }
        if let o = vms[vm] { apply(o, isGroup: false) }
        return s
    }

    /// The parts of the policy that apply to none of `vms` (name, labels) or of their `hosts` (URIs): a VM named under
    /// `vms` that does not exist, a group whose labels match no VM, a group's `exclude: false` that an earlier group's
    /// exclusion overrides for every VM it matches (only a VM's own entry lifts a group's), a host URI or pattern no
    /// VM's host matches. Each is likely a typo or a misreading that leaves a VM otherwise than meant (an exclusion that
    /// excludes nothing, a lift that lifts nothing, a host's limits that limit nothing), so the planner reports them.
    public func unmatched(vms: [(name: String, labels: [String: String])], hosts uris: Set<String> = []) -> [String] {
        let names = Set(vms.map(\.name))
        return self.vms.keys.sorted().filter { !names.contains($0) }.map { "vms.\($0): no VM of that name in the store" }
            + groups.enumerated().filter { _, g in !vms.contains { g.matches($0.labels) } }.map { i, g in
                "groups[\(i)] (match \(Self.matchText(g))): matches no VM in the store"
            }
            + groups.enumerated().compactMap { i, g -> String? in
                guard g.exclude == false else { return nil }
                let matched = vms.filter { g.matches($0.labels) && self.vms[$0.name]?.exclude == nil }
                let shadowing = groups.prefix(i).enumerated().filter { _, earlier in earlier.exclude == true && matched.contains { earlier.matches($0.labels) } }
                guard !matched.isEmpty, matched.allSatisfy({ vm in shadowing.contains { $0.element.matches(vm.labels) } }) else { return nil }
                let names = matched.map(\.name).sorted()
                return "groups[\(i)] (match \(Self.matchText(g))): its exclude: false lifts nothing: an earlier group excludes each VM it matches ("
                    + (names.count > 5 ? names.prefix(5).joined(separator: ", ") + " and \(names.count - 5) more" : names.joined(separator: ", ")) + ": "
                    + shadowing.map { "groups[\($0.offset)] (match \(Self.matchText($0.element)))" }.joined(separator: ", ")
                    + "); only a VM's own entry under vms lifts a group's exclusion"
            }
            + hosts.keys.sorted().filter { pattern in !uris.contains { $0 == pattern || Self.glob(pattern, matches: $0) } }.map {
                "hosts.\($0): no VM in the store is on a host it matches"
            }
    }

    /// A group's `match`, in words.
    static func matchText(_ g: Override) -> String { g.match.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") }

    /// Refuses the policy (`source`: how the user named it) when `conflicts(vms:)` finds any, naming them: a stage
    /// that plans or replays does not go on with it.
    public func refuseConflicts(vms: [(name: String, labels: [String: String])], source: String) throws(PlanError) {
        let conflicts = conflicts(vms: vms)
        if !conflicts.isEmpty { throw PlanError(.badInput, "\(source): " + conflicts.joined(separator: "; ")) }
    }

    /// The VMs whose settings, once defaults, groups and their own are merged, would put `hibernate_below` above
    /// `restore_above` (each part alone may be fine: a group lowers one, the VM raises the other); excluded VMs are
    /// never planned and do not count.
    public func conflicts(vms: [(name: String, labels: [String: String])]) -> [String] {
        vms.compactMap { vm in
            let s = settings(vm: vm.name, labels: vm.labels)
            return s.excluded == nil && s.hibernateBelow > s.restoreAbove
                ? "\(vm.name): hibernate_below \(s.hibernateBelow) is above restore_above \(s.restoreAbove) once defaults, groups and vms are merged" : nil
        }
    }

    /// A host's limits: listed under its URI, or under a pattern where `*` stands for any text (`qemu+ssh://kvm*/system`);
    /// of patterns that match, the most specific (the most text besides its `*`s: `qemu+ssh://edge-*/system` over
    /// `qemu+ssh://*/system`, whichever is listed first), then the first in text order.
    public func host(_ uri: String) -> Host {
        hosts[uri] ?? matchingPatterns(uri).first.flatMap { hosts[$0] } ?? defaultHost
    }

    /// The patterns under `hosts` that match `uri`, the one whose limits apply first (`host(_:)`).
    func matchingPatterns(_ uri: String) -> [String] {
        func literal(_ pattern: String) -> Int { pattern.count - pattern.filter { $0 == "*" }.count }
        return hosts.keys.filter { $0.contains("*") && Self.glob($0, matches: uri) }.sorted { (literal($1), $0) < (literal($0), $1) }
    }

    /// For the hosts of `uris` that two patterns or more match and none names: which pattern's limits apply, once per set
    /// of patterns (a broad pattern may say more than a narrower one meant for them, and be the more specific).
    public func patternChoices(hosts uris: Set<String>) -> [String] {
        let chosen = Dictionary(grouping: uris.filter { hosts[$0] == nil }, by: matchingPatterns).filter { $0.key.count > 1 }
        return chosen.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { patterns, uris in
            "\(uris.count) host(s) (\(uris.sorted().prefix(3).joined(separator: ", "))\(uris.count > 3 ? ", …" : "")) match hosts "
                + patterns.sorted().joined(separator: " and ") + ": the limits of \(patterns[0]) apply (the most text besides its *s, then text order)"
        }
    }

    static func glob(_ pattern: String, matches text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        guard text.hasPrefix(parts.first!), text.hasSuffix(parts.last!), text.count >= parts.first!.count + parts.last!.count else { return false }
        var rest = Substring(text.dropFirst(parts.first!.count).dropLast(parts.last!.count))
        for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
            guard let r = rest.range(of: middle) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }

    /// The policy that applies when no file is given: silver tier (q0.9) under 5 % for at least 4 h, restore at 15 %,
    /// at most half of a group asleep, one VM of each group always running.
    public static let embeddedDefault: Policy = try! parse(embeddedDefaultYAML, source: "the embedded default policy")

    static let embeddedDefaultYAML = """
        horizon: 24h
        valid_for: 2h
        execute_every: 2m
        break_even_factor: 2
        default_save_seconds: 60
        default_restore_seconds: 30
        group_label: group
        min_history: 3d
        max_data_age: 6h
        guardrails: {max_hibernated_share: 0.5, min_running: 1}
        defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
        tiers:
          gold: {quantile: 0.99, priority: 1}
          silver: {quantile: 0.9, priority: 2}
          bronze: {quantile: 0.5, priority: 3}
        host_defaults: {concurrent_restores: 2}
        """

    /// Reads a policy file (nil: the embedded default); errors name the file and the key at fault. The digest is the
    /// SHA-256 of the file's bytes: it goes into each plan's inputs fingerprint.
    public static func load(path: String?) throws(PlanError) -> (policy: Policy, sha256: String) {
        guard let path else { return (embeddedDefault, SHA256.hexDigest(of: Array(embeddedDefaultYAML.utf8))) }
        guard let data = FileManager.default.contents(atPath: path) else { throw PlanError(.badInput, "\(path): cannot read the policy file") }
        return (try parse(String(decoding: data, as: UTF8.self), source: path), SHA256.hexDigest(of: data))
    }

    public static func parse(_ text: String, source: String) throws(PlanError) -> Policy {
        // A misspelt key first: it is why a key the decoder needs is missing.
        try PolicyFile.rejectUnknownKeys(text, source: source)
        let file: PolicyFile
        do {
            file = try YAMLDecoder().decode(PolicyFile.self, from: text)
        } catch let error as DecodingError {
            throw PlanError(.badInput, "\(source): \(error.summary)")
        } catch {
            throw PlanError(.badInput, "\(source): not valid YAML: \(error)")
        }
        return try file.policy(source: source, text: text)
    }
}

/// The YAML layout of a policy file (snake_case keys, durations like `4h`, sizes like `64GiB`).
struct PolicyFile: Decodable {
    struct Settings: Decodable {
        var match: [String: String]?
        var tier: String?
        var hibernate_below: Double?
        var restore_above: Double?
        var min_idle: Text?
        var idle_timeout: Bool?
        var max_sleep: Text?
        var exclude: Bool?
        var reason: String?
    }
    struct Guardrails: Decodable { var max_hibernated_share: Double?; var min_running: Int? }
    struct Host: Decodable { var state_pool: Text?; var concurrent_restores: Int?; var memory: Text?; var vcpus: Int? }
    /// A scalar written as text or number.
    struct Text: Decodable {
        var value: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int64.self) { value = "\(i)" } else { value = try c.decode(String.self) }
        }
    }

    var horizon: Text?
    var valid_for: Text?
    var execute_every: Text?
    var break_even_factor: Double?
    var default_save_seconds: Int64?
    var default_restore_seconds: Int64?
    var group_label: String?
    var min_history: Text?
    var max_data_age: Text?
    var guardrails: Guardrails?
    var defaults: Settings?
    var tiers: [String: Policy.Tier]?
    var groups: [Settings]?
    var vms: [String: Settings]?
    var hosts: [String: Host]?
    var host_defaults: Host?

    /// The keys each part of the file may hold: any other is refused, with its line, rather than ignored.
    static let shape: YAMLShape = {
        let settings = YAMLShape.flat("match", "tier", "hibernate_below", "restore_above", "min_idle", "idle_timeout", "max_sleep", "exclude", "reason")
        let host = YAMLShape.flat("state_pool", "concurrent_restores", "memory", "vcpus")
        return .keys(["horizon": .any, "valid_for": .any, "execute_every": .any, "break_even_factor": .any, "default_save_seconds": .any, "default_restore_seconds": .any,
                      "group_label": .any, "min_history": .any, "max_data_age": .any, "guardrails": .flat("max_hibernated_share", "min_running"),
                      "defaults": settings, "tiers": .named(.flat("quantile", "priority")), "groups": .list(settings), "vms": .named(settings),
                      "hosts": .named(host), "host_defaults": host])
    }()

    static func rejectUnknownKeys(_ text: String, source: String) throws(PlanError) {
        guard let unknown = shape.firstUnknownKey(in: text) else { return }
        throw PlanError(.badInput, "\(source):\(unknown.line.map { "\($0)" } ?? "?"): '\(unknown.path)': unknown key; expected one of "
                        + unknown.expected.joined(separator: ", "))
    }

    /// The policy `text` (read from `source`) holds; a value refused names its file, line and key.
    func policy(source: String, text: String) throws(PlanError) -> Policy {
        func bad(_ key: String, _ message: String) -> PlanError {
            PlanError(.badInput, "\(source)\(YAMLShape.line(of: key, in: text).map { ":\($0)" } ?? ""): '\(key)': \(message)")
        }
        func duration(_ t: Text?, _ key: String, default value: Int64) throws(PlanError) -> Int64 {
            guard let t else { return value }
            guard let s = DurationText.seconds(t.value) else { throw bad(key, "'\(t.value)' is not a duration such as 30m, 4h or 2d") }
            guard s > 0 else { throw bad(key, "'\(t.value)' is no time at all: give a duration such as 30m, 4h or 2d") }
            return s
        }
        func bytes(_ t: Text?, _ key: String) throws(PlanError) -> Int64? {
            guard let t else { return nil }
            guard let b = ByteSize.parse(t.value) else { throw bad(key, "'\(t.value)' is not a size such as 512MiB, 64GiB or 2TB") }
            return b
        }
        func override(_ s: Settings?, _ key: String) throws(PlanError) -> Policy.Override {
            guard let s else { return Policy.Override(match: [:]) }
            if let b = s.hibernate_below, !(0...100).contains(b) { throw bad("\(key).hibernate_below", "must be a percentage (0-100)") }
            if let r = s.restore_above, !(0...100).contains(r) { throw bad("\(key).restore_above", "must be a percentage (0-100)") }
            if let b = s.hibernate_below, let r = s.restore_above, b > r { throw bad(key, "hibernate_below (\(b)) is above restore_above (\(r))") }
            if let t = s.tier, self.tiers?[t] == nil { throw bad("\(key).tier", "no tier '\(t)' under 'tiers'") }
            return Policy.Override(match: s.match ?? [:], tier: s.tier, hibernateBelow: s.hibernate_below, restoreAbove: s.restore_above,
                                   minIdle: s.min_idle == nil ? nil : try duration(s.min_idle, "\(key).min_idle", default: 0), idleTimeout: s.idle_timeout,
                                   exclude: s.exclude, reason: s.reason,
                                   maxSleep: s.max_sleep == nil ? nil : try duration(s.max_sleep, "\(key).max_sleep", default: 0))
        }
        func host(_ h: Host?, _ key: String) throws(PlanError) -> Policy.Host {
            let concurrent = h?.concurrent_restores ?? 2
            guard (1...1000).contains(concurrent) else { throw bad("\(key).concurrent_restores", "must be between 1 and 1000, not \(concurrent)") }
            if let v = h?.vcpus, v < 1 { throw bad("\(key).vcpus", "must be at least 1") }
            return Policy.Host(statePoolBytes: try bytes(h?.state_pool, "\(key).state_pool"), concurrentRestores: concurrent,
                               memoryBytes: try bytes(h?.memory, "\(key).memory"), vcpus: h?.vcpus)
        }
        let tiers = self.tiers ?? [:]
        guard !tiers.isEmpty else { throw bad("tiers", "at least one tier is needed, e.g. silver: {quantile: 0.9, priority: 2}") }
        let forecast = QuantileForecast.standardQuantiles
        for (name, t) in tiers.sorted(by: { $0.key < $1.key }) {
            guard (forecast.first! - 1e-6...forecast.last! + 1e-6).contains(t.quantile) else {
                throw bad("tiers.\(name).quantile", "\(t.quantile) is outside the quantiles torpor forecasts (" + forecast.map { "\($0)" }.joined(separator: ", ")
                          + "; one between two of them is interpolated)")
            }
            guard abs(Double(t.quantile) * 10_000 - (Double(t.quantile) * 10_000).rounded()) <= 0.01 else {
                throw bad("tiers.\(name).quantile", "\(t.quantile) has more than 4 decimals")
            }
        }
        let defaults = try override(self.defaults, "defaults")
        let tierName = defaults.tier ?? "silver"
        guard tiers[tierName] != nil else { throw bad("defaults.tier", "no tier '\(tierName)' under 'tiers'") }
        var groups: [Policy.Override] = []
        for (i, g) in (self.groups ?? []).enumerated() {
            guard let match = g.match, !match.isEmpty else { throw bad("groups[\(i)].match", "a group needs labels to match, e.g. {group: web}") }
            groups.append(try override(g, "groups[\(i)]"))
        }
        var vms: [String: Policy.Override] = [:]
        // In name order: of two bad entries, every run names the same one.
        for (name, v) in (self.vms ?? [:]).sorted(by: { $0.key < $1.key }) { vms[name] = try override(v, "vms.\(name)") }
        var hosts: [String: Policy.Host] = [:]
        for (uri, h) in (self.hosts ?? [:]).sorted(by: { $0.key < $1.key }) { hosts[uri] = try host(h, "hosts.\(uri)") }
        // Settings merge (defaults, then groups, then the VM): each part must also hold over the defaults it overrides.
        let base = Policy.Override(match: [:], hibernateBelow: defaults.hibernateBelow ?? 5, restoreAbove: defaults.restoreAbove ?? 15)
        let parts: [(String, Policy.Override)] = [("defaults", defaults)] + groups.enumerated().map { ("groups[\($0.offset)]", $0.element) }
            + vms.sorted(by: { $0.key < $1.key }).map { ("vms.\($0.key)", $0.value) }
        for (key, o) in parts {
            let below = o.hibernateBelow ?? base.hibernateBelow!, above = o.restoreAbove ?? base.restoreAbove!
            guard below <= above else {
                throw bad(key, "hibernate_below (\(below)) would be above restore_above (\(above)) for its VMs"
                          + (o.hibernateBelow == nil || o.restoreAbove == nil ? " (one of them from defaults)" : ""))
            }
        }
        for (key, t) in tiers.sorted(by: { $0.key < $1.key }) where t.priority < 1 {
            throw bad("tiers.\(key).priority", "must be at least 1 (1 restores first)")
        }
        let share = guardrails?.max_hibernated_share ?? 0.5
        guard (0...1).contains(share) else { throw bad("guardrails.max_hibernated_share", "must be between 0 and 1") }
        if let n = guardrails?.min_running, n < 0 { throw bad("guardrails.min_running", "must be 0 or more") }
        let factor = break_even_factor ?? 2
        // Bounded: a window must last this many times save + restore, and a product past Int64 had crashed the planner.
        guard (1...1000).contains(factor) else { throw bad("break_even_factor", "must be a number from 1 to 1000") }
        for (key, value) in [("default_save_seconds", default_save_seconds), ("default_restore_seconds", default_restore_seconds)] {
            if let value, !(1...86_400).contains(value) { throw bad(key, "must be between 1 and 86400 seconds, not \(value)") }
        }
        let horizon = try duration(self.horizon, "horizon", default: 86_400)
        guard horizon % 3600 == 0, horizon <= 7 * 86_400 else { throw bad("horizon", "must be whole hours, at most 7d") }
        // Counted in hours of history: 30m would count none (every VM judged on no history at all), 90m one.
        let minHistory = try duration(min_history, "min_history", default: 3 * 86_400)
        guard minHistory % 3600 == 0 else { throw bad("min_history", "must be whole hours, not \(min_history!.value)") }
        return Policy(horizonHours: Int(horizon / 3600), validFor: try duration(valid_for, "valid_for", default: 7200),
                      executeEvery: try duration(execute_every, "execute_every", default: 120),
                      breakEvenFactor: factor, defaultSaveSeconds: default_save_seconds ?? 60,
                      defaultRestoreSeconds: default_restore_seconds ?? 30, groupLabel: group_label ?? "group",
                      maxHibernatedShare: share, minRunning: max(0, guardrails?.min_running ?? 1),
                      minHistoryHours: Int(minHistory / 3600),
                      maxDataAge: try duration(max_data_age, "max_data_age", default: 6 * 3600),
                      defaults: defaults, tiers: tiers, groups: groups, vms: vms, hosts: hosts,
                      defaultHost: try host(host_defaults, "host_defaults"))
    }
}

/// Sizes as operators write them: `1048576`, `512MiB`, `64GiB`, `2TB`.
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits), value >= 0 else { return nil }
        let units: [String: Double] = ["": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
                                       "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776]
        guard let factor = units[t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)], value * factor < 0x1p62 else { return nil }
        return Int64(value * factor)
    }

    /// `1.5 GiB`-style text for reports.
    public static func format(_ bytes: Int64) -> String {
        for (unit, size) in [("TiB", 1_099_511_627_776.0), ("GiB", 1_073_741_824.0), ("MiB", 1_048_576.0), ("KiB", 1024.0)] where Double(bytes) >= size {
            return String(format: "%.1f", Double(bytes) / size) + " " + unit
        }
        return "\(bytes) B"
    }
}

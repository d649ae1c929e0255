import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporVirt

/// The VMs a pass's guardrails count, by group and by host, from the store's inventory read once a pass.
struct GuardrailMembers {
    let rails: Plan.Guardrails
    private let groupOf: [String: String]
    private let byGroup: [String: [String]]
    private let byHost: [String: [String]]
    private let hostOf: [String: String]
    /// The VMs the plan counted as running or asleep.
    private let counted: Set<String>

    init(rails: Plan.Guardrails, vms: [VMRecord]) {
        self.rails = rails
        let groupOf = Dictionary(vms.compactMap { vm in vm.labels[rails.groupLabel].map { (vm.name, $0) } }, uniquingKeysWith: { a, _ in a })
        self.groupOf = groupOf
        byGroup = Dictionary(grouping: groupOf.keys.sorted(), by: { groupOf[$0]! })
        byHost = Dictionary(grouping: vms, by: { $0.hostURI ?? "?" }).mapValues { $0.map(\.name) }
        hostOf = Dictionary(vms.compactMap { vm in vm.hostURI.map { (vm.name, $0) } }, uniquingKeysWith: { a, _ in a })
        counted = Set(rails.counted ?? [])
    }

    /// `vm`'s group (its value of the group label) and its partners there; nil when it has no group.
    func group(of vm: String) -> (name: String, partners: [String])? {
        groupOf[vm].map { g in (g, byGroup[g, default: []].filter { $0 != vm }) }
    }

    /// The other VMs the store places on `host`.
    func partners(on host: String, besides vm: String) -> [String] { byHost[host, default: []].filter { $0 != vm } }

    /// Every VM whose state `a`'s guardrails count.
    func partners(of a: Plan.Action) -> Set<String> { Set((group(of: a.vm)?.partners ?? []) + partners(on: a.host, besides: a.vm)) }

    /// Where the store places `vm`.
    func host(of vm: String) -> String? { hostOf[vm] }

    /// Whether the plan counted `vm` as running or asleep.
    func planCounted(_ vm: String) -> Bool { counted.contains(vm) }
}

extension Executor {
    /// Why each VM `a`'s guardrails count is not running now, as far as libvirt or the plan tells (absent: running): on a
    /// host this run covers (`covered`; nil: every host), what libvirt shows (running or blocked runs; shut down, crashed
    /// or paused since the plan, gone, or its host not answering does not: missing is not running), each host's domains
    /// read in one call (`domainStates`, a reading serving `partnerStatesServeFor`); on a host only another executor covers, as the plan counted it (one it did not
    /// know of, such as a VM defined since, does not run). Read before the count, outside its lock.
    func partnersNotRunning(_ a: Plan.Action, members: GuardrailMembers, covered: Set<String>?) -> [String: String] {
        var result: [String: String] = [:]
        for p in members.partners(of: a) {
            guard let host = members.host(of: p) else { result[p] = "no host known"; continue }
            guard covered?.contains(host) ?? true else {
                if !members.planCounted(p) { result[p] = "not counted as running by the plan" }
                continue
            }
            switch domainStates(on: host) {
            case .failure(let error): result[p] = "libvirt on its host: \(error)"
            case .success(let states):
                guard let state = states[p] else { result[p] = "not on \(host)"; continue }
                if !state.runs { result[p] = "\(state)" }
            }
        }
        return result
    }

    /// Why the fleet guardrails the plan's windows were admitted under no longer let `a`'s VM sleep now, or nil when
    /// they do. The planner counted the group's and the host's VMs from the data it had; this counts them from what is
    /// so now: asleep are those the journal holds asleep or being saved (an intent journaled by any executor), those a
    /// dry run would have put to sleep and those libvirt holds saved without torpor's record (not running now); the others run unless `notRunning` says why not (`partnersNotRunning`). A group
    /// or a host of one VM is exempt, as in the plan. Called within `withGuardrailsCounted`, which the intent is
    /// journaled in too, so that two pre-flights never count without each other.
    func guardrailRefusal(_ a: Plan.Action, members: GuardrailMembers, notRunning: [String: String], covered: Set<String>?) throws -> String? {
        let rails = members.rails
        // Asleep too: a VM libvirt holds saved without torpor's record (a `virsh managedsave` by hand), as the inventory
        // found it; counted as neither, it let torpor put more of a group to sleep than its share.
        let (hibernated, saving, savedByHand) = try store.read { db in
            (try JournalRepository.hibernatedVMs(in: db), Set(try JournalRepository.unfinished(in: db).filter { $0.kind == .hibernate }.map(\.vm)),
             Set(try ExecutionCheck.savedWithoutRecord(now: .max, in: db).map(\.vm)))
        }
        let claimed = partnerLock.withLock { dryRunClaims }
        func refusal(_ partners: [String], allows: (Int) -> Int, what: String) -> String? {
            guard !partners.isEmpty else { return nil }
            var sleeping = 0, running = 1, down: [String] = [], byHand: [String] = []
            for p in partners {
                // Saved by hand: not running now, or on a host another executor covers (libvirt not asked here).
                let uncovered = members.host(of: p).map { host in !(covered?.contains(host) ?? true) } ?? false
                let savedHere = savedByHand.contains(p) && (notRunning[p] != nil || uncovered)
                if savedHere { byHand.append(p) }
                if hibernated.contains(p) || saving.contains(p) || claimed.contains(p) || savedHere { sleeping += 1 }
                else if let why = notRunning[p] { down.append("\(p) (\(why))") }
                else { running += 1 }
            }
            let size = sleeping + running, allowed = allows(size)
            guard sleeping + 1 > allowed else { return nil }
            let named = down.count > 5 ? down.prefix(5).joined(separator: ", ") + " and \(down.count - 5) more" : down.joined(separator: ", ")
            return "guardrail at the pre-flight: \(what): of its \(size) VMs running or asleep, \(max(0, allowed)) may sleep at once and \(sleeping) do"
                + (byHand.isEmpty ? "" : " (saved without torpor's record: \(byHand.joined(separator: ", ")))")
                + (down.isEmpty ? "" : "; not running now: " + named)
        }
        return members.group(of: a.vm).flatMap { g in
            refusal(g.partners, allows: rails.groupAllows, what: "group \(rails.groupLabel)=\(g.name) (share \(rails.maxHibernatedShare), min_running \(rails.minRunning))")
        } ?? refusal(members.partners(on: a.host, besides: a.vm), allows: rails.hostAllows, what: "host \(a.host) (share \(rails.maxHibernatedShare))")
    }

    /// Runs `body` (the guardrails' count, then the intent journaled or the dry run's claim; its result: why the
    /// hibernation is held back, nil when it goes on) with no other pre-flight counting meanwhile: of this executor (a
    /// lock taken after the wait below, held for that alone), nor of another on the store (the store's `locks`: a flock
    /// beside it). An executor that holds that one longer than `guardrailsPatience` holds this hibernation back for a
    /// later pass, and the run's other hibernations at once (not each after its own wait).
    func withGuardrailsCounted(_ body: () throws -> String?) throws -> String? {
        let busy = "another executor, or another host's pass of this one, held the guardrails' count for over "
            + DurationText.format(Int64(guardrailsPatience.rounded(.up))) + ": tried again next pass"
        if partnerLock.withLock({ guardrailsLockBusy }) { return busy }
        let held: FileLock?
        do { held = try locks?.take(VMLocks.guardrails, patience: guardrailsPatience) } catch {
            guard case .held = error else { throw error }
            partnerLock.withLock { guardrailsLockBusy = true }
            return busy
        }
        defer { withExtendedLifetime(held) {} }
        return try guardrailLock.withLock(body)
    }

    /// Opens the connections `partnersNotRunning` will read through (a host that does not answer takes its timeout once a
    /// pass), so that the reading itself, made later, is quick.
    func connectPartnerHosts(_ a: Plan.Action, members: GuardrailMembers, covered: Set<String>?) {
        let hosts = Set(members.partners(of: a).compactMap { members.host(of: $0) }).filter { covered?.contains($0) ?? true }
        for host in hosts.sorted() { _ = try? connection(host) }
    }

    /// The domains' states of `host`, read from libvirt (all of them in one call) at most once every
    /// `partnerStatesServeFor` seconds of a run.
    func domainStates(on host: String) -> Result<[String: DomainState], Error> {
        if let known = partnerLock.withLock({ partnerStates[host] }), Date().timeIntervalSince(known.at) < partnerStatesServeFor { return known.states }
        let reading = Result {
            Dictionary(try connection(host).allDomainStats(.state).map { ($0.domainName, DomainState(rawValue: Int32($0.number("state.state") ?? 0)) ?? .unknown) },
                       uniquingKeysWith: { a, _ in a })
        }
        partnerLock.withLock { partnerStates[host] = (Date(), reading) }
        return reading
    }
}

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

    init(rails: Plan.Guardrails, vms: [VMRecord]) {
        self.rails = rails
        let groupOf = Dictionary(vms.compactMap { vm in vm.labels[rails.groupLabel].map { (vm.name, $0) } }, uniquingKeysWith: { a, _ in a })
        self.groupOf = groupOf
        byGroup = Dictionary(grouping: groupOf.keys.sorted(), by: { groupOf[$0]! })
        byHost = Dictionary(grouping: vms, by: { $0.hostURI ?? "?" }).mapValues { $0.map(\.name) }
        hostOf = Dictionary(vms.compactMap { vm in vm.hostURI.map { (vm.name, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// `vm`'s group (its value of the group label) and its partners there; nil when it has no group.
    func group(of vm: String) -> (name: String, partners: [String])? {
        groupOf[vm].map { g in (g, byGroup[g, default: []].filter { $0 != vm }) }
    }

    /// The other VMs the store places on `host`.
    func partners(on host: String, besides vm: String) -> [String] { byHost[host, default: []].filter { $0 != vm } }

    /// Where the store places `vm`.
    func host(of vm: String) -> String? { hostOf[vm] }
}

extension Executor {
    /// Why the fleet guardrails the plan's windows were admitted under no longer let `a`'s VM sleep now, or nil when
    /// they do. The planner counted the group's and the host's VMs from the data it had; this counts them from what is
    /// so now: asleep are those the journal holds asleep or being saved (an intent journaled by any executor), running
    /// those libvirt shows running (or blocked) on the hosts this executor covers, and a VM shut down, crashed or paused
    /// since the plan, gone, or on a covered host libvirt does not answer for is neither (missing is not running). A VM
    /// on a host another executor covers (`--host`) counts as the plan counted it, unless the journal has it asleep.
    /// A group or a host of one VM is exempt, as in the plan. The caller holds `withGuardrailsCounted` from this count
    /// until the hibernation's intent is journaled, so that two pre-flights never count without each other.
    func guardrailRefusal(_ a: Plan.Action, members: GuardrailMembers) throws -> String? {
        let rails = members.rails
        let group = members.group(of: a.vm)
        let hostPartners = members.partners(on: a.host, besides: a.vm)
        let everyone = Set((group?.partners ?? []) + hostPartners)
        let (hibernated, saving) = try store.read { db in
            (try JournalRepository.hibernatedVMs(in: db), Set(try JournalRepository.unfinished(in: db).filter { $0.kind == .hibernate }.map(\.vm)))
        }
        let asleep = everyone.filter { hibernated.contains($0) || saving.contains($0) || dryRunClaims.contains($0) }
        func refusal(_ partners: [String], allows: (Int) -> Int, what: String) -> String? {
            guard !partners.isEmpty else { return nil }
            var sleeping = 0, running = 1, down: [String] = []
            for p in partners {
                if asleep.contains(p) { sleeping += 1 }
                else if let why = partnerNotRunning(p, host: members.host(of: p)) { down.append("\(p) (\(why))") }
                else { running += 1 }
            }
            let size = sleeping + running, allowed = allows(size)
            guard sleeping + 1 > allowed else { return nil }
            let named = down.count > 5 ? down.prefix(5).joined(separator: ", ") + " and \(down.count - 5) more" : down.joined(separator: ", ")
            return "guardrail at the pre-flight: \(what): of its \(size) VMs running or asleep, \(max(0, allowed)) may sleep at once and \(sleeping) do"
                + (down.isEmpty ? "" : "; not running now: " + named)
        }
        return group.flatMap { g in
            refusal(g.partners, allows: rails.groupAllows, what: "group \(rails.groupLabel)=\(g.name) (share \(rails.maxHibernatedShare), min_running \(rails.minRunning))")
        } ?? refusal(hostPartners, allows: rails.hostAllows, what: "host \(a.host) (share \(rails.maxHibernatedShare))")
    }

    /// Runs `body` (the guardrails' count, then the intent journaled or the dry run's claim) with no other pre-flight
    /// of this executor, nor with the store's `locks` of another, counting meanwhile.
    func withGuardrailsCounted<T>(_ body: () throws -> T) throws -> T {
        try guardrailLock.withLock {
            let held = try locks?.take(VMLocks.guardrails, patience: 60)
            defer { withExtendedLifetime(held) {} }
            return try body()
        }
    }

    /// Why `vm` is not running as libvirt shows its host (read once a run, all its domains in one call), nil when it runs
    /// or its host is not one this executor covers (the plan's count stands there).
    func partnerNotRunning(_ vm: String, host: String?) -> String? {
        guard let host else { return "no host known" }
        guard coveredHosts?.contains(host) ?? true else { return nil }
        let states = partnerLock.withLock { partnerStates[host] }
        let reading: Result<[String: DomainState], Error>
        if let states {
            reading = states
        } else {
            reading = Result {
                Dictionary(try connection(host).allDomainStats(.state).map { ($0.domainName, DomainState(rawValue: Int32($0.number("state.state") ?? 0)) ?? .unknown) },
                           uniquingKeysWith: { a, _ in a })
            }
            partnerLock.withLock { partnerStates[host] = reading }
        }
        switch reading {
        case .failure(let error): return "libvirt on its host: \(error)"
        case .success(let states):
            guard let state = states[vm] else { return "not on \(host)" }
            return [.running, .blocked].contains(state) ? nil : "\(state)"
        }
    }
}

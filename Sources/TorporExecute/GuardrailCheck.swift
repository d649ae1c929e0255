import Foundation
import TorporCore
import TorporPlan
import TorporStore
import TorporVirt

/// What libvirt showed of a VM a hibernation's guardrails count, once per run (`Executor.guardrailRefusal`).
struct PartnerReading: Sendable {
    /// nil: running; else why it is not (shut off, paused, gone, its host not answering).
    var notRunning: String?
}

extension Executor {
    /// Why the fleet guardrails the plan's windows were admitted under (`Plan.Inputs.guardrails`) no longer let `a`'s VM
    /// sleep now, or nil when they do; then the VM counts as asleep for every other pre-flight of this executor until
    /// `releaseGuardrailClaim`. The planner counted the group's and the host's VMs from the data it had; the pre-flight
    /// counts them from what is so now: asleep are those the journal holds asleep or being saved (by any executor), running
    /// those libvirt shows running, and a VM shut down, crashed or paused since the plan, gone, or on a host that does not
    /// answer is neither (missing is not running). A group or a host of one VM is exempt, as in the plan. Plans made
    /// before the guardrails were recorded are not checked.
    func guardrailRefusal(claiming a: Plan.Action, plan: Plan) throws -> String? {
        guard let rails = plan.inputs.guardrails else { return nil }
        let (vms, power, saving) = try store.read { db in
            (try VMRepository.all(in: db), try JournalRepository.power(in: db),
             Set(try JournalRepository.unfinished(in: db).filter { $0.kind == .hibernate }.map(\.vm)))
        }
        let group = vms.first { $0.name == a.vm }?.labels[rails.groupLabel]
        let groupMembers = group.map { g in vms.filter { $0.labels[rails.groupLabel] == g } } ?? []
        let hostMembers = vms.filter { ($0.hostURI ?? "?") == a.host }
        func asleepByTheJournal(_ vm: String) -> Bool { power[vm]?.state == .hibernated || saving.contains(vm) }
        // libvirt is asked outside the lock (a host that does not answer holds up no other pre-flight).
        var readings: [String: PartnerReading] = [:]
        for p in groupMembers + hostMembers where p.name != a.vm && !asleepByTheJournal(p.name) && readings[p.name] == nil {
            readings[p.name] = partnerReading(p)
        }
        return guardrailLock.withLock { () -> String? in
            func refusal(_ members: [VMRecord], allows: (Int) -> Int, what: String) -> String? {
                let others = members.filter { $0.name != a.vm }
                guard !others.isEmpty else { return nil }
                var asleep = 0, running = 1, down: [String] = []
                for p in others {
                    if asleepByTheJournal(p.name) || vmsSaving.contains(p.name) { asleep += 1 }
                    else if let why = readings[p.name]?.notRunning { down.append("\(p.name) (\(why))") }
                    else { running += 1 }
                }
                let size = asleep + running, allowed = allows(size)
                guard asleep + 1 > allowed else { return nil }
                let named = down.count > 5 ? down.prefix(5).joined(separator: ", ") + " and \(down.count - 5) more" : down.joined(separator: ", ")
                return "guardrail at the pre-flight: \(what) may have \(max(0, allowed)) of \(size) asleep at once, \(asleep) asleep now"
                    + (down.isEmpty ? "" : "; not running now: " + named)
            }
            let why = group.flatMap { g in
                refusal(groupMembers, allows: rails.groupAllows,
                        what: "group \(rails.groupLabel)=\(g) (share \(rails.maxHibernatedShare), \(rails.minRunning) running)")
            } ?? refusal(hostMembers, allows: rails.hostAllows, what: "host \(a.host)")
            if why == nil { vmsSaving.insert(a.vm) }
            return why
        }
    }

    /// Ends the claim `guardrailRefusal` made: the VM's save is over (the journal says how it ended) or did not start.
    func releaseGuardrailClaim(_ vm: String) { _ = guardrailLock.withLock { vmsSaving.remove(vm) } }

    /// What libvirt shows of `vm` now, read once a run.
    func partnerReading(_ vm: VMRecord) -> PartnerReading {
        if let known = guardrailLock.withLock({ partnerReadings[vm.name] }) { return known }
        let reading: PartnerReading
        if let host = vm.hostURI {
            do {
                let state = try connection(host).domain(named: vm.name).info().state
                reading = PartnerReading(notRunning: state == .running ? nil : "\(state)")
            } catch let error as VirtError where error.isNoDomain {
                reading = PartnerReading(notRunning: "not on \(host)")
            } catch {
                reading = PartnerReading(notRunning: "its host does not answer: \(error)")
            }
        } else {
            reading = PartnerReading(notRunning: "no host known")
        }
        guardrailLock.withLock { partnerReadings[vm.name] = reading }
        return reading
    }
}

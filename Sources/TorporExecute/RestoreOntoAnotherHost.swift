import Foundation
import TorporCore
import TorporStore
import TorporVirt

/// A sleep brought back on another host than the one it slept on (`torpor-execute restore --from-pool --onto`): its
/// host gone for good, the VM defined again elsewhere, its memory in the state pool. Never two copies running.
extension Executor {
    /// Why `vm`, asleep by `power`, may be restored onto `onto`, or throws why not (nothing done): the pool holds this
    /// sleep's image, the host it slept on no longer has the domain (`ensureGone`), and `onto` has it defined and shut
    /// off (one running or paused there was started without its memory). The actions a run left open for it on the
    /// host it slept on are closed as failed first, so that host coming back finishes none of them (a restore there
    /// would run a second copy).
    func movable(_ vm: String, asleep power: PowerRecord, onto: String, hostGone: Bool, by who: String, at time: EpochSeconds) throws -> String {
        guard power.manifestID != nil else {
            throw ExecuteError(.badInput, "the state pool has no image of \(vm)'s current sleep\(Self.whyNotPooled(power)): its memory is only in libvirt's "
                               + "image on \(power.host); nothing restored")
        }
        let gone = try ensureGone(vm, from: power.host, hostGone: hostGone, by: who, instead: "restored onto \(onto) too, it would run twice; "
                                  + "torpor-execute wake \(vm) restores it there, or undefine it there first", nothingDone: "nothing restored")
        let state: DomainState
        do { state = try connection(onto).domain(named: vm).info().state } catch let error as VirtError where error.isNoDomain {
            throw ExecuteError(.badInput, "libvirt on \(onto) has no domain \(vm): define it there first (virsh define with its XML, its disks on the "
                               + "paths it slept with); nothing restored")
        }
        guard state == .shutOff else {
            throw ExecuteError(.badInput, "\(vm) on \(onto) is \(state), not shut off: started there without its memory? Its sleep's memory stays "
                               + "in the pool; nothing restored")
        }
        try store.transaction { db in
            for open in try JournalRepository.unfinished(in: db) where open.vm == vm && open.host != onto {
                var closed = open
                closed.step = .failed
                closed.at = time
                closed.detail = "given up: \(vm) is restored onto \(onto) (\(gone))"
                try JournalRepository.append(closed, in: db)
            }
        }
        return gone
    }

    /// Once `vm` runs on `onto` (a restored event), the store places it there: the host it slept on, should it come
    /// back with the old saved domain, then holds a name the store has on another host, which `check` names and
    /// `wake --all` does not start. Not recorded: said (the VM runs; the next collection of `onto` moves it too).
    func placeAfterTheMove(_ vm: String, onto: String, events: [ExecutionEvent], log: EventLog, clock: () -> EpochSeconds) {
        guard events.contains(where: { $0.event == "restored" && $0.vm == vm }) else { return }
        do {
            try store.transaction { db in
                guard let record = try VMRepository.all(in: db).first(where: { $0.name == vm }) else { return }
                try VMRepository.setPlacement(vm: record.id, hostURI: onto, labels: record.labels, in: db)
            }
        } catch {
            log.record(.init(event: "failed", time: clock(), vm: vm, host: onto,
                             detail: "\(vm) runs on \(onto), but the store cannot place it there (\(error)); the next collection of \(onto) does"))
        }
    }

    /// Why `vm` counts as gone from `host`: libvirt there has no such domain, or (`hostGone`) cannot answer and `who` says
    /// the host is gone for good. Refused (`instead`: what to do then; `nothingDone`: what was not done) while libvirt
    /// there still has the domain, in any state, or cannot say without `hostGone`.
    func ensureGone(_ vm: String, from host: String, hostGone: Bool, by who: String, instead: String, nothingDone: String) throws -> String {
        do {
            let state = try connection(host).domain(named: vm).info().state
            throw ExecuteError(.badInput, "libvirt on \(host) still has \(vm) (\(state)): \(instead); \(nothingDone)")
        } catch let error as VirtError where error.isNoDomain {
            return "libvirt on \(host) has no domain \(vm) (undefined, or moved while it slept)"
        } catch let error as ExecuteError where error.kind == .badInput {
            throw error
        } catch where hostGone {
            return "\(host) is gone for good, said \(who) (libvirt: \(error))"
        } catch {
            throw ExecuteError(.runtime, "libvirt on \(host) cannot say whether \(vm) is there (\(error)): \(nothingDone) "
                               + "(--host-gone if the host is gone for good)")
        }
    }
}

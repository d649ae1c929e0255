import Foundation
import TorporCore
import TorporStore
import TorporVirt

/// A sleep brought back on another host than the one it slept on (`torpor-execute restore --from-pool --onto`): its
/// host gone for good, the VM defined again elsewhere, its memory in the state pool. Never two copies running.
extension Executor {
    /// Moves `vm`'s sleep (`power`) onto `onto` in the store, or throws why not (nothing done), and says why the host
    /// it slept on counts as gone. Refused while the pool has no image of this sleep, the VM ran on another host since its
    /// save began (`Executor.ranElsewhere(during:until:in:)`: the pool's memory is older than the disks that copy wrote), an action is left open for the VM
    /// on a third host (an earlier move's: `run` finishes it), the host it slept on still has the domain (`ensureGone`),
    /// or `onto` does not have it defined and shut off (one running or paused there was started without its memory).
    /// Then, in one transaction before libvirt acts: what a run left open for it on the old host is closed as failed
    /// (that host coming back must finish none of it), and the sleep and the VM are placed on `onto`, so that every
    /// later restore (a pass's, a wake's) is made there and the old host, should it return with its stale copy, holds a
    /// name placed elsewhere.
    func move(_ vm: String, asleep power: PowerRecord, onto: String, hostGone: Bool, by who: String, at time: EpochSeconds) throws -> String {
        guard power.manifestID != nil else {
            throw ExecuteError(.badInput, "the state pool has no image of \(vm)'s current sleep\(Self.whyNotPooled(power)): its memory is only in libvirt's "
                               + "image on \(power.host); nothing restored")
        }
        if let ran = try store.read({ try Self.ranElsewhere(during: power, until: time, in: $0) }) {
            throw ExecuteError(.badInput, "\(vm) was found running on \(ran) while asleep (\(Self.ranElsewhereText)): the state pool's memory of it is "
                               + "older than the disks that copy wrote; nothing restored. To keep that copy: torpor-execute forget \(vm) --host-gone "
                               + "--discard-saved-state")
        }
        if let open = try store.read({ try JournalRepository.unfinished(in: $0) }).first(where: { $0.vm == vm && $0.host != power.host }) {
            throw ExecuteError(.badInput, "a \(open.kind.rawValue) of \(vm) is left open on \(open.host) (\(open.step.rawValue) since \(UTC.format(open.at))): "
                               + "torpor-execute run finishes it first; nothing restored")
        }
        let gone = try ensureGone(vm, from: power.host, hostGone: hostGone, by: who, instead: "restored onto \(onto) too, it would run twice; torpor-execute "
                                  + "wake \(vm) restores it there, or remove it there first (virsh undefine --managed-save)", nothingDone: "nothing restored")
        let state: DomainState
        do { state = try connection(onto).domain(named: vm).info().state } catch {
            guard let error = error as? VirtError, error.isNoDomain else {
                throw ExecuteError(.runtime, "libvirt on \(onto) cannot say whether \(vm) is defined there (\(error)); nothing restored")
            }
            throw ExecuteError(.badInput, "libvirt on \(onto) has no domain \(vm): define it there first (virsh define with its XML, its disks on the "
                               + "paths it slept with); nothing restored")
        }
        guard state == .shutOff else {
            throw ExecuteError(.badInput, "\(vm) on \(onto) is \(state), not shut off: started there without its memory? Its sleep's memory stays "
                               + "in the pool; nothing restored")
        }
        try store.transaction { db in
            for open in try JournalRepository.unfinished(in: db) where open.vm == vm {
                var closed = open
                closed.step = .failed
                closed.at = time
                closed.detail = "given up: \(vm) is restored onto \(onto) (\(gone))"
                try JournalRepository.append(closed, in: db)
            }
            var moved = power
            moved.host = onto
            try JournalRepository.setPower(moved, in: db)
            if let record = try VMRepository.all(in: db).first(where: { $0.name == vm }) { try VMRepository.setHost(vm: record.id, hostURI: onto, in: db) }
        }
        return gone
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

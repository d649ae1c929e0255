import Foundation
import TorporCore
import TorporStore

extension Executor {
    /// The action id of a forgotten sleep's closing step begins with this.
    static let forgottenPrefix = "forget:"

    /// Ends torpor's record of a sleep whose domain libvirt no longer has on the host the VM slept on (undefined, or
    /// moved away by a person while it slept): its restore failed every pass ("Domain not found"), `check` named it asleep
    /// past its restore, and nothing closed it. Refused while libvirt there still has the domain (`wake` it) or cannot
    /// say, unless `hostGone` (a person's word that the host is gone for good); refused too while the state pool holds
    /// the sleep's memory (often its only copy: libvirt's image goes with the domain), unless `discardSavedState`. The
    /// sleep is closed as a restore `done` would close it (its hours end there), with no restore time measured.
    /// Returns what was recorded.
    public func forget(vm: String, by who: String, hostGone: Bool, discardSavedState: Bool, options: ExecutionOptions) throws -> String {
        let log = EventLog(path: options.eventLog)
        var recorded = ""
        // Never beside an executor acting on it: a restore under way finds the domain, or fails by itself.
        try exclusively(vm, options, evenIfBroken: true, refused: { why, broken in
            if !broken { throw ExecuteError(.runtime, "\(vm): \(why); try again when it is done") }
        }) {
            guard let power = try store.read({ try JournalRepository.power(in: $0)[vm] }), power.state == .hibernated else {
                throw ExecuteError(.nothingToDo, "\(vm) is not asleep in torpor's record: nothing to forget (torpor-execute status lists the VMs asleep)")
            }
            let gone = try ensureGone(vm, from: power.host, hostGone: hostGone, by: who,
                                      instead: "torpor-execute wake \(vm) brings it back", nothingDone: "nothing forgotten")
            if let manifest = power.manifestID, !discardSavedState {
                throw ExecuteError(.badInput, "the state pool holds \(vm)'s memory of this sleep (image \(manifest)), perhaps its only copy: define the "
                                   + "VM again and torpor-execute restore --from-pool \(vm) brings it back; --discard-saved-state to forget the sleep anyway "
                                   + "(the pool keeps the image until pool gc); nothing forgotten")
            }
            let at = options.now, actionID = Self.forgottenPrefix + "\(vm):\(UTC.format(at))"
            recorded = "forgotten by \(who): \(gone); its sleep since \(UTC.format(power.since)) is owed no restore"
            var closing = JournalEntry(actionID: actionID, planID: nil, vm: vm, host: power.host, kind: .restore, step: .done, at: at, detail: recorded)
            closing.late = false
            try journal(closing, power: PowerRecord(vm: vm, host: power.host, state: .running, since: at, actionID: actionID))
            log.record(.init(event: "forgotten", time: at, vm: vm, host: power.host, detail: recorded))
        }
        return recorded
    }
}

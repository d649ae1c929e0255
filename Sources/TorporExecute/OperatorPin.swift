import Foundation
import GRDB
import TorporCore
import TorporStore

/// What `Executor.pin` did, for the operator to read.
public struct PinOutcome: Sendable {
    /// The pin, in words.
    public var pinned: String
    /// What could not be checked (whether a VM torpor never slept is asleep, when libvirt could not be asked), or what
    /// went wrong beside the wake (libvirt booted the VM afresh: `memoryLost`).
    public var warning: String?
    /// The wake brought the VM back without its memory (libvirt found no complete saved image and booted it).
    public var memoryLost = false
}

extension Executor {
    /// Pins `vm` awake until `until` (nil: until unpinned; `torpor-execute pin`) and wakes it when torpor has it asleep
    /// or has no record of it running (libvirt has the last word: a VM saved outside torpor is woken too; one that runs
    /// is left as it is). A pin that cannot be recorded does not stop the wake: the VM comes back, then that failure is
    /// thrown (`needsPerson` when the wake lost the VM's memory, `Executor.bootedAfresh`). Throws when the VM is unknown
    /// or the wake fails, saying whether the pin holds.
    public func pin(vm: String, until: EpochSeconds?, by who: String, options: ExecutionOptions) throws -> PinOutcome {
        let now = options.now
        if let until, until <= now { throw ExecuteError(.badInput, "the pin's end \(UTC.format(until)) is not after now (\(UTC.format(now))): nothing to pin") }
        guard try store.read({ try VMRepository.all(in: $0) }).contains(where: { $0.name == vm }) else {
            throw ExecuteError(.badInput, "no VM named \(vm) in the store \(store.path): nothing to pin")
        }
        var outcome = PinOutcome(pinned: "\(vm) pinned awake" + (until.map { " until \(UTC.format($0))" } ?? " until unpinned"))
        let record = { (db: Database) in try JournalRepository.pin(PinRecord(vm: vm, until: until, pinnedBy: who, pinnedAt: now), in: db) }
        // The pin waits for another process's write as the wake's restore steps do, with them (`restoreJournalWait`, once):
        // an ingest holding the store must not hold the wake for the store's 30 s. Refused, it is written after the wake,
        // waiting as any write.
        var unpinned: Error?
        restoreSteps.reset()
        do { try store.transaction(waitingAtMost: Self.restoreJournalWait, together: restoreSteps, record) } catch { unpinned = error }
        // What torpor has of it: when that cannot be read, the wake is tried all the same and its failure is one. A save
        // a killed run started may have completed without a record: libvirt is asked then too.
        let recorded: PowerRecord.State?, known: Bool
        do {
            recorded = try store.read { db in
                let saving = try JournalRepository.unfinished(in: db).contains { $0.vm == vm && $0.kind == .hibernate && $0.step == .started }
                return saving ? nil : try JournalRepository.power(of: vm, in: db)?.state
            }
            known = true
        } catch {
            (recorded, known) = (nil, false)
        }
        var events: [ExecutionEvent] = [], wakeFailure: Error?
        func notWoken(_ why: String) -> ExecuteError {
            // Held where it ran on another host while asleep (the executor's passes hold it too), or refused for a
            // person (an image older than the VM's run): a person decides.
            let held = why.contains(Executor.ranElsewhereText) || (wakeFailure as? ExecuteError)?.kind == .needsPerson
            return ExecuteError(held ? .needsPerson : .runtime, unpinned.map { "\(vm) is neither pinned (\($0)) nor woken (\(why))" }
                                ?? "\(vm) is pinned but not woken now (\(why)); " + (held ? "a person decides: the executor's passes do not restore it either"
                                                                                  : "a pinned sleeper is owed its restore: the executor's next pass tries again"))
        }
        if recorded != .running {
            do {
                events = try wake(vm: vm, by: who + " (pin)", options: options, recordsAtItsEnd: false, byPin: true)
            } catch let error as ExecuteError where error.kind == .nothingToDo {
                // libvirt runs it: nothing to wake.
            } catch {
                wakeFailure = error
            }
        }
        // The pin before the wake's records kept back: recorded running without it, the VM could be saved again meanwhile.
        if unpinned != nil {
            do { try store.transaction(record); unpinned = nil } catch { unpinned = error }
        }
        recordHeldBackRestores(log: EventLog(path: options.eventLog), clock: Self.clock(from: options.now))
        if let wakeFailure {
            // torpor never slept it: most likely running. The pin holds; say what could not be checked.
            guard known && recorded == nil && unpinned == nil, (wakeFailure as? ExecuteError)?.kind != .needsPerson else { throw notWoken("\(wakeFailure)") }
            outcome.warning = "pinned, but whether \(vm) is asleep could not be checked now: \(wakeFailure)"   // libvirt, or another executor holding it
        }
        if !events.contains(where: { $0.event == "restored" }), let failure = Self.wakeFailure(in: events) {
            throw notWoken(failure.detail)
        }
        if let booted = Self.memoryLost(in: events) {
            outcome.warning = booted.detail
            outcome.memoryLost = true
        }
        // Recorded running while another executor holds the VM: its save may be under way, past its own look at the pins.
        if recorded == .running, locks?.heldByAnother(vm) == true {
            outcome.warning = "another torpor-execute acts on \(vm) now (a save may be under way): should it sleep, the executor's next pass wakes it (it is pinned)"
        }
        if let unpinned {
            // Woken without its memory as well: that needs a person more than the pin does.
            throw ExecuteError(outcome.memoryLost ? .needsPerson : .runtime,
                               "\(vm) could not be pinned (\(unpinned)); it is awake" + (outcome.memoryLost ? ", without its memory (\(outcome.warning ?? ""))" : ""))
        }
        return outcome
    }
}

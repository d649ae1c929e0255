import Foundation
import GRDB
import TorporCore
import TorporStore

/// `torpor-execute check`: what needs a person now, whatever its cause (the executor stopped, crashing, or failing on a
/// host): a VM asleep past its restore's deadline, a due restore whose last attempt failed, a sleep whose saved state is
/// gone, a VM its restore booted without its memory, a VM a failed hibernation left down (off, paused for a fault,
/// booted afresh), an action left started, a host the libvirt collector has stopped collecting, a VM libvirt holds saved
/// that torpor did not put to sleep, a VM running on two hosts at once, the store's filesystem full (or no room kept beside the store for restores), an
/// executor on an older torpor than the store's holding hibernations back, no plan made for hours.
/// A watch job (`pipelines/watch.sh`) notifies on it, so that a VM is not left asleep without anyone knowing.
public enum ExecutionCheck {
    /// One thing that needs a person, about one VM. `text` stays the same from one check to the next while nothing
    /// changes (it names no `now`), so that a watch can tell a new problem from one it has already reported.
    public struct Problem: Equatable, Sendable {
        public var vm: String
        public var kind: Kind
        public var text: String
    }

    /// What kind of thing needs a person (`torpor-execute metrics` counts each).
    public enum Kind: String, CaseIterable, Sendable {
        case asleepPastRestore = "asleep_past_restore", restoreFailing = "restore_failing", savedStateLost = "saved_state_lost",
             memoryLost = "memory_lost", downAfterHibernation = "down_after_hibernation", besideOlderImage = "beside_older_image",
             actionUnfinished = "action_unfinished", savedWithoutRecord = "saved_without_record", noCollection = "no_collection",
             filesystemFull = "filesystem_full", noRoomKept = "no_room_kept", olderExecutor = "older_executor", noRecentPlan = "no_recent_plan",
             runningOnTwoHosts = "running_on_two_hosts", restoreHeld = "restore_held", asleepOnUncollectedHost = "asleep_on_uncollected_host"
    }

    /// Whether `host` is one no libvirt collection has read by `now`, in a store a libvirt collector feeds (in one it does
    /// not, every host is read by another source, or by none).
    public static func uncollectedHost(_ host: String, by now: EpochSeconds, in db: Database) throws -> Bool {
        try SourceRepository.firstIngested(kind: "libvirt", by: now, in: db) != nil
            && SourceRepository.lastIngested(kind: "libvirt", location: host, by: now, in: db) == nil
    }

    /// How long after a collection last found a VM running on two hosts at once it is still named: three collections
    /// (every 5 minutes), so that one missed collection does not clear it.
    static let runningCopiesNamedFor: EpochSeconds = 15 * 60

    /// The problems at `now`. `grace`: how long past its deadline a restore may still be under way (a pass every few
    /// minutes, a restore's time) before it is overdue, and how long an action may stay started. `replaying` (a `--now`
    /// given): what was asleep then, from the journal. `locks`: the executors' VM locks, to tell a save still under way
    /// (its VM's lock held: a save that hangs) from one a killed run left open that the next pass may still do.
    /// `collectorSilence`: how long a host that holds VMs may go without a libvirt collection (`torpor-ingest libvirt`,
    /// every 5 minutes) before it is named: its VMs are then planned from stale data and kept running, so torpor
    /// quietly stops saving there (0: not checked).
    /// `planSilence`: how long the store may go without a new plan (the hourly job's), or without a first one once the
    /// jobs' libvirt collections began (0: not checked).
    public static func problems(store: Store, now: EpochSeconds, grace: Int64, collectorSilence: Int64 = 30 * 60, planSilence: Int64 = 0,
                                replaying: Bool = false, locks: VMLocks? = nil) throws -> [Problem] {
        try store.read { db in
            var problems: [Problem] = []
            let power = try JournalRepository.power(at: replaying ? now : .max, in: db), unfinished = try JournalRepository.unfinished(in: db)
            let owed = try DueActions.owedRestores(now: now, replaying: replaying, in: db)
            for r in owed where r.at <= now {
                let last = try JournalRepository.recent(limit: 1, vm: r.vm, in: db).first
                let failure = last.flatMap { $0.kind == .restore && $0.step == .failed ? $0 : nil }
                // No time in the words: a restore failing each pass reads the same (a watch tells it once, then reminds).
                // A domain gone from its host (undefined, or moved while it slept) fails every pass: the way out is said.
                let gone = failure?.detail.contains(Executor.domainGone) == true
                    ? " (if it was undefined or moved on purpose: torpor-execute forget \(r.vm) ends the sleep's record)" : ""
                let failed = failure.map { "; its last restore failed: \($0.detail)" + gone } ?? ""
                let due = r.dueSince ?? r.deadline
                if now > due + grace {
                    let what = r.dueSince == nil ? "deadline \(UTC.format(r.deadline)) (\(r.actionID))" : "restore due since \(UTC.format(due)) (\(r.reason))"
                    problems.append(Problem(vm: r.vm, kind: .asleepPastRestore, text: "\(r.vm) on \(r.host): ASLEEP past its restore: \(what)" + failed))
                } else if let failure {
                    let when = r.dueSince.map { "due since \(UTC.format($0))" } ?? "deadline \(UTC.format(r.deadline))"
                    // Held because the VM ran on another host while asleep: trying again changes nothing, a person decides.
                    if failure.detail.contains(Executor.ranElsewhereText) {
                        problems.append(Problem(vm: r.vm, kind: .restoreHeld, text: "\(r.vm) on \(r.host): RESTORE HELD FOR A PERSON, \(when)" + failed))
                    } else {
                        problems.append(Problem(vm: r.vm, kind: .restoreFailing, text: "\(r.vm) on \(r.host): restore failing, \(when)" + failed + " (the executor tries again each pass)"))
                    }
                }
            }
            // A sleep whose saved state is gone (libvirt's image lost before the pool had it): its restore will fail.
            for p in power.values.sorted(by: { $0.vm < $1.vm })
            where p.state == .hibernated && p.poolRefused?.hasPrefix(Executor.imageLost) == true && !problems.contains(where: { $0.vm == p.vm }) {
                problems.append(Problem(vm: p.vm, kind: .savedStateLost, text: "\(p.vm) on \(p.host): ASLEEP WITHOUT A SAVED STATE since \(UTC.format(p.since)): libvirt lost its "
                                        + "image before the state pool had it; its restore will fail and torpor never cold-boots it: a person decides"))
            }
            // A restore that brought a VM back without its memory (libvirt found its image gone or cut, and booted it):
            // told for a day after.
            // (Only VMs acted on within the day can have been; their newest steps, through the journal's index by VM.)
            for p in power.values.sorted(by: { $0.vm < $1.vm })
            where p.since <= now && now - p.since <= 86_400 {
                guard let booted = try JournalRepository.recent(limit: 100, vm: p.vm, in: db).first(where: { e in
                    e.at <= now && now - e.at <= 86_400 && e.kind == .restore && e.step == .done && e.detail.contains(Executor.bootedAfresh)
                }) else { continue }
                problems.append(Problem(vm: p.vm, kind: .memoryLost, text: "\(p.vm) on \(p.host): \(Executor.bootedAfresh) by its restore at \(UTC.format(booted.at)): "
                                        + "libvirt found no complete saved image and booted it; the memory it slept with is lost (named for a day)"))
            }
            /// Each VM's newest of `entries` (newest first) that `matters`, told for a day after, or until torpor acts on the
            /// VM again (the entry is no longer its newest step); a VM already named is not named twice.
            func tellForADay(_ kind: Kind, _ entries: [JournalEntry], where matters: (JournalEntry) -> Bool, _ text: (JournalEntry) -> String) throws {
                var told = Set<String>()
                for e in entries where matters(e) {
                    guard told.insert(e.vm).inserted, !problems.contains(where: { $0.vm == e.vm }),
                          try JournalRepository.recent(limit: 1, vm: e.vm, in: db).first?.id == e.id else { continue }
                    problems.append(Problem(vm: e.vm, kind: kind, text: "\(e.vm) on \(e.host): " + text(e) + ": \(e.detail) (named for a day, or until torpor acts on it again)"))
                }
            }
            // A hibernation that failed and left its VM down (off, paused for a fault, or booted afresh from a save cut short).
            try tellForADay(.downAfterHibernation, try JournalRepository.entries(of: .hibernate, from: now - 86_400, to: now, in: db), where: { Executor.leftDown($0.detail) }) {
                "DOWN after its hibernation \($0.actionID) failed at \(UTC.format($0.at))"
            }
            // A restore that left libvirt an image older than the VM's memory: a start after the guest's next shutdown
            // would load it over newer disks.
            try tellForADay(.besideOlderImage, try JournalRepository.entries(of: .restore, step: .done, from: now - 86_400, to: now, in: db),
                            where: { $0.detail.contains(Executor.staleImageLeft) }) {
                "RUNS BESIDE AN OLDER SAVED IMAGE since its restore \($0.actionID) at \(UTC.format($0.at))"
            }
            for e in unfinished where now > e.at + grace {
                // A hibernation waiting at `intent` (a pass put a killed run's back there, its VM running), its plan still
                // starting it, waits for a pass (busy, waiting for quiet, paused): not stuck unless an executor holds its
                // VM that long (a save that hangs). One still `started` past the grace is: no pass has reconciled it, and
                // its save may have completed with no restore owed.
                if e.kind == .hibernate, e.step == .intent, try DueActions.stillDue(e, now: now, in: db), !(locks?.heldByAnother(e.vm) ?? false) { continue }
                problems.append(Problem(vm: e.vm, kind: .actionUnfinished, text: "\(e.vm) on \(e.host): \(e.kind.rawValue) \(e.actionID) \(e.step.rawValue) at \(UTC.format(e.at)) and not "
                                        + "finished (an executor stopped in it, or libvirt has not answered; the next run reconciles it)"))
            }
            // A VM libvirt holds saved that torpor did not put to sleep: nothing restores it. Told for a day from the
            // first inventory that found it so (the metrics count it for as long as it lasts).
            for s in try JournalRepository.savedWithoutRecord(now: now, power: power, in: db)
            where now - s.since <= 86_400 && !problems.contains(where: { $0.vm == s.vm }) {
                problems.append(Problem(vm: s.vm, kind: .savedWithoutRecord, text: "\(s.vm) on \(s.host): SAVED WITHOUT TORPOR'S RECORD since \(UTC.format(s.since)): libvirt holds its "
                                        + "saved state, but torpor did not put it to sleep (a `virsh managedsave` by hand, or a store restored from "
                                        + "an older backup), so nothing restores it: `torpor-execute wake \(s.vm)` brings it back, or says why not (an image older "
                                        + "than the run torpor recorded, which a restore could not remove, is not started over newer disks) (named for a day)"))
            }
            // One VM's libvirt domain running on two hosts (a stale copy started beside it: a host back with an old saved
            // image, an autostart): both write its disks. Named once two collections in a row found it so (one alone may
            // have read a migration's source before the switch and its destination after).
            for c in try VMRepository.runningCopies(from: now - runningCopiesNamedFor, to: now, in: db) where c.seen > c.since {
                let held = c.onRecord.map { "; torpor's record has it on \($0)" } ?? ""
                problems.append(Problem(vm: c.vm, kind: .runningOnTwoHosts, text: "\(c.vm): RUNNING ON TWO HOSTS, \(c.hosts.joined(separator: " and ")) (the same "
                                        + "libvirt domain, in collections in a row\(held)): a stale copy was started (a host back with an old saved image?), "
                                        + "or one host is collected under two URIs (TORPOR_LIBVIRT_URI, or two collectors' --uri); confirm with virsh list on both, then stop the stale copy before both "
                                        + "write its disks (virsh destroy, then virsh undefine --managed-save there)"))
            }
            // An executor on an older torpor than the store's (left running by an upgrade: `--follow` keeps the binary it
            // started with) holds every due hibernation back: savings stop, nobody told but its own log.
            // (What the last run held is now's: not asked in a replay.)
            if !replaying, let since = try JournalRepository.held(in: db).values.filter({ $0.reason.hasPrefix(ExecutorSettings.newerSchemaHoldStart) })
                .map(\.since).min() {
                problems.append(Problem(vm: store.path, kind: .olderExecutor, text: "\(store.path): HIBERNATIONS HELD since \(UTC.format(since)): an executor runs an older "
                                        + "torpor than the store's and holds due hibernations back (restores go on): "
                                        + "restart it on the new binary (systemctl restart torpor-execute.service), or upgrade torpor again after a rollback"))
            }
            // The hourly job stopped or failing: the VMs asleep keep their approved restores, but nothing new is planned, and
            // once the approved plans' horizon passes torpor quietly saves nothing (its notices may be what failed).
            // A store never planned is counted from its first libvirt collection, which starts with the jobs (a
            // calendar's or a CSV's history is ingested by hand before): an hourly job failing from its first run.
            if planSilence > 0 {
                let last = try PlanRepository.lastCreated(upTo: now, in: db)
                if let since = try last ?? SourceRepository.firstIngested(kind: "libvirt", by: now, in: db), now - since > planSilence {
                    let none = last == nil ? "NO PLAN YET: none made since the first libvirt collection at \(UTC.format(since)), " : "NO PLAN since \(UTC.format(since)): none made "
                    problems.append(Problem(vm: store.path, kind: .noRecentPlan, text: "\(store.path): \(none)for over \(DurationText.format(planSilence)) "
                                            + "(the hourly job, torpor-plan make, stopped or failing: see its log); the VMs asleep keep their approved "
                                            + "restores, but no new hibernation is planned"))
                }
            }
            // A sleep on a host no collection has read, in a store the collector feeds (a restore `--onto` a host the jobs do
            // not list): an executor given the same hosts as the collector never restores it. Named at once, not at its
            // deadline. Not in a replay (the collections' record is pruned to each host's latest).
            if collectorSilence > 0, !replaying {
                let asleep = power.values.filter { $0.state == .hibernated }
                // Each host asked once, however many sleep there.
                let uncollected = try Set(asleep.map(\.host)).filter { try uncollectedHost($0, by: now, in: db) }
                for p in asleep.sorted(by: { $0.vm < $1.vm }) where uncollected.contains(p.host) && !problems.contains(where: { $0.vm == p.vm }) {
                    problems.append(Problem(vm: p.vm, kind: .asleepOnUncollectedHost, text: "\(p.vm) on \(p.host): ASLEEP ON A HOST NO COLLECTION READS since "
                                            + "\(UTC.format(p.since)): not in TORPOR_LIBVIRT_URI, or its collection always fails (see the collector's log); "
                                            + "an executor whose --host list leaves it out never restores it: add the host, or wake it "
                                            + "(torpor-execute wake \(p.vm) --host \(p.host))"))
                }
            }
            if collectorSilence > 0 {
                let vmsByHost = Dictionary(grouping: try VMRepository.all(in: db).compactMap(\.hostURI), by: { $0 }).mapValues(\.count)
                for (host, vms) in vmsByHost.sorted(by: { $0.key < $1.key }) {
                    guard let last = try SourceRepository.lastIngested(kind: "libvirt", location: host, by: now, in: db), now - last > collectorSilence else { continue }
                    problems.append(Problem(vm: host, kind: .noCollection, text: "\(host): NO COLLECTION since \(UTC.format(last)): the libvirt collector (torpor-ingest libvirt) "
                                            + "has stored none for over \(collectorSilence / 60) min; its \(vms) VMs are planned from stale data and kept "
                                            + "running (see its log; `torpor-ingest release VM` for a host gone for good)"))
                }
            }
            return problems
        } + storeRoom(store)
    }

    /// `JournalRepository.savedWithoutRecord` at `now` (`replaying`: by torpor's records as they were then), for `check`'s all-clear,
    /// which names them only for a day.
    public static func savedWithoutRecord(store: Store, now: EpochSeconds, replaying: Bool) throws -> [SavedDomain] {
        try store.read { try savedWithoutRecord(now: now, replaying: replaying, in: $0) }
    }

    /// `JournalRepository.savedWithoutRecord` at `now`, by torpor's records as they are (or, `replaying`, as they were then).
    static func savedWithoutRecord(now: EpochSeconds, replaying: Bool = false, in db: Database) throws -> [SavedDomain] {
        try JournalRepository.savedWithoutRecord(now: now, power: try JournalRepository.power(at: replaying ? now : .max, in: db), in: db)
    }

    /// The store's filesystem when it has no room left for the reserve kept beside the store for restores (made again
    /// here once it has): a person must free room before torpor can record, or hibernate, anything more. Or the reserve
    /// when it cannot be made for another cause (a read-only folder).
    static func storeRoom(_ store: Store) -> [Problem] {
        let state = StoreReserve(store: store.path).keep()
        guard let problem = state.problem else { return [] }
        if case .unmade = state { return [Problem(vm: store.path, kind: .noRoomKept, text: "\(store.path): NO ROOM KEPT FOR RESTORES: " + problem)] }
        return [Problem(vm: store.path, kind: .filesystemFull, text: "\(store.path): FILESYSTEM FULL: " + problem)]
    }
}

import Foundation
import GRDB
import TorporCore
import TorporPlan
import TorporStatePool
import TorporStore
import TorporVirt
#if canImport(Glibc)
import Glibc
#endif

/// How one executor run works.
public struct ExecutionOptions: Sendable {
    /// The run's time (`--now`); journal steps are stamped with it plus the time the run has taken.
    public var now: EpochSeconds
    /// The hosts this executor acts on (`--host`, repeatable); nil: every host in the plans.
    public var hosts: Set<String>?
    /// The hosts of the whole run, while a pass acts on one of them (`hosts`): the guardrails ask libvirt on these only.
    var runHosts: Set<String>?
    /// Decide and report, change nothing.
    public var dryRun = false
    /// Restores at once per host; nil: as many as the plans queued the host's restores for (the policy's
    /// `concurrent_restores` of the host, `Plan.Action.hostConcurrentRestores`), else 2.
    public var concurrentRestores: Int?
    /// A state pool to take each saved image into (delta snapshots) and to restore from when libvirt's image is gone.
    public var pool: (directory: String, capacityBytes: Int64)?
    /// Where libvirt keeps managed-save images.
    public var managedSaveDirectory = Self.defaultManagedSaveDirectory
    /// Where qemu:///system keeps them.
    public static let defaultManagedSaveDirectory = "/var/lib/libvirt/qemu/save"
    /// The file libvirt keeps `vm`'s managed-save image in, on this machine.
    public func managedSaveImage(of vm: String) -> String { Self.managedSaveImage(of: vm, in: managedSaveDirectory) }
    /// The file libvirt keeps `vm`'s managed-save image in, in `directory`.
    public static func managedSaveImage(of vm: String, in directory: String) -> String { directory + "/\(vm).save" }
    /// JSON lines of every event.
    public var eventLog: String?
    /// Why no hibernation may start this run, if one may not (a demand signal misconfigured: the VMs it should watch
    /// would sleep unwatched); restores go on.
    public var holdHibernations: String?
    /// The policy in force now (`--policy`, `$TORPOR_POLICY`), nil when not known here: a VM it excludes is not
    /// hibernated though an approved plan, made before the exclusion, holds its window.
    public var policy: Policy?

    public init(now: EpochSeconds) { self.now = now }

    /// Holds every new hibernation of the run for `why`, beside any hold already set.
    public mutating func hold(_ why: String) {
        holdHibernations = [holdHibernations, why].compactMap { $0 }.joined(separator: "; ")
    }

    /// Takes the policy in force from `read`; one that cannot be read holds every new hibernation (torpor-plan makes no
    /// plan from it either), restores going on.
    public mutating func readPolicy(_ read: () throws -> Policy) {
        do { policy = try read() } catch { hold("no new hibernations while the policy in force cannot be read: \(error)") }
    }
}

/// Applies the due actions of the approved plan through libvirt, journaling every step before acting, after first
/// reconciling what an interrupted run left unfinished. Restores come first and are never blocked (not by pause, expiry,
/// a newer plan or a missing approval); hibernations need the newest approved plan, unexpired, and a pre-flight check.
/// One failing VM never stops the others, one host that does not answer never holds up the others; a failed
/// hibernation leaves the VM running.
public final class Executor: @unchecked Sendable {
    public let store: Store
    let connect: @Sendable (String) throws -> VirtConnection
    /// Keeps other executors off a VM while this one acts on it (nil: this process alone runs executors on the store).
    let locks: VMLocks?
    /// VMs a pass of this executor acts on now: a later pass leaves them to it.
    private var vmsInAction: Set<String> = []
    /// State-pool bytes promised to this executor's hibernations, by VM, from the pre-flight until the image's copy
    /// ends, or the VM is restored (hosts check the pool's room side by side, and copies come at a pass's end).
    private(set) var poolReservations: [String: Int64] = [:]
    /// VMs whose image a thread of this executor copies into the pool now.
    private var vmsPooling: Set<String> = []
    /// VMs this executor woke because the journal could not record their sleep (`wakeUnrecordedSleep`): not saved again
    /// by it, so that a store that takes small rows but not a sleep's does not have them saved and woken every pass.
    private var wokenUnrecorded: Set<String> = []
    /// The VMs a dry run would have put to sleep: asleep, for the rest of its guardrails' counts.
    var dryRunClaims: Set<String> = []
    /// Held while the guardrails are counted and the intent journaled (`withGuardrailsCounted`).
    let guardrailLock = NSLock()
    /// What libvirt showed this run of each host's domains, and when, for the guardrails (`domainStates`).
    var partnerStates: [String: (at: Date, states: Result<[String: DomainState], Error>)] = [:]
    /// How long a host's domains' states read for the guardrails serve (seconds): the hibernations a pass starts one
    /// after another share a reading, but a partner a person shut down a minute ago must not count as running (a group
    /// of `min_running` 1 left with none), nor one another host's pass read before copying images for minutes.
    var partnerStatesServeFor: TimeInterval = 5
    /// How long a pre-flight waits for another executor's guardrails count (`withGuardrailsCounted`).
    var guardrailsPatience: Double = 10
    /// Flushes a saved image to disk (`flushImage`; a test makes it fail, which no real disk here can be made to).
    var flushSavedImage: @Sendable (String) throws -> Void = Executor.flushImage
    /// How long after a host's hibernations began a pass still starts them (seconds): what it read once for them (the
    /// plans made since the approved one, calendar events, pins) is that old by then; the rest wait for the next pass,
    /// which reads them again. Counted from the hibernations' start, not the pass's: restores and pool copies before
    /// them must not use it up.
    var hibernationsStartWithin: Int64 = 300
    /// Set in a run once that wait gave up: the run's other hibernations are held back at once.
    var guardrailsLockBusy = false
    /// A run's (a `wakeAll`'s, a pin's and its wake's) restore steps: once one gave up waiting for another process's
    /// write, the others go on without theirs at once (each waited in turn on the store's one writer). Reset by each.
    let restoreSteps = WritesGivingUpTogether()
    /// Restores ended this run whose record the busy store kept back: written at the run's (or wake's) end
    /// (`recordHeldBackRestores`) with their own times, lateness and restore seconds (the next run's reconcile would
    /// stamp a done one with its own time: an on-time restore read late, its restore time lost to the planner's p95). A
    /// failed one has no power record: its failure is what the state pool's retry wait and `check` read.
    private var heldBackRestores: [HeldBackRecord] = []
    /// Guards `partnerStates`, `dryRunClaims`, `guardrailsLockBusy` and `heldBackRestores` (held for an instant: never
    /// across a wait).
    let partnerLock = NSLock()
    let load: LoadSource
    let demand: DemandSignal?
    let stepLimit: Int?
    let killDuringLibvirt: Double?
    private var steps = 0
    private let stepLock = NSLock()
    private var connections: [String: VirtConnection] = [:]
    /// Hosts whose connection failed slowly in this pass (no answer for seconds), and why: their other VMs fail at once
    /// instead of each waiting for the same timeout. A quick refusal (libvirtd restarting) is not remembered.
    private var unreachable: [String: Error] = [:]
    /// How long a failed connection must have taken to be remembered in `unreachable`.
    var slowRefusalSeconds: TimeInterval = 5
    private var hostLocks: [String: NSLock] = [:]
    private let connectionLock = NSLock()
    /// Every pass's host threads until each is done (one a pass stopped waiting for goes on): what a follower asked to stop
    /// waits for, so that no save or restore is cut off.
    private let hostsUnderWay = DispatchGroup()
    /// Set by `stopHibernating`; read through `isStopping`.
    private var stopping = false
    /// What `watch` asked to hear of, and its subscriptions by host (renewed with the connection).
    private var lifecycleHandler: (@Sendable (String, DomainLifecycleEvent) -> Void)?
    private var subscriptions: [String: VirtEventSubscription] = [:]

    /// `connect` opens a host's connection (tests pass the test driver's); `load` reads demand for the pre-flight check.
    /// `TORPOR_EXECUTE_KILL_AFTER_STEP=N` makes the process kill itself with SIGKILL right after its N-th journal step
    /// (the crash test); `TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS=T` kills it T ms into its first save or restore call
    /// (or as that call returns, when it is quicker).
    /// `locks`: taken per VM for each action (the command-line executor passes the store's).
    public init(store: Store, load: LoadSource = SampledLoad(), demand: DemandSignal? = nil, locks: VMLocks? = nil,
                connect: @escaping @Sendable (String) throws -> VirtConnection = { try VirtConnection.open(uri: $0) }) {
        self.store = store
        self.locks = locks
        self.load = load
        self.demand = demand
        self.connect = connect
        stepLimit = ProcessInfo.processInfo.environment["TORPOR_EXECUTE_KILL_AFTER_STEP"].flatMap(Int.init)
        killDuringLibvirt = ProcessInfo.processInfo.environment["TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS"].flatMap(Double.init)
    }

    // MARK: the run

    /// One pass over every host of `options.hosts` (nil: every host the store knows), each host on a thread of its own:
    /// reconcile, owed restores, due hibernations, each VM under its lock (`exclusively`), and the sleeps' images into
    /// the state pool (before the hibernations, what earlier passes left; after, the new ones). Returns when every host
    /// is done, or after `waitAtMost` seconds: a host still going then goes on in its thread, and later passes leave
    /// the VM it acts on alone. A host's failure does not stop the others; it is logged (`failed`) and the first (by
    /// host) is thrown once all are done.
    @discardableResult
    public func run(_ asked: ExecutionOptions, waitAtMost: TimeInterval? = nil) throws -> [ExecutionEvent] {
        let options = holdingForDemandRulesMatchingNothing(asked)
        let log = EventLog(path: options.eventLog)
        let clock = Self.clock(from: options.now)
        forgetUnreachableHosts()
        partnerLock.withLock { partnerStates = [:]; dryRunClaims = []; guardrailsLockBusy = false }
        restoreSteps.reset()
        let fleet = FleetReads(store: store, now: options.now)
        let hosts = try options.hosts ?? knownHosts(approved: try? fleet.approved.get())
        let passed = Result { try eachHost(hosts, waitAtMost: waitAtMost, log: log, clock: clock) { host in
            try self.pass(on: host, options, fleet: fleet, log: log, clock: clock)
        } }
        recordHeldBackRestores(log: log, clock: clock)   // a host's failure too: kept for a later pass, they would be older still
        try passed.get()
        return log.events
    }

    /// A clock that starts at `now` and runs with the wall clock: the times a pass, or an operator's command, records.
    static func clock(from now: EpochSeconds) -> @Sendable () -> EpochSeconds {
        let started = Date()
        return { now + EpochSeconds(Date().timeIntervalSince(started)) }
    }

    /// `body` for each of `hosts`, each on a thread of its own; returns when every host is done, or after `waitAtMost`
    /// seconds (a host still going goes on in its thread). A host's failure stops none of the others: it is logged
    /// (`failed`) and the first (by host) is thrown once all are done.
    private func eachHost(_ hosts: Set<String>, waitAtMost: TimeInterval? = nil, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds,
                          _ body: @escaping @Sendable (String) throws -> Void) throws {
        let failures = HostFailures()
        let group = DispatchGroup()
        for host in hosts.sorted() {
            group.enter()
            hostsUnderWay.enter()
            Thread.detachNewThread { [hostsUnderWay] in
                // The pass's own group last: whoever it wakes finds this host's part already left the executor's.
                defer { hostsUnderWay.leave(); group.leave() }
                do { try body(host) } catch {
                    failures.add(host, error)
                    log.record(.init(event: "failed", time: clock(), host: host, detail: "\(host): the pass stopped: \(error)"))
                }
            }
        }
        if let waitAtMost { _ = group.wait(timeout: .now() + waitAtMost) } else { group.wait() }
        if let failure = failures.first { throw failure }
    }

    /// Whether no pass's host is still going (a save or a restore a pass left to its thread): what a follower asked to
    /// stop waits for.
    public var hostsIdle: Bool { hostsUnderWay.wait(timeout: .now()) == .success }

    /// From now on no new hibernation starts, in a pass under way too (a follower asked to stop); restores go on.
    public func stopHibernating() { connectionLock.withLock { stopping = true } }

    private var isStopping: Bool { connectionLock.withLock { stopping } }

    /// Why a hibernation is held while the executor stops.
    static let stoppingHold = "the executor is stopping: no new hibernation (the next start takes it up)"

    /// Writes what threads a pass left behind kept back from a busy store (their restores' records; each pass writes
    /// them at its end): before a follower ends, once its hosts are idle.
    public func recordKeptBack(_ options: ExecutionOptions) {
        recordHeldBackRestores(log: EventLog(path: options.eventLog), clock: Self.clock(from: options.now))
    }

    /// What every host's part of a pass reads of the whole fleet, read once at the pass's start (the restores owed
    /// come from every plan since the earliest sleep, large for a large fleet). Each is its own result: a plan that
    /// cannot be decoded stops hibernations, never restores.
    struct FleetReads: @unchecked Sendable {
        /// Every restore owed now, on every host (one a reconciled save makes owed is looked up after the reconcile).
        let owed: Result<[OwedRestore], Error>
        /// The plan hibernations are taken from, with its approvals.
        let approved: Result<(plan: Plan, approved: [String: ApprovalRecord])?, Error>

        init(store: Store, now: EpochSeconds) {
            owed = Result { try store.read { try DueActions.owedRestores(now: now, in: $0) } }
            approved = Result { try store.read { try DueActions.approvedPlan(now: now, in: $0) } }
        }
    }

    /// What in `options` and the demand signal names nothing the store knows, each said as an operator fixes it: a
    /// `--host` no VM, sleep or action is on (its VMs would never be restored: the inventory records each VM's host by
    /// the URI it was read with), a demand signal's rule no VM matches, an event log that cannot be written. Passes
    /// run all the same (restores are never blocked; a rule no VM matches holds new hibernations, `demandRulesMatchingNothing`);
    /// the command reports these and fails.
    public func misconfigurations(_ options: ExecutionOptions) throws -> [String] {
        var problems = try unknownHosts(options)
        problems += try demandRulesMatchingNothing()
        if let path = options.eventLog, let problem = EventLog.unwritable(path) { problems.append("--event-log \(path): \(problem)") }
        return problems
    }

    /// Each demand-signal rule that no VM of the store matches, in words (none while the store knows no VM): the VM it
    /// was meant for (a mistyped name or label) sleeps without the signal, so a run holds new hibernations while there is one.
    public func demandRulesMatchingNothing() throws -> [String] {
        guard let demand else { return [] }
        let vms = try store.read { try VMRepository.all(in: $0) }.map { (name: $0.name, labels: $0.labels) }
        return vms.isEmpty ? [] : demand.unmatched(vms: vms)
    }

    /// `options`, holding new hibernations fleet-wide while a demand-signal rule names no VM of the store (the VM it was
    /// meant for would sleep without the signal), or the store cannot say, as for a rule that cannot be read: restores go on.
    func holdingForDemandRulesMatchingNothing(_ options: ExecutionOptions) -> ExecutionOptions {
        let why: String
        do {
            let unmatched = try demandRulesMatchingNothing()
            guard !unmatched.isEmpty else { return options }
            why = "no new hibernations while a --wake-on rule names no VM of the store: " + unmatched.joined(separator: "; ")
        } catch {
            why = "no new hibernations while the store cannot say whether every --wake-on rule names a VM (\(error))"
        }
        var held = options
        held.hold(why)
        return held
    }

    /// Each `--host` no VM, sleep or action of the store is on, in words (none while the store knows no host).
    func unknownHosts(_ options: ExecutionOptions) throws -> [String] {
        let known = try knownHosts(approved: nil)   // an approved plan acts only on hosts its VMs are on
        guard !known.isEmpty else { return [] }
        return (options.hosts ?? []).subtracting(known).sorted().map { host in
            "--host \(host): no VM of the store is on this host (it knows \(known.sorted().joined(separator: ", "))); "
                + "give the URI the inventory and collector read the host with"
        }
    }

    /// Records each of `problems` (`misconfigurations`) as a `misconfigured` event: on stderr, and in the event log an
    /// alerting tool follows when it can be written.
    public func report(misconfigurations problems: [String], _ options: ExecutionOptions) {
        let log = EventLog(path: options.eventLog)
        for p in problems { log.record(.init(event: "misconfigured", time: options.now, detail: p)) }
    }

    /// Every host the store has a VM, a sleep, an unfinished action or a held-back hibernation on (a host gone from the
    /// fleet gets a pass that clears those), or `approved` an action on.
    func knownHosts(approved: (plan: Plan, approved: [String: ApprovalRecord])??) throws -> Set<String> {
        try store.read { try Self.knownHosts(in: $0) }.union(approved??.plan.actions.map(\.host) ?? [])
    }

    /// Every host the store has a VM, a sleep, an unfinished action or a held-back hibernation on.
    static func knownHosts(in db: Database) throws -> Set<String> {
        var hosts = Set(try VMRepository.all(in: db).compactMap(\.hostURI))
        hosts.formUnion(try JournalRepository.power(in: db).values.map(\.host))
        hosts.formUnion(try JournalRepository.unfinished(in: db).map(\.host))
        hosts.formUnion(try JournalRepository.held(in: db).values.map(\.host))
        return hosts
    }

    /// One host's part of a pass.
    func pass(on host: String, _ options: ExecutionOptions, fleet: FleetReads, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        var options = options
        options.runHosts = options.hosts
        options.hosts = [host]
        let reconciled = options.dryRun ? Reconciled() : try reconcile(options, log: log, clock: clock)
        var owed = try fleet.owed.get()
        let newSleeps = reconciled.saved.subtracting(owed.map(\.vm))
        if !newSleeps.isEmpty {
            // A save reconciling finished: its restore may be due already (the killed run's sleep ran on meanwhile).
            // Read again; if that fails, the restores read at the start still run, and the next pass finds these.
            do {
                owed += try store.read { try DueActions.owedRestores(now: options.now, in: $0) }.filter { newSleeps.contains($0.vm) }
            } catch {
                log.record(.init(event: "failed", time: clock(), host: host,
                                 detail: "the restores owed the sleeps reconciling finished cannot be read (\(error)): looked for on the next pass"))
            }
        }
        try restoreOwed(options, owed: owed, interrupted: reconciled.interrupted, busy: reconciled.busy, log: log, clock: clock)
        // A store a newer torpor has migrated (a rollback, or this process older than the stages upgraded around it):
        // restores only. Its due hibernations are held back, when its plan can be read; nothing goes into the pool.
        let restoresOnly = try store.writtenByNewerTorpor()
        let pooling = !options.dryRun && !restoresOnly
        if pooling, options.pool != nil {
            // Images a restore from the pool rebuilt beside libvirt's (the pool's directory full or read-only) and a
            // killed run left: collected here, since the pool's garbage collection knows only its own directory.
            StatePool.removeLeftoverImages(in: options.managedSaveDirectory)
            try poolUnpooledSleeps(options, busy: reconciled.busy, log: log, clock: clock)
        }
        if restoresOnly, case .failure = fleet.approved { return }
        try hibernateDue(options, approved: try fleet.approved.get(), restoresOnly: restoresOnly, busy: reconciled.busy, log: log, clock: clock)
        // This pass's new sleeps, outside their VMs' locks: a restore due meanwhile does not wait for a long copy.
        if pooling { try poolUnpooledSleeps(options, busy: reconciled.busy, log: log, clock: clock) }
    }

    /// Each pass (and each operator command) tries every host again.
    private func forgetUnreachableHosts() { connectionLock.withLock { unreachable = [:] } }

    /// The run's connection to `host`, opened once and opened again once closed (libvirtd restarted, the link dropped,
    /// keepalive gave the host up): a `--follow` executor outlives its connections. Each host connects under its own
    /// lock: a host that does not answer holds up only its own VMs, and only once a pass.
    func connection(_ host: String) throws -> VirtConnection {
        connectionLock.lock()
        if let c = connections[host], c.isAlive { connectionLock.unlock(); return c }
        let hostLock = hostLocks[host] ?? NSLock()
        hostLocks[host] = hostLock
        connectionLock.unlock()
        hostLock.lock()
        defer { hostLock.unlock() }
        let (opened, failure) = connectionLock.withLock { (connections[host], unreachable[host]) }
        if let opened, opened.isAlive { return opened }
        if let failure { throw ExecuteError(.runtime, "\(host) could not be reached earlier in this pass: \(failure)") }
        let began = Date()
        do {
            let c = try connect(host)
            // Subscribed before it is published: whoever takes the host's connection from then on is heard by `watch`.
            let subscription = connectionLock.withLock { lifecycleHandler }.flatMap { handler in try? c.onLifecycleEvent { handler(host, $0) } }
            connectionLock.withLock { connections[host] = c; subscriptions[host] = subscription }
            return c
        } catch {
            if Date().timeIntervalSince(began) >= slowRefusalSeconds || (error as? VirtError)?.isNoAnswer == true {
                connectionLock.withLock { unreachable[host] = error }
            }
            throw error
        }
    }

    /// How long a restore's journal step waits for another process's write (a big ingest holds the store for as long
    /// as it reads its file) before the restore goes on without it: with the store's 30 s, each restore of a pass waited
    /// twice, and the restores queued behind it on the host started minutes late.
    static let restoreJournalWait: TimeInterval = 5

    /// A restore's record the busy store kept back: its step, the VM's power record it sets (a done one's), and the
    /// power record the restore ended, as read when it began (`.some(nil)`: none; nil: the store could not say).
    struct HeldBackRecord {
        var entry: JournalEntry
        var power: PowerRecord?
        var ended: PowerRecord??
        /// The journal row of the restore's last step the store took (its intent or start; nil: none), the attempt the
        /// record closes (`JournalRepository.KeptBack`).
        var attempt: Int64?

        /// Whether `current`, the store's power record of the VM now, is still the one the restore ended.
        func stillEnded(_ current: PowerRecord?) -> Bool {
            guard let ended else { return false }
            return current?.state == ended?.state && current?.actionID == ended?.actionID && current?.since == ended?.since
        }
    }

    /// Keeps `record` back for `recordHeldBackRestores` (the store refused it as busy).
    private func keepBack(_ record: HeldBackRecord) { partnerLock.withLock { heldBackRestores.append(record) } }

    /// Writes the restores' records the busy store kept back (`heldBackRestores`), once every host's restores are done,
    /// waiting as any write does; the first that still cannot be written leaves it and the rest to the next run. Written
    /// outside the VM's lock, a power record says what the VM is only while the store's is still the sleep the restore
    /// ended (another executor may have found it running since, and put it to sleep again; a clock's seconds cannot
    /// tell which came first): else the step joins the journal alone, and a VM left recorded asleep is found running
    /// by the next pass.
    func recordHeldBackRestores(log: EventLog, clock: () -> EpochSeconds) {
        let held = partnerLock.withLock { () -> [HeldBackRecord] in
            defer { heldBackRestores = [] }
            return heldBackRestores
        }
        for (i, r) in held.enumerated() {
            do { try journal(r.entry, power: r.power, onlyIf: r.stillEnded, keptBack: .init(attempt: r.attempt)) } catch {
                log.record(.init(event: "failed", time: clock(), detail: "\(held.count - i) restore(s) ended this run still cannot be recorded (\(error)): "
                                 + held[i...].map(\.entry.vm).joined(separator: ", ") + "; the next run records them"))
                return
            }
        }
    }

    /// Records `entry` (and `power`, given `onlyIf`, only if it holds of the store's power record of the VM then): a
    /// restore's step (`restoring`) waits `restoreJournalWait` at most for another process's write, and not at all once
    /// another restore of the run gave up on one (`restoreSteps`); any other step the store's busy wait. `keptBack`: a
    /// record kept back, written at its run's end (`JournalRepository.append`).
    func journal(_ entry: JournalEntry, power: PowerRecord? = nil, restoring: Bool = false, onlyIf: ((PowerRecord?) -> Bool)? = nil,
                 keptBack: JournalRepository.KeptBack? = nil) throws {
        _ = try journaledRow(entry, power: power, restoring: restoring, onlyIf: onlyIf, keptBack: keptBack)
    }

    /// `journal`, returning the step's journal row.
    func journaledRow(_ entry: JournalEntry, power: PowerRecord? = nil, restoring: Bool = false, onlyIf: ((PowerRecord?) -> Bool)? = nil,
                      keptBack: JournalRepository.KeptBack? = nil) throws -> Int64 {
        var row: Int64 = 0
        let record = { (db: Database) in
            row = try JournalRepository.append(entry, keptBack: keptBack, in: db)
            guard let power else { return }
            if let onlyIf, !onlyIf(try JournalRepository.power(of: power.vm, in: db)) { return }
            try JournalRepository.setPower(power, in: db)
        }
        if restoring { try store.transaction(waitingAtMost: Self.restoreJournalWait, together: restoreSteps, record) } else { try store.transaction(record) }
        stepLock.lock()
        steps += 1
        let reached = stepLimit == steps
        stepLock.unlock()
        if reached { kill(getpid(), SIGKILL) }
        return row
    }

    /// The crash test's second hook: runs libvirt's save or restore `call` and kills the process with SIGKILL
    /// `killDuringLibvirt` ms into it, or, when the call is over sooner (a small guest restores in a fraction of a
    /// second), the moment it returns, before anything of its outcome is journaled: the kill always comes.
    func crashDuringLibvirtCall(_ call: () throws -> Void) rethrows {
        guard let ms = killDuringLibvirt else { return try call() }
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: ms / 1000)
            kill(getpid(), SIGKILL)
        }
        defer { kill(getpid(), SIGKILL) }
        try call()
    }

    func covers(_ host: String, _ options: ExecutionOptions) -> Bool { options.hosts?.contains(host) ?? true }

    /// Runs `body` holding `vm` (no other pass of this executor, and with `locks` no other executor, acts on it
    /// meanwhile; a dry run changes nothing and only looks whether another holds it: held for its whole length, the
    /// lock would keep a real executor from a restore). When it cannot, `refused` hears why, and whether the lock file
    /// itself failed (`broken`) rather than someone else holding it; with `evenIfBroken` (restores: never blocked, and
    /// safe to repeat) `body` then runs all the same. Held by another executor, the VM is waited for `patience` seconds
    /// at most, `waiting` hearing it first (a person's wake while a run saves the VM).
    func exclusively(_ vm: String, _ options: ExecutionOptions, evenIfBroken: Bool = false, patience: TimeInterval = 0,
                     waiting: (String) -> Void = { _ in }, refused: (_ why: String, _ broken: Bool) throws -> Void,
                     _ body: () throws -> Void) rethrows {
        guard connectionLock.withLock({ vmsInAction.insert(vm).inserted }) else {
            return try refused("an earlier pass of this executor still acts on \(vm); left to it", false)
        }
        defer { _ = connectionLock.withLock { vmsInAction.remove(vm) } }
        guard let locks else { return try body() }
        var lock: FileLock?
        do throws(FileLock.Failure) {
            do { lock = try locks.take(vm) } catch {
                guard case .held(_, let pid) = error, patience > 0 else { throw error }
                waiting(Self.anotherExecutor(pid) + " acts on \(vm) (a save or a restore under way): waiting up to \(DurationText.format(Int64(patience))) for it")
                lock = try locks.take(vm, patience: patience)
            }
        } catch {
            switch error {
            case .held(_, let pid):
                return try refused(Self.anotherExecutor(pid) + " still acts on \(vm) (a long save or restore, or a libvirtd or QEMU that does not "
                                   + "answer); left to it", false)
            case .cannotOpen:
                try refused("\(error)", true)
                return evenIfBroken ? try body() : ()
            }
        }
        if options.dryRun { lock = nil }
        try withExtendedLifetime(lock) { try body() }
    }

    /// Another executor holding a VM's lock, in words.
    static func anotherExecutor(_ pid: String?) -> String { "another torpor-execute" + (pid.map { " (pid \($0))" } ?? "") }

    // MARK: reconcile

    /// What reconciling found for the pass below.
    struct Reconciled {
        /// Restores still unfinished, by VM: finished now, whoever started them.
        var interrupted: [String: JournalEntry] = [:]
        /// VMs libvirtd is still saving or restoring for a dead run: left alone this pass, their actions open.
        var busy: Set<String> = []
        /// VMs whose interrupted save had completed: asleep now, so owed a restore the pass's start did not see.
        var saved: Set<String> = []
    }

    /// Finishes what an interrupted run left at `intent` or `started`, from libvirt's actual state: a save or restore
    /// job libvirtd still runs is waited for (a minute for all of them), then left open (`busy`); a VM shut off with its saved state is
    /// hibernated (its image goes into the pool after the restores, `poolUnpooledSleeps`); a VM left paused is resumed
    /// (the save failed); a running VM after a restore is restored. Hibernations whose VM still runs are left for the
    /// pass below, which may do them (once). Unfinished restores are returned: the pass finishes them now.
    func reconcile(_ options: ExecutionOptions, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws -> Reconciled {
        var found = Reconciled()
        // One minute for the whole pass, not one per VM: N saves a dead run left would hold every restore N minutes.
        let waitUntil = Date().addingTimeInterval(60)
        for entry in try store.read({ try JournalRepository.unfinished(in: $0) }) where covers(entry.host, options) {
            // A lock file that cannot be used holds up no restore: reconciled without it (as a restore would be).
            exclusively(entry.vm, options, evenIfBroken: true, refused: { why, broken in
                if !broken { found.busy.insert(entry.vm) }
                log.record(.init(event: broken ? "failed" : "skipped", time: clock(), vm: entry.vm, host: entry.host, action: entry.actionID,
                                 detail: broken ? "the interrupted \(entry.kind.rawValue) is reconciled without its VM's lock: \(why)"
                                     : "the interrupted \(entry.kind.rawValue) is not reconciled: \(why)"))
            }) {
                reconcile(entry, into: &found, waitUntil: waitUntil, options: options, log: log, clock: clock)
            }
        }
        return found
    }

    /// How recent an interrupted action's last step must be for a pass to wait for its libvirt job (`reconcile`).
    static let jobsWaitedForWithin: EpochSeconds = 5 * 60

    /// Reconciles one unfinished entry, holding its VM (`reconcile`).
    private func reconcile(_ entry: JournalEntry, into found: inout Reconciled, waitUntil deadline: Date, options: ExecutionOptions, log: EventLog,
                           clock: @escaping @Sendable () -> EpochSeconds) {
        do {
            // Finished by another executor since it was read: nothing left to do.
            let latest = try store.read { try JournalRepository.latestSteps(of: [entry.actionID], in: $0)[entry.actionID] }
            guard let latest, [.intent, .started].contains(latest.step) else { return }
            let domain = try connection(entry.host).domain(named: entry.vm)
            // A save or restore libvirtd is still doing for the dead run: wait for it until `deadline` (libvirt reports
            // jobs of active domains only); one still going is left for the next run, not raced. Only for a run that
            // died lately: a job older than that is hung or very slow, and waiting for it each pass would hold the
            // host's restores that long every time.
            let waitsUntil = clock() - entry.at < Self.jobsWaitedForWithin ? deadline : Date()
            while Date() < waitsUntil, try domain.info().state != .shutOff, Self.hasJob(domain) {
                Thread.sleep(forTimeInterval: 0.5)
            }
            if try domain.info().state != .shutOff, Self.hasJob(domain) {
                found.busy.insert(entry.vm)
                log.record(.init(event: "reconciled", time: clock(), vm: entry.vm, host: entry.host, action: entry.actionID,
                                 detail: "libvirtd is still working on the interrupted \(entry.kind.rawValue): left open for the next run"))
                return
            }
            let state = try domain.info().state
            let saved = try domain.hasManagedSaveImage()
            var done = entry
            done.at = clock()
            // A hibernation left open while another action has acted on the VM since (a later sleep): that one's record
            // stands; taking this one's "done" would put the VM's restore back to this older plan's.
            if entry.kind == .hibernate, let power = try store.read({ try JournalRepository.power(of: entry.vm, in: $0) }),
               power.actionID != entry.actionID, power.since >= entry.at {
                done.step = .skipped
                done.detail = "reconciled: closed; a later action (\(power.actionID)) has acted on the VM since (\(power.state.rawValue) since \(UTC.format(power.since)))"
                try journal(done)
                return log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            }
            switch (entry.kind, state, saved) {
            case (.hibernate, .shutOff, true) where entry.step == .started:
                if let cut = VirtDomain.incompleteManagedSaveImage(at: options.managedSaveImage(of: entry.vm)) {
                    // Cut short (the host crashed in the save): its memory is lost, and no restore would bring it back.
                    // A failed hibernation leaves the VM running: libvirt's start boots it afresh, and a person is told.
                    done.step = .failed
                    done.detail = "reconciled: the interrupted save left \(cut): the VM's memory is lost; "
                        + ((try? domain.start()) != nil ? Self.bootedAfresh + ": started again without it" : Self.vmLeftOff)
                    try journal(done)
                    log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
                    return
                }
                done.detail = "reconciled: the save had completed (the VM is off with its saved state)"
                do {
                    try finishHibernation(done, since: entry.at, domain: domain, seconds: nil, options: options, log: log, clock: clock, event: "reconciled")
                } catch where !Self.passes(error) {
                    done.step = .failed
                    done.detail = "reconciled: the interrupted save had completed; " + wakeUnrecordedSleep(domain, vm: entry.vm, because: error)
                    if (try? domain.info().state) == .running { try? journal(done) }
                    found.busy.insert(entry.vm)   // not saved again this pass
                    return log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
                }
                found.saved.insert(entry.vm)
            case (.restore, .running, _):
                done.step = .done
                done.detail = "reconciled: the VM runs" + (saved ? Self.dropStaleImage(domain) : "")
                    + (entry.detail == "from libvirt's saved image" ? Self.bootedAfresh(domain).map { "; " + $0 } ?? "" : "")
                try journal(done, power: PowerRecord(vm: entry.vm, host: entry.host, state: .running, since: done.at, actionID: entry.actionID))
                log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.hibernate, .running, _) where try store.read({ try DueActions.stillDue(entry, now: options.now, in: $0) }):
                // Back to `intent` (once): the save was not under way, so a VM found off later (a person shut it down
                // while the action waited) is not taken for one a save left off, and started.
                done.step = .intent
                done.detail = "reconciled: the interrupted save did not happen; the VM runs (the action stays due while its plan allows)"
                if entry.step == .started { try journal(done) }
                log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.hibernate, .running, _):
                done.step = .skipped
                done.detail = "reconciled: the interrupted save did not happen and its plan no longer starts it; the VM runs"
                try journal(done)
                log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.hibernate, .paused, _) where entry.step == .started:
                // No job runs (see above): the save failed and left the VM paused. A failed hibernation leaves it
                // running, unless libvirt paused it for a fault.
                done.step = .failed
                if let why = Self.pauseNeedsPerson(domain) {
                    done.detail = "reconciled: the interrupted save left the VM paused (\(why)): not resumed, " + Self.forAPerson
                } else {
                    try domain.resume()
                    done.detail = "reconciled: the interrupted save left the VM paused; resumed"
                }
                try journal(done)
                log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.restore, _, _):
                found.interrupted[entry.vm] = entry
                log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID,
                                 detail: "the interrupted restore did not finish; restoring again"))
            case (.hibernate, .shutOff, false) where entry.step == .started:
                // Stopped without a saved image once the save was called (QEMU died in it, say): a failed hibernation
                // leaves the VM running. (At `intent` the save was never called: a VM off then was shut down by another
                // hand, and is not touched; so is one shut down meanwhile.)
                done.step = .failed
                done.detail = (try? domain.wasShutDown()) == true
                    ? "reconciled: the save found the VM off without a saved state; " + Self.shutDownMeanwhile
                    : "reconciled: the interrupted save left the VM off without a saved state; " + ((try? domain.start()) != nil ? "started again" : Self.vmLeftOff)
                try journal(done)
                log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.hibernate, _, _) where entry.step == .started:
                done.step = .failed
                done.detail = "reconciled: the VM is \(state) \(saved ? "with" : "without") a saved state after an interrupted save; not touched, " + Self.forAPerson
                try journal(done)
                log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            case (.hibernate, _, _):
                // At `intent` torpor never called the save (a `started` one found running went back to it): the VM was
                // paused, saved or shut down by another hand while the action waited. Not torpor's to resume, adopt or
                // start; the action is closed.
                done.step = .skipped
                done.detail = "reconciled: the VM is \(state) \(saved ? "with" : "without") a saved state, and torpor's save was never called "
                    + "(another hand's doing): not touched; the hibernation is closed"
                try journal(done)
                log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
            }
        } catch {
            log.record(.init(event: "failed", time: clock(), vm: entry.vm, host: entry.host, action: entry.actionID,
                             detail: "cannot reconcile: \(error)"))
        }
    }

    // MARK: restores

    /// Restores every sleeping VM whose restore is due, and at once those whose restore a killed run left unfinished
    /// (`interrupted`, by VM: an operator's wake too); not those libvirtd is still working on (`busy`).
    func restoreOwed(_ options: ExecutionOptions, owed all: [OwedRestore], interrupted: [String: JournalEntry] = [:], busy: Set<String> = [],
                     log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        let labels = demand == nil ? [:]
            : try store.read { try VMRepository.all(in: $0) }.reduce(into: [String: [String: String]]()) { $0[$1.name] = $1.labels }
        var planned = all.filter { covers($0.host, options) && !busy.contains($0.vm) }
        for (vm, entry) in interrupted.sorted(by: { $0.key < $1.key }) {
            let resumed = OwedRestore(vm: vm, host: entry.host, actionID: entry.actionID, planID: entry.planID, at: options.now,
                                      deadline: entry.deadline ?? options.now, priority: 0, reason: "finishing an interrupted restore (\(entry.detail))",
                                      cause: entry.cause, byPerson: entry.actionID.hasPrefix(UnplannedWake.wake.rawValue + ":"),
                                      ofMany: entry.actionID.hasSuffix(UnplannedWake.ofManyMark))
            // The interrupted entry is finished under its own action (whatever restore is owed now), so it is closed.
            if let i = planned.firstIndex(where: { $0.vm == vm }) {
                planned[i] = resumed
            } else {
                planned.append(resumed)
            }
        }
        func slaOrder(_ a: OwedRestore, _ b: OwedRestore) -> Bool { (a.priority, a.deadline, a.vm) < (b.priority, b.deadline, b.vm) }
        // Due ones by deadline, tier priority breaking ties, as the plans queued them (`RestoreScheduler`), so that each
        // makes its deadline: by tier first, a gold restore due later went before a bronze one due sooner, which then
        // came late though both could be on time. A pin's and a sleep no plan holds are due now (a calendar event's by
        // its start), so they go before planned ones due later. A person's wake and an interrupted restore (priority 0) first.
        func queuedOrder(_ a: OwedRestore, _ b: OwedRestore) -> Bool {
            (a.priority == 0 ? 0 : 1, a.deadline, a.priority, a.vm) < (b.priority == 0 ? 0 : 1, b.deadline, b.priority, b.vm)
        }
        let due = planned.filter { $0.at <= options.now }.sorted(by: queuedOrder)
        /// `body` holding the VM while it still sleeps (the restores owed were read at the pass's start: this pass's
        /// reconciling, or another executor, may have brought it back since), else said why not.
        @Sendable func claimed(_ r: OwedRestore, _ body: () -> Void) {
            exclusively(r.vm, options, evenIfBroken: true, refused: { why, broken in
                log.record(.init(event: broken ? "failed" : "skipped", time: clock(), vm: r.vm, host: r.host, action: r.actionID,
                                 detail: "restore: \(why)" + (broken ? "; restoring without the lock" : "")))
            }) {
                // A store that cannot answer blocks no restore (`restore`): only a record saying it runs skips it. An
                // unfinished restore reconciling handed over is finished whatever the record says (a wake's VM may be
                // recorded running while libvirt has it saved).
                if interrupted[r.vm] == nil, (try? store.read { try JournalRepository.power(of: r.vm, in: $0) })??.state == .running { return }
                body()
            }
        }
        // In that order, at most `concurrentRestores` at once (a pass covers one host; by default as many as the plans
        // queued its restores for), each on a thread of its own: not on GCD's shared pool, whose width follows the cores
        // and which workers stuck on a silent host would use up.
        let limit = DispatchSemaphore(value: max(1, options.concurrentRestores ?? planned.compactMap(\.hostConcurrentRestores).max() ?? 2))
        let running = DispatchGroup()
        func start(_ restores: [OwedRestore]) {
            for r in restores {
                if options.dryRun {
                    claimed(r) {
                        // What the restore would say instead (`held`): a dry run before a review shows it.
                        let (event, detail) = self.held(r, now: options.now).map { ("skipped", "restore: " + $0) } ?? ("would-restore", r.reason)
                        log.record(.init(event: event, time: options.now, vm: r.vm, host: r.host, action: r.actionID, detail: detail))
                    }
                    continue
                }
                limit.wait()
                running.enter()
                Thread.detachNewThread {
                    claimed(r) { self.restore(r, options: options, log: log, clock: clock) }
                    limit.signal()
                    running.leave()
                }
            }
        }
        // The due restores first: asking the demand signal (a Prometheus that may not answer for its timeout) holds up
        // none of them; the sleepers it wakes follow.
        start(due)
        start(signalled(planned.filter { $0.at > options.now }, labels: labels, options: options, log: log).sorted(by: slaOrder))
        running.wait()
    }

    /// The sleepers of `waiting` (restores not due yet) a live demand signal wants now, each as a restore due now. A
    /// query the server fails (not answering, an HTTP error: not the query's own fault) ends the asking for this pass,
    /// said once: each further question would wait out the same timeout.
    func signalled(_ waiting: [OwedRestore], labels: [String: [String: String]], options: ExecutionOptions, log: EventLog) -> [OwedRestore] {
        guard let demand else { return [] }
        var woken: [OwedRestore] = []
        for (i, r) in waiting.enumerated() {
            do {
                guard let why = try demand.demand(vm: r.vm, labels: labels[r.vm] ?? [:], at: options.now) else { continue }
                var now = r
                now.at = options.now
                now.actionID = UnplannedWake.signal.actionID(vm: r.vm, at: options.now)
                now.planID = nil
                now.reason = why
                woken.append(now)
            } catch {
                log.record(.init(event: "failed", time: options.now, vm: r.vm, host: r.host, detail: "demand signal: \(error)"))
                if error is DemandSignalUnavailable, i + 1 < waiting.count {
                    log.record(.init(event: "failed", time: options.now, detail: "demand signal: not asked for the \(waiting.count - i - 1) other "
                                     + "sleepers this pass (the server failed; they sleep until their planned restore or the next pass)"))
                    break
                }
            }
        }
        return woken
    }

    /// Restores one VM: from libvirt's managed-save image when it has one (from the state pool when that image does not
    /// start), else rebuilt from the state pool (verified): the image of this sleep only. Never cold-boots a VM whose
    /// saved state is gone: that is reported for a person.
    /// Restores are never blocked, not even by the store: a step the journal cannot take is logged and the restore goes
    /// on (repeating a restore is safe; the next run records what this one could not).
    func restore(_ r: OwedRestore, options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds) {
        let base = JournalEntry(actionID: r.actionID, planID: r.planID, vm: r.vm, host: r.host, kind: .restore, step: .intent, at: clock(),
                                detail: r.reason, deadline: r.deadline, cause: r.cause)
        // The record this restore ends, and its attempt's last step the store took, for one the busy store keeps back
        // (`recordHeldBackRestores`).
        let ended = try? store.read { try JournalRepository.power(of: r.vm, in: $0) }
        var attempt: Int64?
        var journalFailure: String?
        // Once the journal has refused a step (another writer holding the store past `restoreJournalWait`), the restore
        // does not wait on it again before libvirt acts: each step had waited its 30 s, the VM coming back a minute late.
        func step(_ entry: JournalEntry) {
            guard journalFailure == nil else { return }
            do {
                let row = try journaledRow(entry, restoring: true)
                if [.intent, .started].contains(entry.step) { attempt = row }
            } catch {
                journalFailure = "\(error)"
                log.record(.init(event: "failed", time: clock(), vm: r.vm, host: r.host, action: r.actionID,
                                 detail: "the journal cannot record the restore (\(error)); restoring anyway"))
            }
        }
        do {
            step(base)
            if let why = held(r, now: clock()) { throw ExecuteError(.runtime, why) }
            let connection = try connection(r.host)
            let domain = try connection.domain(named: r.vm)
            let began = Date()
            var started = base
            started.step = .started
            started.at = clock()
            // Why no restore time was measured: the VM needed no restore (the planner's p95 must not learn from it).
            var unmeasured: String?
            // What a person should know of a restore that succeeded another way than planned.
            var note: String?
            // What became of libvirt's older image after a restore from the pool (`dropStaleImage`), for the journal too.
            var dropped = ""
            let state = try domain.info().state
            if state == .paused {
                // Held paused with its memory (started paused by hand, a restore that stopped half-way): resuming
                // restores it; a VM libvirt is still saving is left to the save, and restored on the next pass; one
                // paused for a fault is left to a person (whose wake resumes it).
                guard !Self.hasJob(domain) else {
                    throw ExecuteError(.runtime, "\(r.vm) on \(r.host) is paused with a libvirt job running (a save?): restored on a later pass")
                }
                if !r.byPerson, let why = Self.pauseNeedsPerson(domain) {
                    throw ExecuteError(.runtime, "\(r.vm) on \(r.host) is paused (\(why)): not resumed; a person must look, "
                                       + "then `torpor-execute wake \(r.vm)` or `virsh resume`")
                }
                started.detail = "it was paused"
                step(started)
                try domain.resume()
                unmeasured = "it was paused; resumed" + Self.dropStaleImage(domain)
            } else if state != .running {
                let libvirtImage = try domain.hasManagedSaveImage()
                /// The pool's copy of the same sleep instead of libvirt's image (`journaled` and `told`: why, for the
                /// journal and for a person), libvirt's image removed once it runs (else a start would try it again).
                /// Tried again after each failure only once `poolRetry` allows (a person's wake at once): a start that
                /// fails for another cause (a missing bridge or disk, no memory) fails from the pool too, and rebuilding
                /// the image each pass would only load the host; a cause that passes (a full disk freed) does not keep
                /// the VM asleep. Without a pool or while libvirt still works on the VM, `failure` is the restore's.
                func fromPoolInstead(journaled: String, told: String, otherwise failure: Error) throws {
                    guard let pool = options.pool, (try? domain.info().state) == .shutOff, !Self.hasJob(domain) else { throw failure }
                    // A store that cannot answer blocks no restore: the pool is tried. Nor does the wait hold a person's
                    // wake: an operator can always try.
                    if !r.byPerson, let retry = (try? poolRetry(r.vm)) ?? nil, clock() < retry.at {
                        throw ExecuteError(.runtime, "\(failure) (the state pool failed too for this sleep, \(retry.failures == 1 ? "once" : "\(retry.failures) times"); tried again from "
                                           + "\(UTC.format(retry.at)), or now by `torpor-execute restore --from-pool --pool \(pool.directory) \(r.vm)`)")
                    }
                    started.detail = Self.fromThePool + " (\(journaled))"
                    step(started)
                    do {
                        try restoreFromPool(domain, connection: connection, pool: pool, fallback: options.managedSaveDirectory, libvirtImageUsable: false)
                    } catch {
                        throw ExecuteError(.runtime, "\(told), " + Self.poolAlsoFailed + ": \(error)")
                    }
                    dropped = Self.dropStaleImage(domain)
                    note = "\(told): restored from the state pool" + dropped
                }
                if libvirtImage && !r.fromPool {
                    // libvirt starts a VM whose image is gone or incomplete afresh, without its memory: a pooled sleep's
                    // image is looked at first, and the pool's copy brings the VM back instead.
                    if let unusable = unusableLibvirtImage(of: domain, options: options) {
                        try fromPoolInstead(journaled: unusable, told: unusable + " (libvirt boots a VM whose image is gone or cut afresh)",
                                            otherwise: ExecuteError(.runtime, unusable))
                    } else if let written = disksWrittenSinceThePoolRestore(r.vm) {
                        throw ExecuteError(.runtime, written)
                    } else {
                        started.detail = "from libvirt's saved image"
                        step(started)
                        var startedFromImage = false
                        do {
                            try crashDuringLibvirtCall { try domain.start() }
                            startedFromImage = true
                        } catch let failure {
                            // libvirt's image would not start (damaged, unreadable).
                            try fromPoolInstead(journaled: "libvirt's saved image did not start: \(failure)",
                                                told: "libvirt's saved image did not start (\(failure))", otherwise: failure)
                        }
                        if startedFromImage, let booted = Self.bootedAfresh(domain) {
                            note = booted
                            unmeasured = "booted"
                        }
                    }
                } else if let pool = options.pool {
                    started.detail = Self.fromThePool + (libvirtImage ? ", as asked" : " (libvirt's image is gone)")
                    step(started)
                    try restoreFromPool(domain, connection: connection, pool: pool, fallback: options.managedSaveDirectory, libvirtImageUsable: libvirtImage)
                    // libvirt's own image is now older than the running VM: never restore it again.
                    dropped = Self.dropStaleImage(domain)
                    note = dropped.isEmpty ? nil : String(dropped.dropFirst(2))
                } else {
                    throw ExecuteError(.runtime, "\(r.vm) on \(r.host) has no saved state (no managed-save image, no state pool): not cold-booted; start it by hand if its memory may be lost")
                }
            } else {
                started.detail = "already running"
                step(started)
                unmeasured = "already running" + Self.dropStaleImage(domain)
            }
            guard try domain.info().state == .running else { throw ExecuteError(.runtime, "\(r.vm) on \(r.host) did not come back running") }
            let seconds = Date().timeIntervalSince(began)
            var done = started
            done.detail += dropped + (note.map { $0.hasPrefix(Self.bootedAfresh) ? "; " + $0 : "" } ?? "")
            done.step = .done
            done.at = clock()
            // What a resume, or a VM found running, left of libvirt's older image, for the record (`check` reads it).
            if let unmeasured, unmeasured.contains(Self.staleImageLeft) { done.detail += "; " + unmeasured }
            done.seconds = unmeasured == nil ? seconds : nil
            // A plan's deadline (wakes and signals have none to miss); a VM found running was not kept from its demand by
            // torpor, one found paused was.
            done.late = state != .running && r.planID != nil && done.at > r.deadline
            // Awake: the room its image was expected to take in the pool is not needed (a `--follow` executor would
            // otherwise keep it reserved for a copy that never comes).
            releasePoolRoom(r.vm)
            let power = PowerRecord(vm: r.vm, host: r.host, state: .running, since: done.at, actionID: r.actionID)
            do { try journal(done, power: power, restoring: true) } catch {
                keepBack(HeldBackRecord(entry: done, power: power, ended: ended, attempt: attempt))
                log.record(.init(event: "failed", time: done.at, vm: r.vm, host: r.host, action: r.actionID,
                                 detail: "the VM runs, but the journal cannot record it yet (\(error)); recorded at the run's end, else by the next run"))
            }
            log.record(.init(event: "restored", time: done.at, vm: r.vm, host: r.host, action: r.actionID,
                             detail: ([unmeasured, note].compactMap { $0 }.map { "\($0); " }.joined()) + r.reason, seconds: done.seconds))
            if let note, note.hasPrefix(Self.bootedAfresh) {
                log.record(.init(event: "failed", time: done.at, vm: r.vm, host: r.host, action: r.actionID, detail: "restore: " + note))
            }
            if done.late == true {
                log.record(.init(event: "violation", time: done.at, vm: r.vm, host: r.host, action: r.actionID,
                                 detail: "restored \(done.at - r.deadline) s after its deadline \(UTC.format(r.deadline))"))
            }
        } catch {
            var failed = base
            failed.step = .failed
            failed.at = clock()
            failed.detail = "\(error)" + ((error as? VirtError)?.isNoDomain == true ? "; " + Self.domainGone : "")
            do { try journal(failed, restoring: true) } catch { keepBack(HeldBackRecord(entry: failed, power: nil, ended: ended, attempt: attempt)) }
            log.record(.init(event: "failed", time: failed.at, vm: r.vm, host: r.host, action: r.actionID, detail: "restore: \(failed.detail)"))
        }
    }

    /// Why restore `r` fails before it starts: its VM ran elsewhere (`ranElsewhere`), unless a person's wake of it alone asks.
    func held(_ r: OwedRestore, now: EpochSeconds) -> String? {
        !r.byPerson || r.ofMany || r.byPin ? ranElsewhere(r, now: now) : nil
    }

    /// Why `r`'s VM is not restored on its host by the executor, nor by a wake of many: since its save's intent, a libvirt collection of another
    /// host found its own domain running there (`DomainRuns`: kept when it stops there or leaves that host's list), or
    /// the store places it on another host and samples of it running came in meanwhile (started there without its
    /// memory: by a person, an HA tool). Its saved memory is older than the disks that copy wrote, and a restore would
    /// run a second copy: a person decides, and a person's wake of it alone is theirs to make. Nil otherwise, and when the store
    /// cannot tell (a store that cannot answer blocks no restore).
    func ranElsewhere(_ r: OwedRestore, now: EpochSeconds) -> String? {
        let elsewhere = try? store.read { db -> String? in
            guard let sleep = try JournalRepository.power(of: r.vm, in: db), sleep.state == .hibernated, sleep.host == r.host else { return nil }
            return try Self.ranElsewhere(during: sleep, until: now, in: db)
        }
        guard let placed = elsewhere ?? nil else { return nil }
        return "\(r.vm) was found running on \(placed) while asleep here (\(Self.ranElsewhereText)): not restored here, where it would run as a second "
            + "copy with memory older than its disks. A person decides: keep \(placed)'s copy (on \(r.host): virsh undefine --managed-save \(r.vm); then "
            + "torpor-execute forget \(r.vm), with --discard-saved-state if the state pool holds this sleep); or, only if that copy ran on disks of its own, "
            + "never on this sleep's, stop it, then torpor-execute wake \(r.vm)"
    }

    /// A host other than its own where `sleep`'s VM ran by `now`: one whose collection found its domain running since the
    /// save's intent (the memory kept is the guest's when the save paused it, before the sleep's record; a copy started
    /// meanwhile, by an HA tool seeing it paused, wrote the disks after that memory), or the host the store now places it
    /// on when samples of it running came in since the sleep. Nil when none.
    static func ranElsewhere(during sleep: PowerRecord, until now: EpochSeconds, in db: Database) throws -> String? {
        let saveBegan = min(sleep.since, try JournalRepository.firstStep(of: sleep.actionID, in: db) ?? sleep.since)
        if let host = try DomainRuns.ranBesides(domain: sleep.vm, besides: sleep.host, after: saveBegan, until: now, in: db) { return host }
        guard let placed = try VMRepository.host(of: sleep.vm, in: db), placed != sleep.host else { return nil }
        let ran = try ["cpu_util", "mem_used"].contains { try !SampleReader.presentSamples(vm: sleep.vm, metric: $0, from: sleep.since + 1, to: now + 1, in: db).isEmpty }
        return ran ? placed : nil
    }

    /// What a restore held because its VM ran on another host says (`ranElsewhere`).
    static let ranElsewhereText = "started there without its memory"

    /// How a restore that brought a VM back without its memory (libvirt booted it) is told, in the journal and the events.
    static let bootedAfresh = "BOOTED AFRESH"

    /// How a failed hibernation that left its VM off tells it (`check` names the VM for a day).
    static let vmLeftOff = "THE VM IS OFF and could not be started: start it by hand"
    /// What a failed hibernation of a VM shut down meanwhile says (libvirt's reason: its guest, or a person's `virsh
    /// shutdown`): not started again; `check` names it for a day.
    static let shutDownMeanwhile = "it was shut down meanwhile (libvirt's reason: shutdown, by its guest or a person's virsh shutdown): "
        + "left off; torpor's save did not stop it"
    /// What a restore that found its domain gone from its host adds to its failure (`check` then names `forget`).
    static let domainGone = "its domain is gone from its host (undefined, or moved while it slept)"

    /// How a failed hibernation that left its VM as it found it, paused or off, for a person tells it (`check` names it).
    static let forAPerson = "for a person to look at"

    /// Whether a failed hibernation's record says it left its VM down for a person: off, paused, or booted afresh.
    static func leftDown(_ detail: String) -> Bool {
        [vmLeftOff, forAPerson, bootedAfresh, shutDownMeanwhile].contains { detail.contains($0) }
    }

    /// Why a wake among `events` failed: the restore's own failure ("restore: …"), not a step the busy store could not
    /// journal on the way; else the first failure.
    public static func wakeFailure(in events: [ExecutionEvent]) -> ExecutionEvent? {
        events.first { $0.event == "failed" && $0.detail.hasPrefix("restore:") } ?? events.first { $0.event == "failed" }
    }

    /// The failure among `events` that says a restore brought its VM back without its memory (libvirt booted it).
    public static func memoryLost(in events: [ExecutionEvent]) -> ExecutionEvent? {
        events.first { $0.event == "failed" && $0.detail.contains(bootedAfresh) }
    }

    /// What to tell when `domain`, just started from libvirt's saved image, was booted instead (its memory lost); nil
    /// when it was restored, or libvirt cannot say (a failed question fails no restore that happened).
    static func bootedAfresh(_ domain: VirtDomain) -> String? {
        guard (try? domain.bootedAfresh()) == true else { return nil }
        return bootedAfresh + ": libvirt found no complete saved image (gone, or cut by a save that stopped) and booted it; the memory it slept with is lost"
    }

    /// Why libvirt's image of `domain`'s sleep would not bring its memory back, when the state pool holds the sleep:
    /// gone or incomplete, as libvirt reads it (`VirtDomain.unusableManagedSaveImage(localPath:)`; a driver that cannot
    /// say: the file in `managedSaveDirectory`). Only a pooled sleep's image is looked at: its copy proved
    /// `managedSaveDirectory` right (a wrong one must not send every restore to the pool).
    func unusableLibvirtImage(of domain: VirtDomain, options: ExecutionOptions) -> String? {
        guard options.pool != nil, (try? store.read { try JournalRepository.power(of: domain.name, in: $0) })??.manifestID != nil else { return nil }
        return domain.unusableManagedSaveImage(localPath: options.managedSaveImage(of: domain.name))
    }

    /// How a restore's `started` step begins when it brings the VM back from the state pool.
    static let fromThePool = "from the state pool"

    /// What a failed restore says when the pool's copy failed too, after libvirt's image did not start or would not do.
    static let poolAlsoFailed = "nor could the state pool restore it"

    /// How long a restore waits to try the state pool again after its first failure in a sleep; doubled with each
    /// further failure, up to `poolRetryLongest`.
    static let poolRetryFirst: Int64 = 15 * 60
    static let poolRetryLongest: Int64 = 4 * 3600

    /// When a restore may next try the pool for `vm`'s current sleep, after restores of it (whatever restore: a plan's, a
    /// pin's, a demand signal's; one cut short by a killed run does not count) tried the pool when libvirt's image did not
    /// start (or would not do) and failed `failures` times: `poolRetryFirst` after the latest failure, doubled with each
    /// earlier one. nil when none failed in this sleep.
    func poolRetry(_ vm: String) throws -> (failures: Int, at: EpochSeconds)? {
        try store.read { db in
            guard let sleep = try JournalRepository.power(of: vm, in: db), sleep.state == .hibernated else { return nil }
            let failed = try JournalRepository.recent(limit: 500, vm: vm, in: db).prefix { $0.at >= sleep.since }
                .filter { $0.kind == .restore && $0.step == .failed && $0.detail.contains(Self.poolAlsoFailed) }
            guard let latest = failed.first else { return nil }
            let wait = min(Self.poolRetryFirst << Int64(min(failed.count - 1, 16)), Self.poolRetryLongest)
            return (failed.count, latest.at + wait)
        }
    }

    /// Why libvirt's own image of `vm`'s sleep must not be started: a restore of this sleep from the state pool began
    /// (a run killed during it: after libvirt restored the VM from the pool's copy and before it removed its own older
    /// image, the guest may have run, then shut down), and the disks changed since the save. nil otherwise: no pool
    /// restore began, the disks are as the save left them (a rebuild killed before the VM ran), or torpor cannot tell
    /// (a disk it cannot read the size and time of).
    func disksWrittenSinceThePoolRestore(_ vm: String) -> String? {
        guard let (power, recent) = try? store.read({ db in (try JournalRepository.power(of: vm, in: db), try JournalRepository.recent(limit: 100, vm: vm, in: db)) }),
              let power, power.state == .hibernated, let saved = power.diskIdentity else { return nil }
        // A restore from the pool of this sleep that never ended: no done, skipped or failed step (but this refusal,
        // which holds until a person acts). One that failed (the pool's own refusal, a rebuild that failed) never ran the VM.
        let interrupted = Dictionary(grouping: recent.filter { $0.kind == .restore && $0.at >= power.since }, by: \.actionID).values.contains { steps in
            steps.contains { $0.step == .started && $0.detail.hasPrefix(Self.fromThePool) }
                && !steps.contains { [.done, .skipped].contains($0.step) || $0.step == .failed && !$0.detail.contains(Self.disksWrittenSinceThePool) }
        }
        guard interrupted, let now = DiskIdentity.reread(saved), now != saved else { return nil }
        return "\(vm): a restore of this sleep from the state pool was cut short, and " + Self.disksWrittenSinceThePool + " (then: \(saved); now: \(now)): "
            + "the VM may have run from the pool's copy, so libvirt's older image is not started over them. A person decides: if the guest "
            + "ran and shut down, remove that image (virsh managedsave-remove \(vm)) and start the VM (virsh start \(vm))"
    }

    /// What `disksWrittenSinceThePoolRestore`'s refusal says, and finds again in the journal to hold on.
    static let disksWrittenSinceThePool = "its disks changed since the save"

    /// Why libvirt's saved image of `vm`, which torpor has running since `power.since`, may be older than that run: the
    /// restore that began the run could not remove it (`dropStaleImage` noted it), and no save by torpor was journaled
    /// since. Cleared by the image's own file where this executor can judge it: a local host's image written after that
    /// restore (libvirt-guests' save at a host's shutdown), on the real clock (a replay's times are made up). nil when
    /// no such note stands: an image saved since is woken as before.
    func staleLibvirtImage(_ vm: String, running power: PowerRecord, options: ExecutionOptions) -> String? {
        guard let recent = try? store.read({ try JournalRepository.recent(limit: 100, vm: vm, in: $0) }),
              let began = recent.first(where: { $0.actionID == power.actionID && $0.kind == .restore && $0.step == .done }),
              began.detail.contains(Self.staleImageLeft),
              !recent.contains(where: { $0.kind == .hibernate && $0.at >= began.at }) else { return nil }
        let onTheClock = abs(options.now - EpochSeconds(Date().timeIntervalSince1970)) <= 3600
        let local = URLComponents(string: power.host)?.host.map(\.isEmpty) ?? true
        if onTheClock, local, let written = (try? FileManager.default.attributesOfItem(atPath: options.managedSaveImage(of: vm)))?[.modificationDate] as? Date,
           EpochSeconds(written.timeIntervalSince1970) > began.at {
            return nil
        }
        return "the restore that brought it back at \(UTC.format(began.at)) left an image older than its memory, and none is known saved since "
            + "(if it was, by libvirt-guests at a host's shutdown or by hand, start it with virsh start \(vm))"
    }

    /// A VM that runs must not keep a libvirt managed-save image: it is older than the VM's memory (a pool restore
    /// interrupted before it removed libvirt's image), and a start after a shutdown would load it over newer disks.
    /// Removes it; returns what was done, or what a person must do, to append to the record ("" when there was none).
    static func dropStaleImage(_ domain: VirtDomain) -> String {
        do {
            guard try domain.hasManagedSaveImage() else { return "" }
            // A save someone else started (libvirt-guests at shutdown) may be writing the image now: not touched.
            guard !hasJob(domain) else {
                return "; libvirt holds a saved image of it that may be older than its memory, not removed while a libvirt job runs on it "
                    + "(or its jobs cannot be read): once none runs, " + staleImageLeft + " unless a save has just written it"
            }
            try domain.removeManagedSaveImage()
            return "; libvirt's older saved image of it removed"
        } catch {
            return "; libvirt may hold an older saved image of it (\(error)): " + staleImageLeft + " before the VM next starts"
        }
    }

    /// What a record says when libvirt may still hold an image older than the running VM's memory (`dropStaleImage`):
    /// `check` names the VM until torpor acts on it again, or for a day.
    static let staleImageLeft = "remove it by hand (virsh managedsave-remove)"

    /// Why `sleep` has no image in the state pool, in words: not asleep, refused by the pool, its copy failed, or none
    /// made (no pool then, or not yet).
    static func whyNotPooled(_ sleep: PowerRecord) -> String {
        guard sleep.state == .hibernated else { return " (torpor has it running since \(UTC.format(sleep.since)))" }
        let asleep = " (asleep since \(UTC.format(sleep.since)); "
        if let refused = sleep.poolRefused { return asleep + "the pool refused its image: \(refused))" }
        if sleep.poolFailures > 0 {
            return asleep + "its copy into the pool failed \(sleep.poolFailures) time\(sleep.poolFailures == 1 ? "" : "s")"
                + (sleep.poolRetryAt.map { ", tried again from \(UTC.format($0))" } ?? "") + ")"
        }
        return asleep + "not in the pool: saved by a run without it, or its copy not made yet (a pass with the pool makes it after the save))"
    }

    /// Rebuilds the image of the VM's current sleep from the pool and restores it. Refused when the sleep's image never
    /// reached the pool (an older image's memory would not match the disks) or the disks changed since it was taken.
    /// The image is rebuilt in the pool's directory, else (that filesystem full or turned read-only) in `fallback`,
    /// where libvirt keeps its own images.
    func restoreFromPool(_ domain: VirtDomain, connection: VirtConnection, pool: (directory: String, capacityBytes: Int64), fallback: String,
                         libvirtImageUsable: Bool) throws {
        // Not made afresh: a mistyped --pool must say so, not read as the real pool's missing chunks.
        let statePool = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store, creating: false)
        let sleep = try store.read { try JournalRepository.power(in: $0)[domain.name] }
        guard let sleep, sleep.state == .hibernated, let id = sleep.manifestID else {
            throw ExecuteError(.runtime, "the state pool \(pool.directory) has no image of \(domain.name)'s current sleep"
                               + (sleep.map(Self.whyNotPooled) ?? " (torpor did not put it to sleep)")
                               + ": refused (an older image's memory would not match its disks); "
                               + (libvirtImageUsable ? "`torpor-execute wake \(domain.name)` restores it from libvirt's own image"
                                                     : "start it by hand if its memory may be lost"))
        }
        let manifest = try statePool.manifest(id: id)
        // The disks it was taken with, as they are now: refused before gigabytes are rebuilt (the rebuilt image's own
        // definition is checked again below).
        if let now = DiskIdentity.reread(manifest.diskIdentity) { try StatePool.checkDisks(of: manifest, current: now) }
        var unwritable: [String] = []
        for directory in [pool.directory, fallback] {
            // A name libvirt never gives (its managed saves are `<domain>.save`: a VM named restore-db has one).
            let image = directory + "/\(domain.name)" + StatePool.restoreImageSuffix
            let written: StatePoolError? = {
                do throws(StatePoolError) { try statePool.materialize(manifest, to: image); return nil } catch { return error }
            }()
            if let written {
                guard written.kind == .io || written.kind == .full else { throw written }   // corrupt, refused: nowhere better
                unwritable.append("\(written)")
                continue
            }
            defer { try? FileManager.default.removeItem(atPath: image) }
            // The disks the image restores with (its own definition: one plugged into the running VM before the save
            // included, which the domain's definition no longer lists), as they are now, against those it was taken with.
            let disks = DiskIdentity.of(xml: try connection.savedImageXMLDescription(path: image), withTimes: DiskIdentity.hasTimes(manifest.diskIdentity))
            if let unseen = DiskIdentity.unconfirmable(disks) {
                throw ExecuteError(.runtime, "refusing to restore \(domain.name) from the pool: " + unseen + " (memory and disk would disagree); "
                                   + "restore from libvirt's own image, or start the VM by hand")
            }
            try StatePool.checkDisks(of: manifest, current: disks)
            try connection.restore(from: image)
            return
        }
        throw ExecuteError(.runtime, "the state pool could not rebuild the image: " + unwritable.joined(separator: "; "))
    }

    /// Whether libvirtd may be running a job (a save, a restore) on the domain: a driver without job queries (the test
    /// driver) runs none; any other failure to ask counts as a job (the action is then left open, not resumed over).
    static func hasJob(_ domain: VirtDomain) -> Bool {
        do { return try domain.job().active } catch { return !error.isUnsupported }
    }

    /// Why a paused VM is left to a person instead of resumed, or nil when torpor may resume it (`resumable`). A reason
    /// libvirt cannot give counts as one for a person.
    static func pauseNeedsPerson(_ domain: VirtDomain) -> String? {
        do {
            let reason = try domain.pauseReason()
            return resumable(reason) ? nil : "libvirt paused it \(reason.map { "\($0)" } ?? "")"
        } catch {
            return "libvirt cannot tell why it is paused (\(error))"
        }
    }

    /// Whether torpor may resume a VM paused for `reason` (nil: not paused): paused by hand, by a save or a start that
    /// stopped half-way. Not one libvirt paused on a disk I/O error (full or failed storage), by its watchdog or after a
    /// guest crash, nor for a migration, dump or snapshot: resuming it could damage its disks or race that work.
    static func resumable(_ reason: PauseReason?) -> Bool {
        switch reason {
        case nil, .unknown?, .user?, .save?, .startingUp?, .fromSnapshot?, .apiError?: true
        default: false
        }
    }

    /// How a sleep's pool refusal begins when libvirt holds no image of it (`ExecutionCheck` reports such a sleep).
    static let imageLost = "libvirt holds no saved image of this sleep"

    /// The domain's disks as the state pool records them (`DiskIdentity`).
    static func diskIdentity(_ domain: VirtDomain) throws -> String {
        DiskIdentity.of(xml: try domain.xmlDescription(), withTimes: true)
    }

    /// The disks of a saved domain as its managed-save image holds them: a disk plugged into the running VM before the
    /// save included, which the domain's own definition no longer lists once it is off (a pool image taken without it
    /// would be restored over it unchecked); the definition's where the driver cannot read the image's (the test driver).
    static func savedDiskIdentity(_ domain: VirtDomain) throws -> String {
        do { return DiskIdentity.of(xml: try domain.managedSaveXMLDescription(), withTimes: true) } catch where error.isUnsupported { return try diskIdentity(domain) }
    }

    // MARK: hibernations

    /// Records that a due hibernation did not start: the action, `waiting` or `skipped`, why (what status shows and what
    /// makes a hold the same as the last run's), and optionally what to log instead of the reason when the hold is new
    /// (with what changes from run to run, such as the load measured now).
    typealias Hold = (Plan.Action, _ event: String, _ reason: String, _ detail: String?) -> Void

    /// Starts the due hibernations, and records in the store which are held back (`waiting` or `skipped`): a hold is
    /// logged when it starts and when its reason changes, not on every run (nor for every hourly plan that moves its
    /// action); a dry run logs every one.
    /// `restoresOnly` (a store a newer torpor migrated): every due one is held back.
    func hibernateDue(_ options: ExecutionOptions, approved: (plan: Plan, approved: [String: ApprovalRecord])?, restoresOnly: Bool = false,
                      busy: Set<String> = [], log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        let logged = try store.read { try JournalRepository.held(in: $0) }.filter { covers($0.value.host, options) }
        var held: [String: HeldHibernation] = [:]
        func hold(_ a: Plan.Action, _ event: String, _ reason: String, _ detail: String?) {
            if let same = logged[a.vm], same.event == event, same.reason == reason, !options.dryRun {
                held[a.vm] = same
            } else {
                held[a.vm] = HeldHibernation(vm: a.vm, host: a.host, event: event, reason: reason, since: options.now)
                log.record(.init(event: event, time: clock(), vm: a.vm, host: a.host, action: a.id, detail: detail ?? reason))
            }
        }
        try startDueHibernations(options, approved: approved, restoresOnly: restoresOnly, busy: busy, log: log, clock: clock, hold: hold)
        if !options.dryRun && held != logged { try store.transaction { try JournalRepository.setHeld(held, hosts: options.hosts, in: $0) } }
    }

    func startDueHibernations(_ options: ExecutionOptions, approved: (plan: Plan, approved: [String: ApprovalRecord])?, restoresOnly: Bool,
                              busy: Set<String>, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds, hold: Hold) throws {
        let began = clock()
        let mine = approved?.plan.actions.filter { covers($0.host, options) } ?? []
        let (paused, latest, power, pins) = try store.read { db in
            (try ExecutorSettings.paused(in: db), try JournalRepository.latestSteps(of: mine.map(\.id), in: db),
             try JournalRepository.power(in: db), try JournalRepository.pins(in: db))
        }
        guard let (plan, approvals) = approved else { return }
        let due = plan.actions.filter { a in
            a.action == .hibernate && a.at.seconds <= options.now && covers(a.host, options) && approvals[a.id] != nil && !busy.contains(a.vm)
                && [nil, .intent, .started].contains(latest[a.id]?.step)
        }
        guard !due.isEmpty else { return }
        // Each due hibernation's paired restore, found by id (a large fleet's plan holds thousands of each).
        let restores = Dictionary(plan.actions.filter { $0.action == .restore }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let expired = "the plan expired at \(plan.validUntil.text): no new hibernations from it"
        guard options.now <= plan.validUntil.seconds else {
            for a in due { hold(a, "skipped", expired, nil) }
            return
        }
        if restoresOnly {
            for a in due { hold(a, "skipped", ExecutorSettings.newerSchemaHold, nil) }
            return
        }
        if let why = options.holdHibernations {
            for a in due { hold(a, "skipped", why, nil) }
            return
        }
        if paused {
            for a in due { hold(a, "skipped", ExecutorSettings.pausedHold, nil) }
            return
        }
        // Events the plan may not have known (ingested since it was made): none may fall in a sleep that starts now.
        let (events, vms) = try store.read { db in
            (try EventRepository.overlapping(from: options.now, to: options.now + 8 * 86_400, in: db).filter { $0.category != .holiday },
             try VMRepository.all(in: db))
        }
        let labels = Dictionary(vms.map { ($0.name, $0.labels) }, uniquingKeysWith: { a, _ in a })
        // The guardrails the plan recorded, counted again at each pre-flight (plans from before they were recorded: not).
        let members = plan.inputs.guardrails.map { GuardrailMembers(rails: $0, vms: vms) }
        let sinceApproved = try store.read { try DueActions.sinceApproved(due, of: plan, now: options.now, in: $0) }
        var signalDown: String?
        for a in due {
            func skip(_ reason: String) { hold(a, "skipped", reason, nil) }
            let reopened = [.intent, .started].contains(latest[a.id]?.step)
            // The pass's time as it goes on (the saves before this one may have taken minutes): each check below reads
            // the time it is made at; what was read once for them is too old after `hibernationsStartWithin`.
            let now = clock()
            if isStopping { skip(Self.stoppingHold); continue }
            if now - began > hibernationsStartWithin {
                skip("this pass's hibernations began over \(DurationText.format(hibernationsStartWithin)) ago: the next pass reads the plans again and starts it")
                continue
            }
            guard now <= plan.validUntil.seconds else { skip(expired); continue }
            if let why = pinned(pins[a.vm], at: now) { skip(why); continue }
            if power[a.vm]?.state == .hibernated { skip("already hibernated"); continue }
            if let why = options.policy?.settings(vm: a.vm, labels: labels[a.vm] ?? [:]).excluded {
                skip("the policy in force excludes it (\(why)), though its approved plan holds the window: not hibernated"); continue
            }
            guard let restore = a.pairedWith.flatMap({ restores[$0] }) else { skip("its restore is already due: not worth sleeping"); continue }
            if let why = a.notWorthStarting(at: now, restore: restore) { skip(why); continue }
            // The plans made since know newer data, events and pins: the newest must still hold the hibernation (said
            // first: between two of its windows, the earlier one's restore is gone by), and none may bring its restore
            // to now (once asleep the VM would be owed that one).
            if let newest = sinceApproved.droppedBy[a.id] {
                skip("plan \(newest.prefix(12)), made since, no longer holds this hibernation: review that plan"); continue
            }
            if let risen = sinceApproved.roseIn[a.id] {
                let (was, newer) = (a.rationale, risen.rationale)
                skip("plan \(risen.plan.prefix(12)), made since, holds this hibernation with its forecast risen (risk \(newer.risk), approved at \(was.risk); "
                     + String(format: "peak %.1f %% → %.1f %%, worst case %.1f %% → %.1f %%): review that plan", was.forecastPeak, newer.forecastPeak,
                              was.worstCase, newer.worstCase))
                continue
            }
            if let sooner = sinceApproved.restores[a.id], sooner.at < restore.at, let why = a.notWorthStarting(at: now, restore: sooner) {
                skip(sooner.at.seconds <= now ? "a newer plan brings its restore to \(sooner.at.text): not worth sleeping" : "a newer plan brings its restore earlier: " + why)
                continue
            }
            let wake = restore.deadline?.seconds ?? restore.at.seconds
            if let e = events.first(where: { $0.applies(to: a.vm, labels: labels[a.vm] ?? [:]) && $0.overlaps(from: now, to: wake) }) {
                skip("calendar: \(e.category.rawValue) event '\(e.summary)' at \(UTC.format(e.start)) falls in the sleep (until "
                     + "\(UTC.format(wake))): not hibernated (a newer plan accounts for it)")
                continue
            }
            // The live demand signal that would wake it (`--wake-on`) must not want it now, nor fail to answer (missing
            // is not idle); a signal down is asked once a pass, not once per VM after its timeout.
            if let signal = self.demand, signal.covers(vm: a.vm, labels: labels[a.vm] ?? [:]) {
                if let signalDown { skip(signalDown); continue }
                do {
                    if let why = try signal.holdsSleep(vm: a.vm, labels: labels[a.vm] ?? [:], at: now) {
                        hold(a, "skipped", "the demand signal holds it at the pre-flight", why)
                        continue
                    }
                } catch {
                    if error is DemandSignalUnavailable { signalDown = "demand signal: \(error) (asked once this pass)" }
                    skip("demand signal: \(error)")
                    continue
                }
            }
            if a.afterIdleSeconds != nil,
               let unmet = try idleTimeoutUnmet(a, planHour: UTC.floor(plan.createdAt.seconds), wokeAt: power[a.vm]?.state == .running ? power[a.vm]?.since : nil,
                                                now: now) {
                hold(a, "waiting", unmet, nil)   // still due: a later pass checks again
                continue
            }
            try exclusively(a.vm, options, refused: { why, broken in
                if broken {
                    log.record(.init(event: "failed", time: clock(), vm: a.vm, host: a.host, action: a.id, detail: "hibernate: \(why)"))
                } else {
                    hold(a, "skipped", "another torpor-execute acts on the VM", why)
                }
            }) {
                // Read again now (the saves before this one may have taken minutes): done by another executor since
                // this pass read the journal, nothing left to do; paused or pinned meanwhile, held.
                let (step, held) = try store.read { db in
                    (try JournalRepository.latestSteps(of: [a.id], in: db)[a.id]?.step, try heldNow(a, approval: approvals[a.id], at: clock(), in: db))
                }
                guard step == latest[a.id]?.step else { return }
                if let held { return skip(held) }
                hibernate(a, plan: plan, approval: approvals[a.id], members: members, reopened: reopened, options: options, log: log, clock: clock, hold: hold)
            }
        }
    }

    /// Why a pin in force at `time` holds the VM, if it does.
    func pinned(_ pin: PinRecord?, at time: EpochSeconds) -> String? {
        guard let pin, pin.holds(at: time) else { return nil }
        return "pinned by \(pin.pinnedBy)" + (pin.until.map { " until \(UTC.format($0))" } ?? "")
    }

    /// Why hibernation `a` is held now, read from the store again right before its save (the pass read them at its
    /// start, minutes ago for a late VM): the executor's pause, a pin of its VM in force at `time`, or its `approval` (as
    /// the pass found it) no longer in force: carried by the standing approval, switched off since (a person's approval
    /// is never taken back; approvals are only added); or its VM found running on two hosts lately, or on another host
    /// than the plan's within `DomainRuns.gap` (`twoCopiesHold`).
    func heldNow(_ a: Plan.Action, approval: ApprovalRecord?, at time: EpochSeconds, in db: Database) throws -> String? {
        if try ExecutorSettings.paused(in: db) { return ExecutorSettings.pausedHold }
        if let pin = pinned(try JournalRepository.pins(in: db)[a.vm], at: time) { return pin }
        if let why = try Self.twoCopiesHold(a.vm, savedOn: a.host, at: time, in: db) { return why }
        guard let approval, approval.carriedFrom != nil, try Approvals.carriedInForce(in: db).map({ approval.approvedAt >= $0 }) != true else { return nil }
        return "its approval no longer holds (carried by the standing approval, switched off since): not started"
    }

    /// Why `vm` may not be saved on `host` at `time`: a collection found its domain running on two hosts within
    /// `VMRepository.runningCopiesGap` (one collection is enough here, a migration read across its switch included), or
    /// within a day and one of those hosts has not been collected since (missing is not one copy); or a collection of
    /// another host found it running within `DomainRuns.gap` (a copy seen there once, or a migration just made). Saving
    /// one copy while another runs would keep memory that no longer matches the disks the other writes. Nil otherwise.
    static func twoCopiesHold(_ vm: String, savedOn host: String, at time: EpochSeconds, in db: Database) throws -> String? {
        let held = "not saved while another copy may write its disks (torpor-execute check names it once collections in a row find it so)"
        if let copies = try VMRepository.runningCopies(from: time - 86_400, to: .max, in: db).first(where: { $0.vm == vm && $0.since <= time }) {
            let said = "found running on two hosts (\(copies.hosts.joined(separator: " and ")))"
            if copies.seen >= time - VMRepository.runningCopiesGap { return said + " lately: " + held }
            let silent = try copies.hosts.filter { (try SourceRepository.lastIngested(kind: "libvirt", location: $0, by: time, in: db) ?? 0) <= copies.seen }
            if !silent.isEmpty {
                return said + " at \(UTC.format(copies.seen)), and \(silent.joined(separator: " and ")) not collected since (one gone for good: "
                    + "torpor-ingest release \(vm) lets go of this record): " + held
            }
        }
        // A collection of another host than the one it is saved on found it running lately: a copy's first sighting there
        // (two copies from the next collection of either host; it may have moved the VM's placement there already), or
        // a migration just made. Whatever the placement says, and whether this host's collector is late.
        guard let other = try DomainRuns.ranBesides(domain: vm, besides: host, after: time - DomainRuns.gap, until: time, in: db) else { return nil }
        return "found running on \(other) lately, besides \(host) where it is to be saved (another copy, or a migration just made): " + held
    }

    /// Why a hibernation under the idle timeout may not happen yet, or nil when the VM's stored CPU utilization (the
    /// 5-minute collector's) has stayed under `hibernate_below` for its wait without a gap, since its last wake at the
    /// earliest, up to a sample no older than the stored load's limit (`--load-max-age`, else 10 min; missing is not idle).
    /// The wait is `Plan.Action.idleWait`: `min_idle` instead of a carried wait once a sample since
    /// `Plan.Action.busyCheckStart` (from the hour before the plan's, `planHour`) reached `hibernate_below`.
    func idleTimeoutUnmet(_ a: Plan.Action, planHour: EpochSeconds, wokeAt: EpochSeconds?, now: EpochSeconds) throws -> String? {
        let maxAge = storedLoadMaxAge
        let longest = max(a.afterIdleSeconds ?? 0, a.afterIdleOnceBusySeconds ?? 0), busyFrom = a.busyCheckStart(planHour: planHour, wokeAt: wokeAt)
        // A week read, though the wait is hours: the samples' usual spacing, what a gap is measured against, is the
        // week's (a collector failing now and then must not widen it: missing is not idle).
        let samples = DemandSamples(try store.read {
            try SampleReader.presentSamples(vm: a.vm, metric: "cpu_util", from: min(busyFrom, now - longest - maxAge, now - Self.spacingWindow), to: now + 1, in: $0)
        })
        guard let newest = samples.times.last, now - newest <= maxAge else {
            return "\(a.what): no CPU utilization of the VM in the store within \(DurationText.format(maxAge)) (missing is not idle)"
        }
        let busy = a.afterIdleOnceBusySeconds != nil && samples.firstDemand(from: busyFrom, to: now + 1, threshold: a.rationale.hibernateBelow) != nil
        let seconds = a.idleWait(busy: busy)!
        guard samples.firstIdle(for: seconds, from: newest, to: now + 1, threshold: a.rationale.hibernateBelow, countingFrom: wokeAt ?? .min) == nil else { return nil }
        // Held reasons are logged once per reason: no time in it that changes with each plan.
        return a.what + String(format: ": demand has not stayed under %.1f %% for ", a.rationale.hibernateBelow) + DurationText.format(seconds) + " yet"
            + (busy ? " (it reached it again since the plan counted its quiet, which ends the shorter wait)" : "")
    }

    /// The oldest stored sample the pre-flight and the idle timeout accept: `--load-max-age` when the store is the load
    /// source, else 10 minutes.
    var storedLoadMaxAge: Int64 { (load as? StoredLoad)?.maxAge ?? StoredLoad(store: store).maxAge }

    /// The collector's newest CPU utilization of `vm`, at most `storedLoadMaxAge` old, read besides a fresh sample; nil
    /// when the stored sample is the load itself, or when none is stored and no libvirt collection has read `host` within
    /// that age (a store the collector does not feed, a collector stopped: the fresh sample decides alone). None stored of
    /// a VM on a host collected within it throws: the collector missed it, and missing is not idle.
    func lastCollected(_ vm: String, host: String, at now: EpochSeconds) throws -> (time: EpochSeconds, value: Double)? {
        guard !(load is StoredLoad) else { return nil }
        return try store.read { db in
            if let newest = try SampleReader.presentSamples(vm: vm, metric: "cpu_util", from: now - storedLoadMaxAge, to: now + 1, in: db).last { return newest }
            // Collected lately: the collector runs and missed the VM (or has only its first counters). One that stopped
            // (check names it) leaves the fresh sample alone, as a store no collector feeds does.
            guard let collected = try SourceRepository.lastIngested(kind: "libvirt", location: host, by: now, in: db), collected >= now - storedLoadMaxAge else { return nil }
            throw StageError(.runtime, "no collection of its CPU utilization within \(DurationText.format(storedLoadMaxAge)), though \(host) is collected")
        }
    }

    /// How far back the idle timeout reads a VM's samples to know their usual spacing (`DemandSamples.interval`).
    static let spacingWindow: Int64 = 7 * 86_400

    /// Hibernates one VM: pre-flight (state as the plan assumed, demand low now), then managed save, confirmed by the
    /// VM being off with a saved image; then its image goes into the state pool. On failure the VM is left (or put
    /// back) running; when libvirt shows it saved after all, it is hibernated; when libvirt cannot tell (paused, not
    /// answering), the action stays open for the next run to reconcile, never closed as failed while its VM may sleep.
    /// A pre-flight that finds the VM busy or the state pool too full holds it back (`hold`): logged once per reason.
    /// `reopened`: an interrupted run left this action open (its VM, if not running, is left for reconciling).
    func hibernate(_ a: Plan.Action, plan: Plan, approval: ApprovalRecord?, members: GuardrailMembers?, reopened: Bool, options: ExecutionOptions, log: EventLog,
                   clock: @escaping @Sendable () -> EpochSeconds, hold: Hold) {
        let base = JournalEntry(actionID: a.id, planID: plan.id, vm: a.vm, host: a.host, kind: .hibernate, step: .intent, at: clock(), detail: a.rationale.text)
        var domain: VirtDomain?
        var journaled = false   // before the intent, a failure (lookup, pre-flight) leaves the action due for a later run
        var saveCalled = false   // before it, a paused VM was paused by another hand: never resumed here
        var started = base
        let began = Date()
        var reserved: Int64 = 0, keepsItsRoom = false
        // Room reserved for an image that was not made is given back; a saved one's is held until its copy ends.
        defer { if !keepsItsRoom { releasePoolRoom(a.vm) } }
        do {
            if connectionLock.withLock({ wokenUnrecorded.contains(a.vm) }) {
                return hold(a, "skipped", "this executor woke the VM after the journal could not record its last sleep: not saved again by it (a new run may)", nil)
            }
            let d = try connection(a.host).domain(named: a.vm)
            domain = d
            let state = try d.info().state
            guard state == .running else {
                if reopened {
                    log.record(.init(event: "skipped", time: clock(), vm: a.vm, host: a.host, action: a.id,
                                     detail: "the VM is \(state) after an interrupted save: left open for the next run to reconcile"))
                    return
                }
                var skipped = base
                skipped.step = .skipped
                skipped.detail = "the plan assumed the VM runs; it is \(state): not touched"
                if !options.dryRun { try journal(skipped) }
                log.record(.init(event: "skipped", time: clock(), vm: a.vm, host: a.host, action: a.id, detail: skipped.detail))
                return
            }
            // The partners' hosts connected first (one may take its timeout to answer: then given up on for the pass), then
            // the load, the pool's room and the partners' states: each seconds old at the count and the save, not as old
            // as the slowest step.
            if let members { connectPartnerHosts(a, members: members, covered: options.runHosts) }
            let demand: Double, collected: (time: EpochSeconds, value: Double)?
            do {
                demand = try load.demand(of: d, at: clock())
                collected = try lastCollected(a.vm, host: a.host, at: clock())
            } catch {
                // Held as a busy VM is (missing is not idle), logged when the hold begins; a later pass reads it again.
                let why = "its CPU load could not be read at the pre-flight (missing is not idle)"
                return hold(a, "skipped", why, why + ": \(error)")
            }
            guard demand < a.rationale.hibernateBelow else {
                hold(a, "skipped", String(format: "busy at the pre-flight (≥ hibernate_below %.1f %%)", a.rationale.hibernateBelow),
                     String(format: "busy now: %.1f %% ≥ hibernate_below %.1f %% (pre-flight)", demand, a.rationale.hibernateBelow))
                return
            }
            // A few seconds' sample can fall in a lull of a busy VM: the collector's newest sample (its last minutes) is to
            // be under the threshold too.
            if let collected, collected.value >= a.rationale.hibernateBelow {
                hold(a, "skipped", String(format: "busy at the last collection (≥ hibernate_below %.1f %%)", a.rationale.hibernateBelow),
                     "busy at the collection of \(UTC.format(collected.time)): " + String(format: "%.1f %% ≥ hibernate_below %.1f %% (pre-flight; %.1f %% now)",
                                                                                              collected.value, a.rationale.hibernateBelow, demand))
                return
            }
            // No room is reserved for an image the pool would refuse (a disk torpor cannot check): libvirt's image holds it.
            if let pool = options.pool, DiskIdentity.unconfirmable(try Self.diskIdentity(d)) == nil {
                let used = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store).usedBytes()
                let expected = try store.read { try StateRepository.expectedWrite(vm: a.vm, upTo: options.now, in: $0) } ?? Int64(try d.info().maxMemoryKiB) * 1024
                let free = connectionLock.withLock { () -> Int64 in
                    let free = pool.capacityBytes - used - poolReservations.values.reduce(0, +)
                    if expected <= free { poolReservations[a.vm] = expected; reserved = expected }
                    return free
                }
                guard reserved > 0 || expected == 0 else {
                    hold(a, "skipped", "the state pool is too full",
                         "the state pool is too full: \(ByteSize.format(expected)) expected, \(ByteSize.format(free)) free")
                    return
                }
            }
            let notRunning = members.map { partnersNotRunning(a, members: $0, covered: options.runHosts) } ?? [:]   // libvirt asked before the count
            // The guardrails counted last, and the intent journaled before any other pre-flight counts: the VM is then
            // asleep for them (being saved), whichever executor counts.
            let refused = try withGuardrailsCounted { () -> String? in
                // A pause or a pin made while the load was read (seconds) or the lock awaited holds it still, and so does a
                // stop asked meanwhile.
                if isStopping { return Self.stoppingHold }
                if let held = try store.read({ try heldNow(a, approval: approval, at: clock(), in: $0) }) { return held }
                if let members, let why = try guardrailRefusal(a, members: members, notRunning: notRunning, covered: options.runHosts) { return why }
                if options.dryRun { partnerLock.withLock { _ = dryRunClaims.insert(a.vm) } } else { try journal(base) }
                return nil
            }
            if let refused {
                hold(a, "skipped", refused, nil)
                return
            }
            if options.dryRun {
                log.record(.init(event: "would-hibernate", time: clock(), vm: a.vm, host: a.host, action: a.id,
                                 detail: String(format: "demand now %.1f %%; ", demand) + a.rationale.text))
                return
            }
            journaled = true
            // Paused since the pre-flight (a person's suspend, or libvirt's for a fault, while the load was read or the
            // guardrails' lock awaited): left as it is, not saved paused (its restore would bring it back paused).
            if try d.info().state == .paused {
                var skipped = base
                skipped.step = .skipped
                skipped.at = clock()
                skipped.detail = "the VM was paused after the pre-flight: not saved, left paused"
                // Not through the failure path, which resumes a VM its failed save left paused: an intent the journal
                // does not close is closed by the next run's reconcile, the VM left as it is.
                do { try journal(skipped) } catch { skipped.detail += "; the journal did not record it (\(error)): left open for the next run" }
                log.record(.init(event: "skipped", time: skipped.at, vm: a.vm, host: a.host, action: a.id, detail: skipped.detail))
                return
            }
            started.step = .started
            started.at = clock()
            started.detail = String(format: "managed save; demand now %.1f %%", demand)
            try journal(started)
            saveCalled = true
            try crashDuringLibvirtCall { try d.managedSave() }
            guard try d.info().state == .shutOff, try d.hasManagedSaveImage() else {
                throw ExecuteError(.runtime, "the save returned but the VM is not off with a saved image")
            }
            try finishHibernation(started, since: nil, domain: d, seconds: Date().timeIntervalSince(began), options: options, log: log, clock: clock)
            keepsItsRoom = true
        } catch {
            var failed = base
            failed.step = .failed
            failed.at = clock()
            failed.detail = "\(error)"
            guard journaled, let d = domain else {
                log.record(.init(event: "failed", time: failed.at, vm: a.vm, host: a.host, action: a.id, detail: "hibernate: \(failed.detail)"))
                return
            }
            // What libvirt shows decides; a failed hibernation leaves the VM running (not one libvirt paused for a fault).
            let pauseFault = Self.pauseNeedsPerson(d)
            switch (try? d.info().state, try? d.hasManagedSaveImage()) {
            case (.running?, _):
                try? journal(failed)
            case (.shutOff?, true?) where error is ImageNotFlushed:
                // Saved, but the disk refused the image: never recorded as a sleep (flushed again on another descriptor,
                // the kernel would not report the lost write twice). Started again from it while the kernel holds it.
                failed.detail += "; " + wakeUnrecordedSleep(d, vm: a.vm, because: error)
                if (try? d.info().state) == .running { try? journal(failed) }
            case (.shutOff?, true?):
                // Saved after all (the error came after the save, or from the store): the VM sleeps and is owed its restore.
                var saved = started
                saved.detail += "; saved despite: \(error)"
                do {
                    try finishHibernation(saved, since: nil, domain: d, seconds: Date().timeIntervalSince(began), options: options, log: log, clock: clock)
                    keepsItsRoom = true
                    return
                } catch where Self.passes(error) {
                    failed.detail += "; the VM is off with its saved state but the journal is held by another writer (\(error)): left open for the next run to reconcile"
                } catch {
                    failed.detail += "; " + wakeUnrecordedSleep(d, vm: a.vm, because: error)
                    if (try? d.info().state) == .running { try? journal(failed) }
                }
            case (.shutOff?, false?) where (try? d.wasShutDown()) == true:
                // Shut down after the pre-flight, by its guest or a person (the save then found it not running): left
                // off; torpor's save did not stop it.
                failed.detail += "; " + Self.shutDownMeanwhile
                try? journal(failed)
            case (.shutOff?, false?):
                // Stopped without a saved image: start it again.
                failed.detail += (try? d.start()) != nil ? "; the VM was started again" : "; " + Self.vmLeftOff
                try? journal(failed)
            case (.paused?, _) where !saveCalled:
                failed.detail += "; the VM is paused, and torpor's save was never called: left paused"
                try? journal(failed)
            case (.paused?, _) where !Self.hasJob(d) && pauseFault != nil:
                failed.detail += "; the VM is paused (\(pauseFault ?? "")): not resumed, " + Self.forAPerson
                try? journal(failed)
            case (.paused?, _) where !Self.hasJob(d) && (try? d.resume()) != nil:
                // Paused with no save running: the save failed and left it so; running again. (A resume that fails
                // leaves the action open: the next run reconciles from libvirt's state.)
                failed.detail += "; the VM was left paused: resumed"
                try? journal(failed)
            default:
                // A save still running, or libvirt not answering: closing the action could leave a saved VM with no
                // restore owed. The next run reconciles it from libvirt's state.
                failed.detail += "; libvirt cannot tell whether the VM was saved: left open for the next run to reconcile"
            }
            log.record(.init(event: "failed", time: failed.at, vm: a.vm, host: a.host, action: a.id, detail: "hibernate: \(failed.detail)"))
        }
    }

    /// A saved image the disk did not take: flushing it failed.
    struct ImageNotFlushed: Error, CustomStringConvertible {
        let path: String, reason: String
        var description: String { "libvirt's saved image \(path) could not be flushed to disk (\(reason)): a power cut would lose it" }
    }

    /// Flushes libvirt's saved image at `path`, and its directory, to disk. An image not on this machine (a remote
    /// host's, or a directory or file this executor may not read) is libvirt's to keep: nothing to do. One that is here
    /// but cannot be opened otherwise (a failing disk, no file descriptor left) is not flushed: a failed hibernation.
    static func flushImage(_ path: String) throws {
        func flush(_ path: String, flags: Int32) throws {
            let fd = open(path, flags | O_CLOEXEC)
            guard fd >= 0 else {
                if [ENOENT, EACCES, EPERM].contains(errno) { return }
                throw ImageNotFlushed(path: path, reason: "cannot be opened: " + String(cString: strerror(errno)))
            }
            defer { close(fd) }
            // A filesystem that cannot flush (EINVAL: no fsync of a directory there; EROFS) has nothing to lose to it.
            guard fsync(fd) == 0 || [EINVAL, EROFS].contains(errno) else { throw ImageNotFlushed(path: path, reason: String(cString: strerror(errno))) }
        }
        guard FileManager.default.fileExists(atPath: path) else { return }
        try flush(path, flags: O_RDONLY)
        try flush((path as NSString).deletingLastPathComponent, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Wakes a VM whose save completed but whose sleep the journal cannot record (`error`: a full disk under the store):
    /// asleep without a record, it would be owed no restore, and a hibernation torpor cannot record is a failed one,
    /// which leaves the VM running. libvirt starts it from its saved image, memory and all; this executor does not save
    /// it again. What became of it, for the journal and the log: started, or (the start failing too) left off for the
    /// next run to reconcile.
    func wakeUnrecordedSleep(_ domain: VirtDomain, vm: String, because error: Error) -> String {
        let unrecorded = error is ImageNotFlushed ? "the VM was off with its saved state, but \(error)"
            : "the VM was off with its saved state but the journal cannot record its sleep (\(error))"
        do {
            try domain.start()
            connectionLock.withLock { _ = wokenUnrecorded.insert(vm) }
            return unrecorded + ": started again from its saved state" + (error is ImageNotFlushed ? "" : " (a sleep without a record would be owed no restore)")
        } catch {
            return unrecorded + ", and it could not be started (\(error)): left open for the next run to reconcile"
        }
    }

    /// Whether a store error passes by itself (another writer held the store past the busy timeout): a sleep it kept
    /// from the journal is recorded by the next run's reconcile, not woken.
    static func passes(_ error: Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return [ResultCode.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode.primaryResultCode)
    }

    /// Records a completed save (`entry` becomes its `done` step; `since`: when the sleep began, else now) with the
    /// VM's power state. `event` names the log entry (`hibernated`, or `reconciled` for a save a killed run left). Its
    /// image goes into the state pool at the pass's end (`poolUnpooledSleeps`), outside the VM's lock: the copy may take
    /// minutes, and a restore or an operator's wake works meanwhile.
    func finishHibernation(_ entry: JournalEntry, since: EpochSeconds?, domain: VirtDomain, seconds: Double?, options: ExecutionOptions,
                           log: EventLog, clock: @escaping @Sendable () -> EpochSeconds, event: String = "hibernated") throws {
        var done = entry
        done.step = .done
        done.at = clock()
        done.seconds = seconds
        let image = options.managedSaveImage(of: entry.vm)
        // libvirt writes the image without flushing it: a power cut before the kernel does would lose the memory of a
        // sleep recorded as done. Flushed here first; one that cannot be is a failed hibernation (the VM started again).
        try flushSavedImage(image)
        done.bytes = (try? FileManager.default.attributesOfItem(atPath: image)[.size] as? Int64) ?? nil
        // The disks as the save left them: the pool image is taken with this identity, however late the copy.
        let disks = options.pool == nil ? nil : try? Self.savedDiskIdentity(domain)
        let sleep = PowerRecord(vm: entry.vm, host: entry.host, state: .hibernated, since: since ?? done.at, actionID: entry.actionID, diskIdentity: disks)
        try journal(done, power: sleep)
        log.record(.init(event: event, time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail, seconds: seconds))
    }

    /// Takes into the pool the image of every sleep that is not there yet and was not refused: this pass's new sleeps,
    /// a save a killed run left (reconciled), a copy a killed run did not finish, one the pool's lock held back (a
    /// garbage collection), one whose copy failed in a way that may pass, once its wait is over. A sleep whose VM libvirt holds saved but whose image is not in `managedSaveDirectory` is
    /// refused once, saying so; run after the restores. None while the executor stops (`stopHibernating`): a copy of
    /// gigabytes would hold its stop, and libvirt's image holds the sleep; the next start copies it.
    func poolUnpooledSleeps(_ options: ExecutionOptions, busy: Set<String>, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        guard options.pool != nil, !isStopping else { return }
        let sleeps = try store.read { try JournalRepository.power(in: $0) }.values
            .filter { $0.state == .hibernated && $0.manifestID == nil && $0.poolRefused == nil && ($0.poolRetryAt ?? .min) <= clock()
                && covers($0.host, options) && !busy.contains($0.vm) }
            .sorted { $0.vm < $1.vm }
        for sleep in sleeps {
            let image = options.managedSaveImage(of: sleep.vm)
            // Not under the VM's lock: a copy of many GiB must not hold back its restore. The pool's own lock keeps two
            // copies apart, and a VM restored during the copy keeps its record (`linkManifest`).
            // Copied by another thread of this executor now (a pass before this one): left to it.
            guard connectionLock.withLock({ vmsPooling.insert(sleep.vm).inserted }) else { continue }
            defer { _ = connectionLock.withLock { vmsPooling.remove(sleep.vm) } }
            do {
                // The same sleep, still not pooled (another executor may have restored or pooled it since).
                guard let now = try store.read({ try JournalRepository.power(of: sleep.vm, in: $0) }), now == sleep else { releasePoolRoom(sleep.vm); continue }
                let domain = try connection(sleep.host).domain(named: sleep.vm)
                let state = try domain.info().state, saved = try domain.hasManagedSaveImage()
                if state == .shutOff && !saved {
                    // Off without its image: this sleep's saved state is gone before it reached the pool. Said now (once:
                    // recorded as the pool's refusal), not first when its restore fails.
                    let why = Self.imageLost + " (the VM is off without one): nothing to take into the state pool; "
                        + "its restore will fail, a person must look (the VM is never cold-booted silently)"
                    try? store.transaction { try JournalRepository.refusePool(why, vm: sleep.vm, actionID: sleep.actionID, in: $0) }
                    log.record(.init(event: "not-pooled", time: clock(), vm: sleep.vm, host: sleep.host, action: sleep.actionID, detail: why))
                }
                guard state == .shutOff, saved else { releasePoolRoom(sleep.vm); continue }
                // The pool's lock held: the others wait for a later pass too (said once, not once per sleep).
                if !takeIntoPool(image: image, of: sleep, domain: domain, options: options, log: log, clock: clock) { break }
            } catch {
                releasePoolRoom(sleep.vm)
                log.record(.init(event: "not-pooled", time: clock(), vm: sleep.vm, host: sleep.host, action: sleep.actionID, detail: "state pool: \(error)"))
            }
        }
    }

    /// Takes a sleeping VM's saved image into the state pool and links it to the sleep (`pooled`); when it cannot, says
    /// why (`not-pooled`). A failure that may pass (an I/O error, a full pool) is tried again after each of
    /// `poolRetryDelays` in turn; any other, or one more, records the refusal, so that no later pass reads the whole
    /// image again: then only libvirt's image holds this sleep. A busy pool is tried on the next pass.
    /// Returns false when the pool's lock was held (another copy, a garbage collection): the copies after it wait for
    /// a later pass.
    @discardableResult
    func takeIntoPool(image: String, of sleep: PowerRecord, domain: VirtDomain, options: ExecutionOptions, log: EventLog,
                      clock: @escaping @Sendable () -> EpochSeconds) -> Bool {
        var copyEnded = true   // the image is in the pool or refused for good: its reserved room is given back
        defer { if copyEnded { releasePoolRoom(sleep.vm) } }
        guard let pool = options.pool else { return true }
        func notPooled(_ why: String, final: Bool, retryAt: EpochSeconds? = nil) {
            if final { try? store.transaction { try JournalRepository.refusePool(why, vm: sleep.vm, actionID: sleep.actionID, in: $0) } }
            if let retryAt { try? store.transaction { try JournalRepository.postponePool(vm: sleep.vm, actionID: sleep.actionID, retryAt: retryAt, in: $0) } }
            log.record(.init(event: "not-pooled", time: clock(), vm: sleep.vm, host: sleep.host, action: sleep.actionID,
                             detail: why + (final ? "; libvirt's image stands" : retryAt.map { "; tried again from \(UTC.format($0))" } ?? "; taken on a later pass")))
        }
        guard FileManager.default.fileExists(atPath: image) else {
            notPooled("libvirt's image is not at \(image) (see --managed-save-directory): not taken into the state pool", final: true)
            return true
        }
        do {
            let disks = try sleep.diskIdentity ?? Self.savedDiskIdentity(domain)
            if let unseen = DiskIdentity.unconfirmable(disks) {
                notPooled("not taken into the state pool: " + unseen + ", so an image of it could never be restored from the pool", final: true)
                return true
            }
            let report = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store)
                .take(image: image, vm: sleep.vm, diskIdentity: disks, now: sleep.since)
            let linked = try store.transaction { try JournalRepository.linkManifest(report.manifestID, vm: sleep.vm, actionID: sleep.actionID, in: $0) }
            log.record(.init(event: "pooled", time: clock(), vm: sleep.vm, host: sleep.host, action: sleep.actionID,
                             detail: "state pool image #\(report.manifestID) (\(String(format: "%.1f", report.seconds)) s): \(report.newChunks) new of \(report.chunks) chunks, \(report.writtenBytes) bytes written"
                                + (report.rewrittenChunks > 0 ? "; \(report.rewrittenChunks) chunks the pool had lost written again (run torpor-execute pool verify)" : "")
                                + (linked ? "" : "; the VM was woken meanwhile: not this sleep's image")))
        } catch let error as StatePoolError where error.kind == .busy {
            notPooled("state pool: \(error)", final: false)
            copyEnded = false
            return false
        } catch where Self.mayPass(error) && sleep.poolFailures < Self.poolRetryDelays.count {
            notPooled("state pool: not taken (\(error))", final: false, retryAt: clock() + Self.poolRetryDelays[sleep.poolFailures])
        } catch {
            notPooled("state pool: not taken (\(error))" + (sleep.poolFailures > 0 ? ", tried \(sleep.poolFailures + 1) times" : ""), final: true)
        }
        return true
    }

    /// Whether a pool copy's failure may pass: the pool's disk (I/O, full), the store (busy past its timeout while a long
    /// ingest writes, a full disk: the image may be in the pool and only its link missing), or libvirt (reading the
    /// disks' identity). A refusal for good would leave a sleep whose image the pool holds restorable only from libvirt's.
    static func mayPass(_ error: Error) -> Bool {
        if let error = error as? StatePoolError { return [StatePoolError.Kind.io, .full].contains(error.kind) }
        return error is DatabaseError || error is VirtError
    }

    /// How long a sleep's pool copy waits after each failure that may pass before it is tried again; after the last,
    /// the pool refuses that sleep.
    static let poolRetryDelays: [EpochSeconds] = [15 * 60, 3600, 4 * 3600]

    /// Gives back the pool room reserved for `vm`'s image.
    func releasePoolRoom(_ vm: String) { _ = connectionLock.withLock { poolReservations.removeValue(forKey: vm) } }

    /// Subscribes to the lifecycle events of every domain on `hosts` (all hosts of the store's VMs when nil), on the
    /// executor's own connections, for as long as the executor lives: `--follow` runs a pass at once when a VM starts or
    /// stops outside the schedule. Each host is connected to in the background, all at once: `watch` returns at once,
    /// so a host that does not answer delays no pass (its restores neither: a pass's own connection to it waits only
    /// in that host's thread). A host that cannot be reached now is subscribed when a pass connects to it, and a
    /// connection opened again (libvirtd restarted) is subscribed again.
    public func watch(hosts: Set<String>?, _ handler: @escaping @Sendable (String, DomainLifecycleEvent) -> Void) throws {
        let all = try hosts ?? Set(store.read { try VMRepository.all(in: $0) }.compactMap(\.hostURI))
        connectionLock.withLock { lifecycleHandler = handler }
        for host in all.sorted() {
            DispatchQueue.global().async { [self] in
                guard let c = try? connection(host) else { return }
                // Opened before `watch` (no subscription yet) or just now (subscribed by `connection`).
                if connectionLock.withLock({ subscriptions[host]?.connection !== c }) { subscribe(host, on: c, handler) }
            }
        }
    }

    private func subscribe(_ host: String, on connection: VirtConnection, _ handler: @escaping @Sendable (String, DomainLifecycleEvent) -> Void) {
        let subscription = try? connection.onLifecycleEvent { handler(host, $0) }
        connectionLock.withLock {
            // Kept only while its connection is the host's: one opened again meanwhile (by a pass) has its own, which a
            // late subscription on the closed one must not replace. The old one, on a closed connection, is released.
            if connections[host] === connection { subscriptions[host] = subscription }
        }
    }

    // MARK: operator controls

    /// Restores `vm` now, whatever the plans say (`torpor-execute wake`); `fromPool` rebuilds its image from the state
    /// pool even when libvirt still has its own (`torpor-execute restore --from-pool`). libvirt has the last word: a VM
    /// it holds off with a saved image is woken even where torpor's record says it runs (a save a run could not record).
    /// Held by another executor (a run saving the VM), the VM is waited for `patience` seconds at most, `waiting` hearing
    /// it first: then woken. `onto` (from the pool only): the sleep moved to that host (`move`: the host it slept on no
    /// longer has the domain, or is gone for good, `hostGone`) and restored there: the VM defined again on a new host
    /// comes back with its memory, the pool checking that its disks are the ones it slept with. A retry after a failed
    /// move finds the sleep on the new host already, and restores it there.
    /// `recordsAtItsEnd`: the records its restore kept back from a busy store are written before it returns (else the
    /// caller writes them, `recordHeldBackRestores`: a pin, its own record first). `byPin`: a pin's wake, held where the
    /// VM ran elsewhere while asleep as a wake of many is (`held`), and which waits for no executor.
    public func wake(vm: String, by who: String, fromPool: Bool = false, onto: String? = nil, hostGone: Bool = false, options: ExecutionOptions,
                     patience: TimeInterval = 0, waiting: (String) -> Void = { _ in }, recordsAtItsEnd: Bool = true, byPin: Bool = false) throws -> [ExecutionEvent] {
        let log = EventLog(path: options.eventLog)
        let clock = Self.clock(from: options.now)
        forgetUnreachableHosts()
        if fromPool && options.pool == nil { throw ExecuteError(.badInput, "a restore from the state pool needs --pool DIR") }
        /// Where the VM is, and what torpor recorded of it: read again once the VM is held (a save waited for changed it).
        func recorded() throws -> (host: String, power: PowerRecord?) {
            let (power, known) = try store.read { (try JournalRepository.power(in: $0)[vm], try VMRepository.all(in: $0).first { $0.name == vm }) }
            guard let host = power?.host ?? known?.hostURI else {
                throw ExecuteError(.badInput, "no VM named \(vm) in the store \(store.path) (torpor never acted on it and no inventory lists it with a host)")
            }
            return (host, power)
        }
        _ = try recorded()
        // Never beside an executor acting on it (a restore from the pool writes a file another would write too).
        try exclusively(vm, options, evenIfBroken: true, patience: patience, waiting: waiting, refused: { why, broken in
            if !broken { throw ExecuteError(.runtime, "\(vm): \(why); try again when it is done" + (byPin ? "" : " (or wait longer: --wait)")) }
        }) {
            let (slept, power) = try recorded()
            guard let onto, onto != slept else {
                return try wake(vm, host: slept, recorded: power, by: who, fromPool: fromPool, byPin: byPin, options: options, log: log, clock: clock)
            }
            guard fromPool, let power, power.state == .hibernated else {
                throw ExecuteError(.badInput, "\(vm) is not asleep in torpor's record: only a sleep is restored onto another host, from the state pool; nothing restored")
            }
            let gone = try move(vm, asleep: power, onto: onto, hostGone: hostGone, by: who, at: clock())
            try wake(vm, host: onto, recorded: try recorded().power, by: who, fromPool: true, moved: "onto \(onto): \(gone)", options: options,
                     log: log, clock: clock)
        }
        if recordsAtItsEnd { recordHeldBackRestores(log: log, clock: clock) }
        return log.events
    }

    /// What `wakeAll` was asked to wake and what became of it.
    public struct WokenAll: Sendable {
        /// The VMs asleep of the selection (torpor's sleepers, those an action is under way or left open for, those
        /// saved without torpor's record), by name.
        public var asleep: [String]
        /// Those libvirt does not say run once the wake is done (none in a dry run), each with what it says instead.
        public var notWoken: [(vm: String, state: String)]
        /// The hosts whose wake stopped (libvirt did not answer, say), sorted: what sleeps there may not be known.
        public var hostsStopped: [String]
        /// Every event of the wake, in order.
        public var events: [ExecutionEvent]
    }

    /// Restores every VM asleep on `options.hosts` (nil: every host) whose labels include `labels`, whatever the plans
    /// say (`torpor-execute wake --all`: an incident, a host's maintenance, torpor stopped for good). Each host on a
    /// thread of its own: what a killed run left is reconciled first (a save it completed is a sleep); torpor's sleepers
    /// are restored as a run restores them (in SLA order, its restores at a time), and every unfinished restore on the
    /// host, chosen or not; then, one by one as `wake` does, the VMs an action is under way or left open for (another
    /// executor's: waited for, `patience` seconds at most for all of the host's together, after its restores; a save a
    /// killed run left that reconciling could not close) and those saved without torpor's record (a `virsh managedsave`
    /// by hand, a store restored from an older backup), as the inventory found them or libvirt holds them now (saved
    /// since the inventory looked, or a VM the store does not know: every host the store knows is asked). libvirt then
    /// says which of them run; a host whose wake fails is named with the VMs it does not say run. None asleep is
    /// `nothingToDo`; a `--host` the store does not know is `badInput` (a mistyped URI must not read as nothing asleep).
    public func wakeAll(labels: [String: String] = [:], by who: String, options: ExecutionOptions, patience: TimeInterval = 0,
                        waiting say: @escaping @Sendable (String) -> Void = { _ in }) throws -> WokenAll {
        let log = EventLog(path: options.eventLog)
        let clock = Self.clock(from: options.now)
        forgetUnreachableHosts()
        restoreSteps.reset()
        if let problem = try unknownHosts(options).first { throw ExecuteError(.badInput, problem) }
        let known = try store.read { try VMRepository.all(in: $0) }
        let labelled = Dictionary(known.map { ($0.name, $0.labels) }, uniquingKeysWith: { a, _ in a })
        let hostOf = Dictionary(known.compactMap { vm in vm.hostURI.map { (vm.name, $0) } }, uniquingKeysWith: { a, _ in a })
        @Sendable func chosen(_ vm: String) -> Bool { labels.allSatisfy { labelled[vm]?[$0.key] == $0.value } }
        let inWords = Self.chosenInWords(labels: labels, hosts: options.hosts)
        let every = "every sleeping VM" + inWords, reason = "woken by \(who): \(every)"
        /// The selection by host: torpor's sleepers (their restores owed), VMs with an action under way or left open, and
        /// those saved without torpor's record (`JournalRepository.savedWithoutRecord`, however long ago). One read of the
        /// store for every host.
        @Sendable func asleepByHost() throws -> [String: Asleep] {
            try store.read { db in
                let owed = try DueActions.owedRestores(now: options.now, in: db).filter { covers($0.host, options) && chosen($0.vm) }
                let sleeping = Set(owed.map(\.vm))
                let acting = try JournalRepository.unfinished(in: db).filter { covers($0.host, options) && chosen($0.vm) && !sleeping.contains($0.vm) }
                let unrecorded = try JournalRepository.savedWithoutRecord(now: options.now, power: try JournalRepository.power(in: db), in: db)
                    .filter { covers($0.host, options) && chosen($0.vm) && !sleeping.contains($0.vm) }
                var byHost: [String: Asleep] = [:]
                for r in owed { byHost[r.host, default: Asleep()].owed.append(r) }
                for e in acting where !(byHost[e.host]?.acting.contains(e.vm) ?? false) { byHost[e.host, default: Asleep()].acting.append(e.vm) }
                for s in unrecorded { byHost[s.host, default: Asleep()].unrecorded.append(s.vm) }
                return byHost
            }
        }
        // Labels are the store's: a VM it does not know has none.
        guard labels.isEmpty || known.contains(where: { chosen($0.name) }) else {
            throw ExecuteError(.nothingToDo, "no VM\(inWords) is asleep (no VM of the store has those labels)")
        }
        let hostsAsleep = try asleepByHost()
        let results = WakeResults()
        try eachHost(try options.hosts ?? knownHosts(approved: nil), log: log, clock: clock) { host in
            var options = options
            options.hosts = [host]
            /// What libvirt says `vm` is when it does not run (nil when it runs).
            func notRunning(_ vm: String) -> String? {
                guard let state = try? self.connection(host).domain(named: vm).info().state else { return "unknown (libvirt did not answer)" }
                return state.runs ? nil : "\(state)"
            }
            var reconciled = Reconciled()
            /// Of the VMs an action is under way or was left open for, those asleep or about to be: another executor (or
            /// libvirtd) still acts on it, reconciling found its restore unfinished, its save began since, or libvirt does
            /// not show it running (a save a killed run completed that reconciling could not close).
            func sleeping(_ acting: [String]) -> [String] {
                acting.filter { vm in
                    self.locks?.heldByAnother(vm) == true || reconciled.busy.contains(vm) || reconciled.interrupted[vm] != nil || notRunning(vm) != nil
                }
            }
            var found = hostsAsleep[host] ?? Asleep()
            do {
                if !options.dryRun {
                    // A store that cannot answer blocks no wake: what was read before goes on.
                    do { reconciled = try self.reconcile(options, log: log, clock: clock) } catch {
                        log.record(.init(event: "failed", time: clock(), host: host, detail: "\(host): what a killed run left is not reconciled: \(error)"))
                    }
                }
                // Read again when reconciling found a save completed: that VM sleeps now.
                if !reconciled.saved.isEmpty { found = (try? asleepByHost()).map { $0[host] ?? Asleep() } ?? found }
                let acting = sleeping(found.acting)
                var selection = Set(found.owed.map(\.vm) + acting + found.unrecorded).sorted()
                results.add(selection)
                let owed = found.owed.map { r in
                    OwedRestore(vm: r.vm, host: r.host, actionID: UnplannedWake.wakeOfMany(vm: r.vm, at: options.now), planID: nil, at: options.now,
                                deadline: options.now, priority: r.priority, reason: reason, byPerson: true, ofMany: true,
                                hostConcurrentRestores: r.hostConcurrentRestores)
                }
                // Sleepers another executor holds are waited for below, outside the restores' slots (given a --wait); every
                // unfinished restore is finished, chosen or not (restores are never blocked).
                let waiting = patience > 0 && !options.dryRun
                let waitedFor = waiting ? Set(found.owed.map(\.vm).filter { self.locks?.heldByAnother($0) == true }) : []
                try self.restoreOwed(options, owed: owed, interrupted: reconciled.interrupted, busy: reconciled.busy.union(waitedFor), log: log, clock: clock)
                // Then what libvirt holds saved that the store names nowhere (saved by hand since the inventory looked):
                // asked after the restores owed, which never wait on it; a host that cannot say is named.
                do {
                    let listed = try self.savedOutsideTheStore(on: host, beside: Set(selection), hostOf: hostOf, chosen: chosen, results: results,
                                                               log: log, clock: clock)
                    found.unrecorded += listed
                    selection += listed
                    results.add(listed)
                } catch {
                    log.record(.init(event: "failed", time: clock(), host: host, detail: "\(host): which VMs libvirt holds saved is not known: \(error)"))
                    results.stopped(host)
                }
                // One by one, as `wake` does: what the restores left to others (another executor held it, or took it since;
                // libvirtd was still at it) and what no restore is owed for.
                let giveUp = Date().addingTimeInterval(patience)   // one --wait for the host's VMs held, not one per VM
                let restored = Set(log.events.filter { $0.event == "restored" && $0.host == host }.compactMap(\.vm))
                let refused = waiting ? Set(log.events.filter { $0.event == "skipped" && $0.host == host }.compactMap(\.vm)) : []
                let leftByRestores = reconciled.busy.union(waitedFor).union(refused), sleepers = Set(found.owed.map(\.vm))
                for vm in selection where !restored.contains(vm) && (!sleepers.contains(vm) || leftByRestores.contains(vm)) {
                    let unrecordedNote = found.unrecorded.contains(vm) ? " (saved without torpor's record)" : ""
                    self.exclusively(vm, options, evenIfBroken: true, patience: waiting ? max(0, giveUp.timeIntervalSinceNow) : 0, waiting: say, refused: { why, broken in
                        log.record(.init(event: broken ? "failed" : "skipped", time: clock(), vm: vm, host: host,
                                         detail: "wake: \(why)" + (broken ? "; waking without the lock" : "")))
                    }) {
                        if options.dryRun {
                            let open = acting.contains(vm) ? " (an action under way or left open: reconciled, or waited for, first)" : ""
                            return log.record(.init(event: "would-restore", time: options.now, vm: vm, host: host, detail: reason + unrecordedNote + open))
                        }
                        do {
                            // A store that cannot answer blocks no wake: libvirt has the last word.
                            let power = (try? self.store.read { try JournalRepository.power(of: vm, in: $0) }) ?? nil
                            try self.wake(vm, host: host, recorded: power, by: "\(who): \(every)\(unrecordedNote)", fromPool: false, ofMany: true,
                                              options: options, log: log, clock: clock)
                        } catch {
                            log.record(.init(event: "skipped", time: clock(), vm: vm, host: host, detail: "wake: \(error)"))
                        }
                    }
                }
                guard !options.dryRun else { return }
                for vm in selection { if let state = notRunning(vm) { results.notWoken(vm, state) } }
            } catch {
                // The host is named, and its VMs libvirt does not say run; the other hosts' wakes go on, and all are summed up.
                log.record(.init(event: "failed", time: clock(), host: host, detail: "\(host): the wake stopped: \(error)"))
                results.stopped(host)
                let vms = Set(found.owed.map(\.vm) + sleeping(found.acting) + found.unrecorded).sorted()
                results.add(vms)
                for vm in vms { if let state = notRunning(vm) { results.notWoken(vm, state) } }
            }
        }
        recordHeldBackRestores(log: log, clock: clock)
        // Nothing asleep (the open actions were hibernations still waiting, their VMs running), every host asked, and
        // nothing said (a saved copy of a VM the store has elsewhere).
        if results.asleep.isEmpty && results.hostsStopped.isEmpty && !log.events.contains(where: { ["failed", "restored", "skipped"].contains($0.event) }) {
            throw ExecuteError(.nothingToDo, "no VM\(inWords) is asleep")
        }
        return WokenAll(asleep: results.asleep, notWoken: results.notWoken, hostsStopped: results.hostsStopped, events: log.events)
    }

    /// The VMs `host`'s libvirt holds saved (shut off with a managed-save image) beside those `wakeAll` chose there
    /// already, `chosen` by their labels: saved by hand since the inventory looked, or a VM the store does not know. One
    /// the store has on another host (`hostOf`) is not woken but said, and named as not woken ("vm on host"): a copy a
    /// migration left, or another domain of the same name; starting it would load an old memory over disks that moved on,
    /// and record the VM running where it is not.
    private func savedOutsideTheStore(on host: String, beside chosenAlready: Set<String>, hostOf: [String: String], chosen: (String) -> Bool,
                                      results: WakeResults, log: EventLog, clock: () -> EpochSeconds) throws -> [String] {
        try connection(host).savedDomainNames().filter { vm in
            guard !chosenAlready.contains(vm), chosen(vm) else { return false }
            if let elsewhere = hostOf[vm], elsewhere != host {
                // Named in the summary (exit 1): a domain is left saved, and the store's host may only be out of date.
                let copy = "\(vm) on \(host)"
                results.add([copy])
                results.notWoken(copy, "saved; the store has \(vm) on \(elsewhere): not woken")
                log.record(.init(event: "skipped", time: clock(), vm: vm, host: host,
                                 detail: "wake: libvirt holds a saved domain \(vm) here, but the store has \(vm) on \(elsewhere) (a copy a migration left, "
                                    + "or another domain of the same name): not woken; start it by hand (virsh -c \(host) start \(vm)) if it is the one"))
                return false
            }
            return true
        }
    }

    /// What `wakeAll` finds asleep on a host.
    private struct Asleep: Sendable {
        var owed: [OwedRestore] = [], acting: [String] = [], unrecorded: [String] = []
    }

    /// What `wakeAll`'s hosts found, gathered from their threads.
    private final class WakeResults: @unchecked Sendable {
        private let lock = NSLock()
        private var vms: Set<String> = [], states: [String: String] = [:], stoppedHosts: Set<String> = []
        func add(_ asleep: [String]) { lock.withLock { vms.formUnion(asleep) } }
        func notWoken(_ vm: String, _ state: String) { lock.withLock { states[vm] = state } }
        func stopped(_ host: String) { lock.withLock { _ = stoppedHosts.insert(host) } }
        var hostsStopped: [String] { lock.withLock { stoppedHosts.sorted() } }
        var asleep: [String] { lock.withLock { vms.sorted() } }
        var notWoken: [(vm: String, state: String)] { lock.withLock { states.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } } }
    }

    /// The VMs `wakeAll` chose, in words: " labelled k=v, k2=v2 on h1, h2", or "".
    private static func chosenInWords(labels: [String: String], hosts: Set<String>?) -> String {
        (labels.isEmpty ? "" : " labelled " + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            + (hosts.map { " on " + $0.sorted().joined(separator: ", ") } ?? "")
    }

    /// `wake`, holding the VM.
    private func wake(_ vm: String, host: String, recorded power: PowerRecord?, by who: String, fromPool: Bool, moved: String? = nil, ofMany: Bool = false,
                      byPin: Bool = false, options: ExecutionOptions, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        if power?.state != .hibernated {
            let domain = try connection(host).domain(named: vm)
            let state = try domain.info().state
            if state == .paused, !fromPool, !Self.hasJob(domain) {
                // Left paused (a save that failed, say; a fault too: a person asks): running again is what a wake means.
                let why = Self.pauseNeedsPerson(domain).map { " (\($0))" } ?? ""
                try domain.resume()
                log.record(.init(event: "restored", time: clock(), vm: vm, host: host,
                                 detail: "woken by \(who): it was paused\(why); resumed" + Self.dropStaleImage(domain)))
                return
            }
            guard state == .shutOff, try domain.hasManagedSaveImage(), !fromPool else {
                throw ExecuteError(.nothingToDo, "\(vm) is not asleep: libvirt says it is \(state)" + (power.map { "; torpor has it running since \(UTC.format($0.since))" } ?? ""))
            }
            if let power, let stale = staleLibvirtImage(vm, running: power, options: options) {
                throw ExecuteError(.needsPerson, "\(vm) is off with a saved image libvirt would start, but \(stale): starting it would load that old "
                                   + "memory over disks written since; not woken. Remove the image (virsh managedsave-remove \(vm)) and start the VM afresh")
            }
        }
        let action = ofMany ? UnplannedWake.wakeOfMany(vm: vm, at: options.now) : UnplannedWake.wake.actionID(vm: vm, at: options.now)
        restore(OwedRestore(vm: vm, host: host, actionID: action, planID: nil, at: options.now,
                            deadline: options.now, priority: 0, reason: "woken by \(who)" + (fromPool ? " from the state pool" : "") + (moved.map { " " + $0 } ?? ""),
                            fromPool: fromPool, byPerson: true, ofMany: ofMany, byPin: byPin), options: options, log: log, clock: clock)
    }
}

/// The executor's fleet-wide switch: `pause` stops new hibernations; restores continue.
public enum ExecutorSettings {
    static let pausedKey = "executor_paused"

    public static func paused(in db: Database) throws -> Bool { try PlanRepository.setting(pausedKey, in: db)?.value == "on" }

    /// Why a run held a due hibernation back on a store a newer torpor has migrated (a rollback, or an executor left
    /// running on the old binary by an upgrade): restores go on. Every torpor since schema v14 begins it with
    /// `newerSchemaHoldStart`, which `check` looks for.
    static let newerSchemaHold = newerSchemaHoldStart + ": this one only restores (no new hibernations until torpor is upgraded again)"
    static let newerSchemaHoldStart = "the store was written by a newer torpor"

    /// Why a run held a due hibernation back while paused.
    static let pausedHold = "paused: no new hibernations until torpor-execute resume"

    /// Switches the pause; resuming also forgets the holds the pause caused (status no longer lists them).
    public static func setPaused(_ on: Bool, by who: String, now: EpochSeconds, in store: Store) throws {
        try store.transaction { db in
            try PlanRepository.set(pausedKey, to: on ? "on" : "off", by: who, at: now, in: db)
            if !on { try JournalRepository.setHeld(try JournalRepository.held(in: db).filter { $0.value.reason != pausedHold }, hosts: nil, in: db) }
        }
    }
}

/// The failures of a pass's hosts, gathered from their threads.
private final class HostFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [(host: String, error: Error)] = []

    func add(_ host: String, _ error: Error) { lock.withLock { failures.append((host, error)) } }

    /// The failure of the first host by name.
    var first: Error? { lock.withLock { failures.min { $0.host < $1.host }?.error } }
}

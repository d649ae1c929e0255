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
    /// Decide and report, change nothing.
    public var dryRun = false
    /// Restores at once per host.
    public var concurrentRestores = 2
    /// A state pool to take each saved image into (delta snapshots) and to restore from when libvirt's image is gone.
    public var pool: (directory: String, capacityBytes: Int64)?
    /// Where libvirt keeps managed-save images (qemu:///system: /var/lib/libvirt/qemu/save).
    public var managedSaveDirectory = "/var/lib/libvirt/qemu/save"
    /// JSON lines of every event.
    public var eventLog: String?

    public init(now: EpochSeconds) { self.now = now }
}

/// Applies the due actions of the approved plan through libvirt, journaling every step before acting, after first
/// reconciling what an interrupted run left unfinished. Restores come first and are never blocked (not by pause, expiry,
/// a newer plan or a missing approval); hibernations need the newest approved plan, unexpired, and a pre-flight check.
/// One failing VM never stops the others; a failed hibernation leaves the VM running.
public final class Executor: @unchecked Sendable {
    public let store: Store
    let connect: @Sendable (String) throws -> VirtConnection
    let load: LoadSource
    let demand: DemandSignal?
    let stepLimit: Int?
    let killDuringLibvirt: Double?
    private var steps = 0
    private let stepLock = NSLock()
    private var connections: [String: VirtConnection] = [:]
    private let connectionLock = NSLock()

    /// `connect` opens a host's connection (tests pass the test driver's); `load` reads demand for the pre-flight check.
    /// `TORPOR_EXECUTE_KILL_AFTER_STEP=N` makes the process kill itself with SIGKILL right after its N-th journal step
    /// (the crash test); `TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS=T` kills it T ms into its first save or restore call.
    public init(store: Store, load: LoadSource = SampledLoad(), demand: DemandSignal? = nil,
                connect: @escaping @Sendable (String) throws -> VirtConnection = { try VirtConnection(uri: $0) }) {
        self.store = store
        self.load = load
        self.demand = demand
        self.connect = connect
        stepLimit = ProcessInfo.processInfo.environment["TORPOR_EXECUTE_KILL_AFTER_STEP"].flatMap(Int.init)
        killDuringLibvirt = ProcessInfo.processInfo.environment["TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS"].flatMap(Double.init)
    }

    // MARK: the run

    /// One pass: reconcile, owed restores, due hibernations.
    @discardableResult
    public func run(_ options: ExecutionOptions) throws -> [ExecutionEvent] {
        let log = EventLog(path: options.eventLog)
        let started = Date()
        let clock: @Sendable () -> EpochSeconds = { options.now + EpochSeconds(Date().timeIntervalSince(started)) }
        if !options.dryRun { try reconcile(options, log: log, clock: clock) }
        try restoreOwed(options, log: log, clock: clock)
        try hibernateDue(options, log: log, clock: clock)
        return log.events
    }

    func connection(_ host: String) throws -> VirtConnection {
        connectionLock.lock()
        defer { connectionLock.unlock() }
        if let c = connections[host] { return c }
        let c = try connect(host)
        connections[host] = c
        return c
    }

    func journal(_ entry: JournalEntry, power: PowerRecord? = nil) throws {
        try store.transaction { db in
            try JournalRepository.append(entry, in: db)
            if let power { try JournalRepository.setPower(power, in: db) }
        }
        stepLock.lock()
        steps += 1
        let reached = stepLimit == steps
        stepLock.unlock()
        if reached { kill(getpid(), SIGKILL) }
    }

    /// The crash test's second hook: a SIGKILL while libvirt works on a save or restore.
    func crashDuringLibvirtCall() {
        guard let ms = killDuringLibvirt else { return }
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: ms / 1000)
            kill(getpid(), SIGKILL)
        }
    }

    func covers(_ host: String, _ options: ExecutionOptions) -> Bool { options.hosts?.contains(host) ?? true }

    // MARK: reconcile

    /// Finishes what an interrupted run left at `intent` or `started`, from libvirt's actual state: a save job still
    /// running is waited for; a VM shut off with its saved state is hibernated; a running VM after a restore is restored.
    /// Hibernations whose VM still runs are left for the pass below, which may do them (once).
    func reconcile(_ options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds) throws {
        for entry in try store.read({ try JournalRepository.unfinished(in: $0) }) where covers(entry.host, options) {
            do {
                let domain = try connection(entry.host).domain(named: entry.vm)
                // A save or restore libvirtd is still doing for the dead run: wait for it (libvirt reports jobs of
                // active domains only).
                let deadline = Date().addingTimeInterval(600)
                while Date() < deadline, try domain.info().state != .shutOff, try domain.job().active {
                    Thread.sleep(forTimeInterval: 0.5)
                }
                let state = try domain.info().state
                let saved = try domain.hasManagedSaveImage()
                var done = entry
                done.at = clock()
                switch (entry.kind, state, saved) {
                case (.hibernate, .shutOff, true):
                    done.step = .done
                    done.detail = "reconciled: the save had completed (the VM is off with its saved state)"
                    try journal(done, power: PowerRecord(vm: entry.vm, host: entry.host, state: .hibernated, since: entry.at, actionID: entry.actionID))
                    log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
                case (.restore, .running, _):
                    done.step = .done
                    done.detail = "reconciled: the VM runs"
                    try journal(done, power: PowerRecord(vm: entry.vm, host: entry.host, state: .running, since: done.at, actionID: entry.actionID))
                    log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
                case (.hibernate, .running, _), (.hibernate, .paused, _):
                    log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID,
                                     detail: "the interrupted save did not happen; the VM runs (the action stays due while its plan allows)"))
                case (.restore, _, _):
                    // Still asleep: the owed-restore pass restores it.
                    log.record(.init(event: "reconciled", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID,
                                     detail: "the interrupted restore did not finish; restoring again"))
                case (.hibernate, _, _):
                    done.step = .failed
                    done.detail = "reconciled: the VM is \(state) \(saved ? "with" : "without") a saved state after an interrupted save; not touched"
                    try journal(done)
                    log.record(.init(event: "failed", time: done.at, vm: entry.vm, host: entry.host, action: entry.actionID, detail: done.detail))
                }
            } catch {
                log.record(.init(event: "failed", time: clock(), vm: entry.vm, host: entry.host, action: entry.actionID,
                                 detail: "cannot reconcile: \(error)"))
            }
        }
    }

    // MARK: restores

    func restoreOwed(_ options: ExecutionOptions, log: EventLog, clock: @escaping @Sendable () -> EpochSeconds) throws {
        let labels = demand == nil ? [:]
            : try store.read { try VMRepository.all(in: $0) }.reduce(into: [String: [String: String]]()) { $0[$1.name] = $1.labels }
        let owed = try store.read { try DueActions.owedRestores(now: options.now, in: $0) }
            .filter { covers($0.host, options) }
            .compactMap { r -> OwedRestore? in
                if r.at <= options.now { return r }
                // Not due yet: a live demand signal wakes it now.
                do {
                    guard let demand, let why = try demand.demand(vm: r.vm, labels: labels[r.vm] ?? [:], at: options.now) else { return nil }
                    var now = r
                    now.at = options.now
                    now.actionID = UnplannedWake.signal.actionID(vm: r.vm, at: options.now)
                    now.planID = nil
                    now.reason = why
                    return now
                } catch {
                    log.record(.init(event: "failed", time: options.now, vm: r.vm, host: r.host, detail: "demand signal: \(error)"))
                    return nil
                }
            }
            .sorted { ($0.priority, $0.deadline, $0.vm) < ($1.priority, $1.deadline, $1.vm) }
        if options.dryRun {
            for r in owed { log.record(.init(event: "would-restore", time: options.now, vm: r.vm, host: r.host, action: r.actionID, detail: r.reason)) }
            return
        }
        // In SLA order, at most `concurrentRestores` at once per host.
        let limits = Dictionary(grouping: owed, by: \.host).mapValues { _ in DispatchSemaphore(value: max(1, options.concurrentRestores)) }
        let group = DispatchGroup()
        for r in owed {
            let limit = limits[r.host]!
            limit.wait()
            group.enter()
            DispatchQueue.global().async {
                self.restore(r, options: options, log: log, clock: clock)
                limit.signal()
                group.leave()
            }
        }
        group.wait()
    }

    /// Restores one VM: from libvirt's managed-save image when it has one, else rebuilt from the state pool (verified).
    /// Never cold-boots a VM whose saved state is gone: that is reported for a person.
    func restore(_ r: OwedRestore, options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds) {
        let base = JournalEntry(actionID: r.actionID, planID: r.planID, vm: r.vm, host: r.host, kind: .restore, step: .intent, at: clock(),
                                detail: r.reason, deadline: r.deadline, cause: r.cause)
        do {
            try journal(base)
            let connection = try connection(r.host)
            let domain = try connection.domain(named: r.vm)
            let began = Date()
            var started = base
            started.step = .started
            started.at = clock()
            if try domain.info().state != .running {
                let libvirtImage = try domain.hasManagedSaveImage()
                if libvirtImage && !r.fromPool {
                    started.detail = "from libvirt's saved image"
                    try journal(started)
                    crashDuringLibvirtCall()
                    try domain.start()
                } else if let pool = options.pool {
                    started.detail = libvirtImage ? "from the state pool, as asked" : "from the state pool (libvirt's image is gone)"
                    try journal(started)
                    try restoreFromPool(domain, connection: connection, pool: pool, now: clock())
                    // libvirt's own image is now older than the running VM: never restore it again.
                    if libvirtImage { try domain.removeManagedSaveImage() }
                } else {
                    throw ExecuteError(.runtime, "\(r.vm) on \(r.host) has no saved state (no managed-save image, no state pool): not cold-booted; start it by hand if its memory may be lost")
                }
            } else {
                started.detail = "already running"
                try journal(started)
            }
            guard try domain.info().state == .running else { throw ExecuteError(.runtime, "\(r.vm) on \(r.host) did not come back running") }
            let seconds = Date().timeIntervalSince(began)
            var done = started
            done.step = .done
            done.at = clock()
            done.seconds = seconds
            done.late = r.planID != nil && done.at > r.deadline   // a plan's deadline; wakes and signals have none to miss
            try journal(done, power: PowerRecord(vm: r.vm, host: r.host, state: .running, since: done.at, actionID: r.actionID))
            log.record(.init(event: "restored", time: done.at, vm: r.vm, host: r.host, action: r.actionID, detail: r.reason, seconds: seconds))
            if done.late == true {
                log.record(.init(event: "violation", time: done.at, vm: r.vm, host: r.host, action: r.actionID,
                                 detail: "restored \(done.at - r.deadline) s after its deadline \(UTC.format(r.deadline))"))
            }
        } catch {
            var failed = base
            failed.step = .failed
            failed.at = clock()
            failed.detail = "\(error)"
            try? journal(failed)
            log.record(.init(event: "failed", time: failed.at, vm: r.vm, host: r.host, action: r.actionID, detail: "restore: \(error)"))
        }
    }

    func restoreFromPool(_ domain: VirtDomain, connection: VirtConnection, pool: (directory: String, capacityBytes: Int64), now: EpochSeconds) throws {
        let statePool = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store)
        let manifest = try statePool.latest(vm: domain.name)
        let image = pool.directory + "/restore-\(domain.name).save"
        defer { try? FileManager.default.removeItem(atPath: image) }
        try statePool.materialize(manifest, to: image, currentDiskIdentity: try Self.diskIdentity(domain))
        try connection.restore(from: image)
    }

    /// The domain's disks as the state pool records them: each disk source path with its size, or `no disks`.
    static func diskIdentity(_ domain: VirtDomain) throws -> String {
        let xml = try domain.xmlDescription()
        var disks: [String] = []
        var rest = Substring(xml)
        while let disk = rest.range(of: "<disk") {
            let end = rest[disk.upperBound...].range(of: "</disk>")?.upperBound ?? rest.endIndex
            let element = rest[disk.lowerBound..<end]
            if let source = element.range(of: "<source file='") ?? element.range(of: "<source file=\"") {
                let path = element[source.upperBound...].prefix { $0 != "'" && $0 != "\"" }
                let size = (try? FileManager.default.attributesOfItem(atPath: String(path))[.size] as? Int64) ?? nil
                disks.append("\(path):\(size.map(String.init) ?? "?")")
            }
            rest = rest[end...]
        }
        return disks.isEmpty ? "no disks" : disks.sorted().joined(separator: ",")
    }

    // MARK: hibernations

    /// Records that a due hibernation did not start: the action, `waiting` or `skipped`, why (what status shows and what
    /// makes a hold the same as the last run's), and optionally what to log instead of the reason when the hold is new
    /// (with what changes from run to run, such as the load measured now).
    typealias Hold = (Plan.Action, _ event: String, _ reason: String, _ detail: String?) -> Void

    /// Starts the due hibernations, and records in the store which are held back (`waiting` or `skipped`): a hold is
    /// logged when it starts and when its reason changes, not on every run (nor for every hourly plan that moves its
    /// action); a dry run logs every one.
    func hibernateDue(_ options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds) throws {
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
        try startDueHibernations(options, log: log, clock: clock, hold: hold)
        if !options.dryRun && held != logged { try store.transaction { try JournalRepository.setHeld(held, hosts: options.hosts, in: $0) } }
    }

    func startDueHibernations(_ options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds, hold: Hold) throws {
        let (approved, paused, latest, power, pins) = try store.read { db in
            let approved = try DueActions.approvedPlan(now: options.now, in: db)
            return (approved, try ExecutorSettings.paused(in: db), try JournalRepository.latestSteps(of: approved?.plan.actions.map(\.id) ?? [], in: db),
                    try JournalRepository.power(in: db), try JournalRepository.pins(in: db))
        }
        guard let (plan, approvals) = approved else { return }
        let due = plan.actions.filter { a in
            a.action == .hibernate && a.at.seconds <= options.now && covers(a.host, options) && approvals[a.id] != nil
                && [nil, .intent, .started].contains(latest[a.id]?.step)
        }
        guard !due.isEmpty else { return }
        guard options.now <= plan.validUntil.seconds else {
            for a in due { hold(a, "skipped", "the plan expired at \(plan.validUntil.text): no new hibernations from it", nil) }
            return
        }
        if paused {
            for a in due { hold(a, "skipped", "paused: no new hibernations until torpor-execute resume", nil) }
            return
        }
        for a in due {
            func skip(_ reason: String) { hold(a, "skipped", reason, nil) }
            if let pin = pins[a.vm], pin.until.map({ $0 > options.now }) ?? true { skip("pinned by \(pin.pinnedBy)" + (pin.until.map { " until \(UTC.format($0))" } ?? "")); continue }
            if power[a.vm]?.state == .hibernated { skip("already hibernated"); continue }
            guard let restore = a.pairedWith.flatMap(plan.action), restore.at.seconds > options.now else {
                skip("its restore is already due: not worth sleeping"); continue
            }
            if let seconds = a.afterIdleSeconds,
               let unmet = try idleTimeoutUnmet(a, seconds: seconds, wokeAt: power[a.vm]?.state == .running ? power[a.vm]?.since : nil, now: options.now) {
                hold(a, "waiting", unmet, nil)   // still due: a later pass checks again
                continue
            }
            hibernate(a, plan: plan, options: options, log: log, clock: clock, hold: hold)
        }
    }

    /// Why a hibernation under the idle timeout may not happen yet, or nil when the VM's stored CPU utilization (the
    /// 5-minute collector's) has stayed under `hibernate_below` for `seconds` without a gap, since its last wake at the
    /// earliest, up to a sample no older than the stored load's limit (`--load-max-age`, else 10 min; missing is not idle).
    func idleTimeoutUnmet(_ a: Plan.Action, seconds: Int64, wokeAt: EpochSeconds?, now: EpochSeconds) throws -> String? {
        let maxAge = (load as? StoredLoad)?.maxAge ?? StoredLoad(store: store).maxAge   // --load-max-age, when the store is the load source
        let samples = DemandSamples(try store.read { try SampleReader.samples(vm: a.vm, metric: "cpu_util", from: now - seconds - maxAge, to: now + 1, in: $0) })
        guard let newest = samples.times.last, now - newest <= maxAge else {
            return "\(a.what): no CPU utilization of the VM in the store within \(DurationText.format(maxAge)) (missing is not idle)"
        }
        guard samples.firstIdle(for: seconds, from: newest, to: now + 1, threshold: a.rationale.hibernateBelow, countingFrom: wokeAt ?? .min) == nil else { return nil }
        return a.what + String(format: ": demand has not stayed under %.1f %% for ", a.rationale.hibernateBelow) + DurationText.format(seconds) + " yet"
    }

    /// Hibernates one VM: pre-flight (state as the plan assumed, demand low now), then managed save, confirmed by the
    /// VM being off with a saved image. On failure the VM is left (or put back) running.
    /// A pre-flight that finds the VM busy or the state pool too full holds it back (`hold`): logged once per reason.
    func hibernate(_ a: Plan.Action, plan: Plan, options: ExecutionOptions, log: EventLog, clock: () -> EpochSeconds, hold: Hold) {
        let base = JournalEntry(actionID: a.id, planID: plan.id, vm: a.vm, host: a.host, kind: .hibernate, step: .intent, at: clock(), detail: a.rationale.text)
        var domain: VirtDomain?
        var journaled = false   // before the intent, a failure (lookup, pre-flight) leaves the action due for a later run
        do {
            let d = try connection(a.host).domain(named: a.vm)
            domain = d
            let state = try d.info().state
            guard state == .running else {
                var skipped = base
                skipped.step = .skipped
                skipped.detail = "the plan assumed the VM runs; it is \(state): not touched"
                if !options.dryRun { try journal(skipped) }
                log.record(.init(event: "skipped", time: clock(), vm: a.vm, host: a.host, action: a.id, detail: skipped.detail))
                return
            }
            let demand = try load.demand(of: d, at: options.now)
            guard demand < a.rationale.hibernateBelow else {
                hold(a, "skipped", String(format: "busy at the pre-flight (≥ hibernate_below %.1f %%)", a.rationale.hibernateBelow),
                     String(format: "busy now: %.1f %% ≥ hibernate_below %.1f %% (pre-flight)", demand, a.rationale.hibernateBelow))
                return
            }
            if let pool = options.pool {
                let used = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store).usedBytes()
                let expected = try store.read { try StateRepository.expectedWrite(vm: a.vm, in: $0) } ?? Int64(try d.info().maxMemoryKiB) * 1024
                guard used + expected <= pool.capacityBytes else {
                    hold(a, "skipped", "the state pool is too full",
                         "the state pool is too full: \(ByteSize.format(expected)) expected, \(ByteSize.format(pool.capacityBytes - used)) free")
                    return
                }
            }
            if options.dryRun {
                log.record(.init(event: "would-hibernate", time: clock(), vm: a.vm, host: a.host, action: a.id,
                                 detail: String(format: "demand now %.1f %%; ", demand) + a.rationale.text))
                return
            }
            try journal(base)
            journaled = true
            var started = base
            started.step = .started
            started.at = clock()
            started.detail = String(format: "managed save; demand now %.1f %%", demand)
            try journal(started)
            let began = Date()
            crashDuringLibvirtCall()
            try d.managedSave()
            guard try d.info().state == .shutOff, try d.hasManagedSaveImage() else {
                throw ExecuteError(.runtime, "the save returned but the VM is not off with a saved image")
            }
            let seconds = Date().timeIntervalSince(began)
            var done = started
            done.step = .done
            done.at = clock()
            done.seconds = seconds
            let image = options.managedSaveDirectory + "/\(a.vm).save"
            done.bytes = (try? FileManager.default.attributesOfItem(atPath: image)[.size] as? Int64) ?? nil
            if let pool = options.pool, FileManager.default.fileExists(atPath: image) {
                do {
                    let report = try StatePool(directory: pool.directory, capacityBytes: pool.capacityBytes, store: store)
                        .take(image: image, vm: a.vm, diskIdentity: try Self.diskIdentity(d), now: done.at)
                    done.detail += "; state pool (after the save, \(String(format: "%.1f", report.seconds)) s): \(report.newChunks) new of \(report.chunks) chunks, \(report.writtenBytes) bytes written"
                } catch {
                    done.detail += "; state pool: not taken (\(error)); libvirt's image stands"
                }
            }
            try journal(done, power: PowerRecord(vm: a.vm, host: a.host, state: .hibernated, since: done.at, actionID: a.id))
            log.record(.init(event: "hibernated", time: done.at, vm: a.vm, host: a.host, action: a.id, detail: done.detail, seconds: seconds))
        } catch {
            var failed = base
            failed.step = .failed
            failed.at = clock()
            failed.detail = "\(error)"
            // A failed hibernation leaves the VM running: libvirt keeps it running when a save fails; if it stopped
            // anyway without a saved image, start it again.
            if let d = domain, let state = try? d.info().state, state != .running, (try? d.hasManagedSaveImage()) != true, !options.dryRun {
                failed.detail += (try? d.start()) != nil ? "; the VM was started again" : "; THE VM IS OFF and could not be started: start it by hand"
            }
            if journaled { try? journal(failed) }
            log.record(.init(event: "failed", time: failed.at, vm: a.vm, host: a.host, action: a.id, detail: "hibernate: \(failed.detail)"))
        }
    }

    /// Subscribes to the lifecycle events of every domain on `hosts` (all hosts of the store's VMs when nil), on the
    /// executor's own connections: `--follow` runs a pass at once when a VM starts or stops outside the schedule.
    /// A host that cannot be reached is skipped (its VMs are still handled by the passes).
    public func watch(hosts: Set<String>?, _ handler: @escaping @Sendable (String, DomainLifecycleEvent) -> Void) throws -> [VirtEventSubscription] {
        let all = try hosts ?? Set(store.read { try VMRepository.all(in: $0) }.compactMap(\.hostURI))
        return all.sorted().compactMap { host in
            try? connection(host).onLifecycleEvent { handler(host, $0) }
        }
    }

    // MARK: operator controls

    /// Restores `vm` now, whatever the plans say (`torpor-execute wake`); `fromPool` rebuilds its image from the state
    /// pool even when libvirt still has its own (`torpor-execute restore --from-pool`).
    public func wake(vm: String, by who: String, fromPool: Bool = false, options: ExecutionOptions) throws -> [ExecutionEvent] {
        let log = EventLog(path: options.eventLog)
        let started = Date()
        let clock: @Sendable () -> EpochSeconds = { options.now + EpochSeconds(Date().timeIntervalSince(started)) }
        let power = try store.read { try JournalRepository.power(in: $0)[vm] }
        if fromPool && options.pool == nil { throw ExecuteError(.badInput, "a restore from the state pool needs --pool DIR") }
        guard let power, power.state == .hibernated else {
            throw ExecuteError(.nothingToDo, "\(vm) is not hibernated by torpor" + (power.map { " (running since \(UTC.format($0.since)))" } ?? ""))
        }
        restore(OwedRestore(vm: vm, host: power.host, actionID: UnplannedWake.wake.actionID(vm: vm, at: options.now), planID: nil, at: options.now,
                            deadline: options.now, priority: 0, reason: "woken by \(who)" + (fromPool ? " from the state pool" : ""),
                            fromPool: fromPool), options: options, log: log, clock: clock)
        return log.events
    }
}

/// The executor's fleet-wide switch: `pause` stops new hibernations; restores continue.
public enum ExecutorSettings {
    static let pausedKey = "executor_paused"

    public static func paused(in db: Database) throws -> Bool { try PlanRepository.setting(pausedKey, in: db)?.value == "on" }

    public static func setPaused(_ on: Bool, by who: String, now: EpochSeconds, in store: Store) throws {
        try store.transaction { try PlanRepository.set(pausedKey, to: on ? "on" : "off", by: who, at: now, in: $0) }
    }
}

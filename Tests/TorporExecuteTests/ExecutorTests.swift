import Foundation
import GRDB
import Testing
import TorporCore
@testable import TorporExecute
import TorporIngest
import TorporPlan
import TorporPlanInput
import TorporStatePool
import TorporStore
import TorporTestSupport
import TorporTrain
import TorporVirt

/// The executor against libvirt's test driver (sample-data/fleet.xml: seven running domains). The test driver keeps
/// its state inside one connection, so each test shares one connection between its runs; CPU load for the pre-flight
/// check is injected (the test driver reports CPU time as wall-clock time).
/// Events several threads' executors return.
final class EventsSeen: @unchecked Sendable {
    private var events: [ExecutionEvent] = []
    private let lock = NSLock()
    func add(_ more: [ExecutionEvent]) { lock.withLock { events += more } }
    var all: [ExecutionEvent] { lock.withLock { events } }
}

/// Bytes standing for a saved image (the test driver writes none).
let randomImage: [UInt8] = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }

@Suite(.serialized) struct ExecutorTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let host = "test://" + repository + "/sample-data/fleet.xml"
    static let now = UTC.epoch(year: 2024, month: 3, day: 4)

    /// A store, the shared test-driver connection, and an executor over both.
    struct Fixture {
        let store: Store
        let connection: VirtConnection
        let dir: String

        init() throws {
            dir = try ScratchDirectory.make("torpor-exec")
            store = try Store(path: dir + "/torpor.db")
            connection = try VirtConnection(uri: ExecutorTests.host)
        }

        func executor(load: [String: Double] = [:]) -> Executor {
            let connection = self.connection
            return Executor(store: store, load: FixedLoad(load, otherwise: 1), connect: { _ in connection })
        }

        /// A run at `time` whose pre-flight, the first time it reads a VM's load, does `act` (a person's command while the
        /// load is read).
        func run(_ time: EpochSeconds, whileTheLoadIsRead act: @escaping () throws -> Void) throws -> [ExecutionEvent] {
            let connection = self.connection
            return try Executor(store: store, load: LoadWithAnAct(FixedLoad(otherwise: 1), act: act), connect: { _ in connection }).run(options(time))
        }

        func options(_ time: EpochSeconds, concurrent: Int? = nil) -> ExecutionOptions {
            var o = ExecutionOptions(now: time)
            o.eventLog = dir + "/events.jsonl"
            o.concurrentRestores = concurrent
            return o
        }

        /// `options` with a state pool, libvirt's images in the fixture's save directory, and there a saved image of each
        /// of `images` (the test driver writes none): what a hibernation copies into the pool.
        func pooledOptions(_ time: EpochSeconds, images: [String]) throws -> ExecutionOptions {
            var o = options(time)
            o.pool = (dir + "/pool", 1 << 40)
            o.managedSaveDirectory = dir + "/save"
            try FileManager.default.createDirectory(atPath: dir + "/save", withIntermediateDirectories: true)
            for vm in images { try Data(randomImage).write(to: URL(fileURLWithPath: dir + "/save/\(vm).save")) }
            return o
        }

        /// A plan made by the planner from crafted forecasts (each VM idle over `idle` hours, q0.9 0.5 %, busy after) and
        /// recorded with its calls for demand.
        /// `idleLoad`: the forecast quantiles over those hours; `idleTimeout`: the policy's `idle_timeout`.
        @discardableResult
        func plan(_ idle: [String: Range<Int>], at time: EpochSeconds = ExecutorTests.now, approve: Bool = true, tiers: String = "",
                  asleep: Set<String> = [], idleLoad: [Float] = [0.2, 0.5, 1], idleTimeout: Bool = false, policySHA256: String = "t",
                  guardrails: String = "{max_hibernated_share: 1, min_running: 0}", vm adjust: (inout PlanningVM) -> Void = { _ in }) throws -> Plan {
            let vms = idle.map { name, hours in
                var vm = PlanningVM(name: name, host: ExecutorTests.host, vcpus: 1, memoryBytes: 1 << 30, knownHours: 720,
                                    forecast: QuantileForecast(start: time, quantiles: [0.5, 0.9, 0.99],
                                                               values: (0..<24).map { hours.contains($0) ? idleLoad : [20, 40, 60] }, source: "crafted"),
                                    hibernatedSince: asleep.contains(name) ? time - 3600 : nil)
                adjust(&vm)   // what the store would have told the planner of it
                return vm
            }
            let policy = try Policy.parse("""
                defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 2h, idle_timeout: \(idleTimeout)}
                tiers: {gold: {quantile: 0.99, priority: 1}, silver: {quantile: 0.9, priority: 2}, bronze: {quantile: 0.5, priority: 3}}
                guardrails: \(guardrails)
                \(tiers)
                """, source: "test")
            let input = PlanningInput(now: time, vms: vms, events: [], policy: policy, policySHA256: policySHA256, model: "crafted", dataWatermark: time)
            let plan = Planner.plan(input)
            let bytes = plan.encoded()
            try Approvals.record(plan, bytes: bytes, demandCalls: Planner.demandCalls(input), in: store)   // as torpor-plan make does
            if approve { _ = try Approvals.approve(plan, bytes: bytes, source: "plan", only: nil, except: [], by: "test", now: time, in: store) }
            return plan
        }

        /// Writes CPU utilization samples (or another metric's) as the 5-minute collector would.
        func cpu(_ vm: String, _ samples: [(time: EpochSeconds, value: Double)], metric: String = "cpu_util", unit: String = "percent") throws {
            try store.transaction { db in
                let writer = try SampleWriter(db: db)
                let cpu = try writer.metricID(try MetricBinding.make(metric: metric, unit: unit).get())
                let id = try VMRepository.id(of: vm, in: db, now: ExecutorTests.now)
                for s in samples { _ = try writer.add(vm: id, metric: cpu, time: s.time, value: s.value) }
                try writer.finish()
            }
        }

        /// Places `vms` in group `g` of the store, each on `host(vm)`, and plans them so: those in `idle` idle for six hours,
        /// the others busy, under `guardrails`; `adjust` as `plan`'s.
        @discardableResult
        func groupPlan(_ vms: [String], idle: Set<String>, host: (String) -> String, guardrails: String,
                       vm adjust: (inout PlanningVM) -> Void = { _ in }) throws -> Plan {
            try store.transaction { db in
                for vm in vms {
                    try VMRepository.setPlacement(vm: try VMRepository.id(of: vm, in: db, now: ExecutorTests.now), hostURI: host(vm), labels: ["group": "g"], in: db)
                }
            }
            return try plan(Dictionary(uniqueKeysWithValues: vms.map { ($0, idle.contains($0) ? 0..<6 : 0..<0) }), guardrails: guardrails) { vm in
                vm.labels = ["group": "g"]
                vm.host = host(vm.name)
                adjust(&vm)
            }
        }

        /// web-01 and web-02 placed on the host in the store (the inventory's doing) and put to sleep by a run.
        static func twoPlacedVMsAsleep() throws -> Fixture {
            let f = try Fixture()
            try f.store.transaction { db in
                for vm in ["web-01", "web-02"] {
                    try VMRepository.setPlacement(vm: try VMRepository.id(of: vm, in: db, now: ExecutorTests.now), hostURI: ExecutorTests.host, labels: [:], in: db)
                }
            }
            try f.plan(["web-01": 0..<10, "web-02": 0..<10])
            try f.executor().run(f.options(ExecutorTests.now))
            return f
        }

        func state(_ vm: String) throws -> DomainState { try connection.domain(named: vm).info().state }
        func steps(_ vm: String) throws -> [String] {
            try store.read { try JournalRepository.recent(limit: 100, vm: vm, in: $0) }.reversed().map { "\($0.kind.rawValue):\($0.step.rawValue)" }
        }
        func power(_ vm: String) throws -> PowerRecord.State? { try store.read { try JournalRepository.power(in: $0)[vm]?.state } }

        /// Another stage's connection holds the store's write lock for `seconds` from when this returns (a big ingest's
        /// parse), writing `last` before it commits; what it returns is signalled once the lock is released.
        func anotherProcessWrites(for seconds: TimeInterval, last: @escaping @Sendable (Database) throws -> Void = { _ in }) throws -> DispatchSemaphore {
            let holding = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0)
            let other = try DatabaseQueue(path: store.path)
            Thread.detachNewThread {
                try? other.writeWithoutTransaction { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    holding.signal()
                    Thread.sleep(forTimeInterval: seconds)
                    try last(db)
                    try db.execute(sql: "COMMIT")
                }
                released.signal()
            }
            holding.wait()
            return released
        }
    }

    static func at(_ hour: Int) -> EpochSeconds { now + Int64(hour) * 3600 }

    @Test func aDueHibernationSavesTheVMAndItsRestoreBringsItBack() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6])
        let restoreAt = plan.actions.first { $0.action == .restore }!.at.seconds
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map(\.event) == ["hibernated"])
        #expect(try f.state("web-01") == .shutOff && f.connection.domain(named: "web-01").hasManagedSaveImage())
        #expect(try f.power("web-01") == .hibernated)
        #expect(try f.steps("web-01") == ["hibernate:intent", "hibernate:started", "hibernate:done"])
        // Run again at once: nothing to do, nothing done twice.
        #expect(try f.executor().run(f.options(Self.now + 60)).isEmpty)
        // At the restore's start: restored, on time.
        let restored = try f.executor().run(f.options(restoreAt))
        #expect(restored.map(\.event) == ["restored"])
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.power(in: $0)["web-01"]?.wokenEarlyAt } == nil)   // the plan's restore: not early
        let journal = try f.store.read { try JournalRepository.recent(limit: 1, vm: "web-01", in: $0) }
        #expect(journal.first?.step == .done && journal.first?.late == false && journal.first?.seconds != nil)
        // Status replayed at an hour it slept through says it slept then; without replaying, what is so now.
        #expect(try ExecutionStatus.render(store: f.store, now: Self.at(1), replaying: true).contains("asleep: 1\n  web-01 on"))
        #expect(try ExecutionStatus.render(store: f.store, now: Self.at(1)).contains("asleep: 0"))
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-01", until: nil, pinnedBy: "bob", pinnedAt: restoreAt), in: $0) }
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.at(1), replaying: true).contains("bob"), "a later pin is not in the replay")
        #expect(try ExecutionStatus.render(store: f.store, now: restoreAt).contains("web-01: by bob"))
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-02", until: restoreAt + 60, pinnedBy: "carol", pinnedAt: restoreAt), in: $0) }
        let inForce = try ExecutionStatus.render(store: f.store, now: restoreAt)
        #expect(inForce.contains("web-02: by carol until \(UTC.format(restoreAt + 60))") && !inForce.contains("expired"))
        #expect(try ExecutionStatus.render(store: f.store, now: restoreAt + 120).contains("web-02: by carol until \(UTC.format(restoreAt + 60)) (expired: holds nothing)"))
        // The event log has one JSON line per event.
        let lines = try String(contentsOfFile: f.dir + "/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("\"event\":\"hibernated\""))
    }

    /// `--follow`'s watch connects to each host in the background: a host that does not answer holds neither the
    /// watch nor the pass that follows it (before, each such host delayed every host's restores by its timeout).
    @Test func watchingAHostThatDoesNotAnswerDelaysNoPass() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        final class Answer: @unchecked Sendable {
            let semaphore = DispatchSemaphore(value: 0)
            private let lock = NSLock()
            private var given = false
            var finished: Bool { lock.withLock { given } }
            func wait() { _ = semaphore.wait(timeout: .now() + 30); lock.withLock { given = true } }
        }
        let silent = Answer(), connection = f.connection
        let executor = Executor(store: f.store, load: FixedLoad(otherwise: 1), connect: { uri in
            guard uri == Self.host else { silent.wait(); throw ExecuteError(.runtime, "\(uri): no answer") }
            return connection
        })
        try executor.watch(hosts: [Self.host, "test:///silent"]) { _, _ in }
        #expect(!silent.finished, "watch returned while the silent host was still being asked")
        #expect(try executor.run(f.options(Self.now)).map(\.event) == ["hibernated"])
        #expect(!silent.finished, "the pass did not wait for it either")
        silent.semaphore.signal()
    }

    /// A pass that has run long starts no more hibernations (what it read once, such as the plans made since, is old
    /// by then): they are held for the next pass, which starts them.
    @Test func aPassThatRanLongLeavesItsHibernationsToTheNext() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let late = f.executor()
        late.hibernationsStartWithin = -1
        let held = try late.run(f.options(Self.now))
        #expect(held.map(\.event) == ["skipped"] && held.first?.detail.contains("hibernations began over") == true, "\(held)")
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
        #expect(try f.executor().run(f.options(Self.now + 60)).map(\.event) == ["hibernated"])
    }

    @Test func aFailedSaveLeavesTheVMRunningAndTheOthersGoOn() throws {
        let f = try Fixture()
        // A transient domain: libvirt refuses its managed save.
        let xml = "<domain type='test'><name>transient-01</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        _ = try f.connection.createTransient(xml: xml)
        try f.plan(["transient-01": 0..<6, "web-02": 0..<6])
        let events = try f.executor().run(f.options(Self.now))
        let failure = try #require(events.first { $0.vm == "transient-01" })
        #expect(failure.event == "failed" && failure.detail.contains("virDomainManagedSave"))
        #expect(try f.state("transient-01") == .running)
        #expect(try f.steps("transient-01") == ["hibernate:intent", "hibernate:started", "hibernate:failed"])
        #expect(try f.state("web-02") == .shutOff && f.power("web-02") == .hibernated)
        #expect(try f.power("transient-01") == nil)
    }

    @Test func preflightStateAndPinsAreChecked() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<6, "batch-01": 0..<6, "db-01": 0..<6, "legacy-01": 0..<6])
        try f.connection.domain(named: "batch-01").destroy()   // a person shut it down after the plan
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "db-01", until: Self.at(3), pinnedBy: "alice", pinnedAt: Self.now), in: $0) }
        let events = try f.executor(load: ["api-01": 60]).run(f.options(Self.now))
        func detail(_ vm: String) -> String { events.first { $0.vm == vm }?.detail ?? "" }
        #expect(detail("api-01").contains("busy now: 60.0 %"))
        #expect(detail("batch-01").contains("it is shutOff: not touched"))
        #expect(detail("db-01").contains("pinned by alice"))
        #expect(events.first { $0.vm == "legacy-01" }?.event == "hibernated")
        #expect(try f.state("api-01") == .running && f.state("db-01") == .running && f.state("batch-01") == .shutOff)
        #expect(try f.steps("batch-01") == ["hibernate:skipped"])
        // libvirt reports jobs of running domains only: a shut-off domain has none (not an error; reconciliation asks
        // while a save may just have finished).
        #expect(try f.connection.domain(named: "batch-01").job().active == false)
        #expect(try f.steps("api-01").isEmpty)   // busy is not final: a later run may still do it
        // Still busy on the next run: the same hold is not logged again; status shows it, since when.
        #expect(try f.executor(load: ["api-01": 70]).run(f.options(Self.now + 120)).allSatisfy { $0.vm != "api-01" })
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now + 120).contains(
            "  api-01: skipped since \(UTC.format(Self.now)): busy at the pre-flight (≥ hibernate_below 5.0 %)"))
    }

    /// An executor asked to stop (a follower's SIGTERM) starts no new hibernation, in a pass under way too, and holds
    /// none of its other work: its hosts are idle once the pass is done. Its restores are the same pass's (restores
    /// are never blocked; the pass's hibernations are the only part it skips).
    @Test func aStoppingExecutorStartsNoNewHibernation() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let executor = f.executor()
        executor.stopHibernating()
        let events = try executor.run(f.options(Self.now))
        #expect(events.map(\.event) == ["skipped"] && events.first?.detail == "the executor is stopping: no new hibernation (the next start takes it up)",
                "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty && executor.hostsIdle)
        #expect(try f.executor().run(f.options(Self.now + 60)).contains { $0.vm == "web-01" && $0.event == "hibernated" }, "the next start takes it up")
    }

    /// A few seconds' sample can fall in a lull of a busy VM: the collector's newest sample, at most 10 minutes old, is to
    /// be calm too. In a store no collector feeds, an older one, or none, leaves the fresh sample alone to decide; on a
    /// host a libvirt collection reads, none within 10 minutes holds the hibernation (the collector missed it).
    @Test func aVMBusyAtTheLastCollectionIsNotHibernatedInALullOfItsSample() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<6, "web-01": 0..<6, "db-01": 0..<6])
        try f.cpu("api-01", [(Self.now - 600, 2), (Self.now - 300, 40)])
        try f.cpu("web-01", [(Self.now - 660, 40)])   // busy 11 minutes ago, nothing since
        let events = try f.executor().run(f.options(Self.now))
        let held = try #require(events.first { $0.vm == "api-01" })
        #expect(held.event == "skipped")
        #expect(held.detail == "busy at the collection of \(UTC.format(Self.now - 300)): 40.0 % ≥ hibernate_below 5.0 % (pre-flight; 1.0 % now)", "\(held.detail)")
        #expect(try f.state("api-01") == .running && f.steps("api-01").isEmpty)
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now).contains(
            "  api-01: skipped since \(UTC.format(Self.now)): busy at the last collection (≥ hibernate_below 5.0 %)"))
        #expect(try f.power("web-01") == .hibernated && f.power("db-01") == .hibernated)
        // Calm at the next collection: the next pass hibernates it.
        try f.cpu("api-01", [(Self.now + 300, 1.5)])
        #expect(try f.executor().run(f.options(Self.now + 360)).contains { $0.vm == "api-01" && $0.event == "hibernated" })
        // A host a collection reads (its first: counters only, no utilization yet): nothing of the VM is missing, not idle.
        let g = try Fixture()
        _ = try DomainStatsIngester(store: g.store).collect(uri: Self.host, now: Self.now - 60)
        try g.plan(["web-01": 0..<6])
        let missed = try #require(try g.executor().run(g.options(Self.now)).first { $0.vm == "web-01" })
        #expect(missed.event == "skipped" && missed.detail == "its CPU load could not be read at the pre-flight (missing is not idle): "
                + "no collection of its CPU utilization within 10m, though \(Self.host) is collected", "\(missed.detail)")
        #expect(try g.state("web-01") == .running)
        // A host last collected over 10 minutes ago (the collector stopped: check names it): the fresh sample decides.
        #expect(try g.executor().run(g.options(Self.now + 600)).contains { $0.vm == "web-01" && $0.event == "hibernated" })
    }

    /// A load that cannot be read holds the hibernation as a busy VM's does (missing is not idle), not a failure: nothing
    /// journaled, the VM running, the hold shown by status; a later pass that reads it hibernates.
    @Test func aLoadThatCannotBeReadHoldsTheHibernation() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<6])
        let events = try f.run(Self.now) { throw StageError(.runtime, "api-01's CPU time could not be read (test)") }
        let held = try #require(events.first { $0.vm == "api-01" })
        #expect(held.event == "skipped" && held.detail == "its CPU load could not be read at the pre-flight (missing is not idle): api-01's CPU time could not be read (test)", "\(held.detail)")
        #expect(try f.state("api-01") == .running && f.steps("api-01").isEmpty && f.power("api-01") == nil)
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now).contains(
            "  api-01: skipped since \(UTC.format(Self.now)): its CPU load could not be read at the pre-flight (missing is not idle)"))
        #expect(try f.executor().run(f.options(Self.now + 120)).contains { $0.vm == "api-01" && $0.event == "hibernated" })
    }

    /// A VM paused and resumed while its CPU load is sampled counted no CPU while paused: no reading (missing is not
    /// idle), where it had read as idle. Running all through, it reads.
    @Test func aVMPausedAndResumedWhileItsLoadIsSampledIsNotReadIdle() throws {
        let f = try Fixture()
        let domain = try f.connection.domain(named: "web-01")
        #expect(try SampledLoad(interval: 0.2).demand(of: domain, at: Self.now) >= 0)
        let done = DispatchSemaphore(value: 0)
        // The pause a second into a 3-second sample: a second's margin either side on a busy machine.
        Thread.detachNewThread { [connection = f.connection] in
            Thread.sleep(forTimeInterval: 1)
            if let d = try? connection.domain(named: "web-01") { try? d.suspend(); try? d.resume() }
            done.signal()
        }
        let e = #expect(throws: StageError.self) { _ = try SampledLoad(interval: 3).demand(of: domain, at: Self.now) }
        done.wait()
        #expect(e?.message == "web-01 did not run all through its CPU load sample (paused, resumed or stopped meanwhile): missing is not idle", "\(String(describing: e))")
    }

    /// The policy in force is read at each pass: a VM it excludes since its plan was approved is not hibernated (the
    /// others are), and one that cannot be read holds every new hibernation. Without a policy known here, the plan stands.
    @Test func aVMThePolicyInForceExcludesIsNotHibernated() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "api-01": 0..<6])
        var options = f.options(Self.now)
        options.readPolicy { try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            vms: {web-01: {exclude: true, reason: "month-end batch"}}
            """, source: "policy.yaml") }
        let events = try f.executor().run(options)
        #expect(events.first { $0.vm == "web-01" }?.detail == "the policy in force excludes it (month-end batch), though its approved plan holds the window: not hibernated", "\(events)")
        #expect(events.first { $0.vm == "api-01" }?.event == "hibernated")
        #expect(try f.state("web-01") == .running && f.power("web-01") != .hibernated)
        var unreadable = f.options(Self.now + 60)
        unreadable.readPolicy { try Policy.parse("tiers: [", source: "policy.yaml") }
        #expect(unreadable.policy == nil && unreadable.holdHibernations?.hasPrefix("no new hibernations while the policy in force cannot be read: policy.yaml") == true,
                "\(String(describing: unreadable.holdHibernations))")
        #expect(try f.executor().run(unreadable).map { "\($0.vm ?? "") \($0.event)" } == ["web-01 skipped"])
        #expect(try f.state("web-01") == .running)
        #expect(try f.executor().run(f.options(Self.now + 120)).first { $0.vm == "web-01" }?.event == "hibernated")
    }

    /// A partner libvirt holds saved without torpor's record (a `virsh managedsave` by hand) counts as asleep: of four,
    /// two saved by hand, the share of 0.5 lets no third sleep (counted as neither, it had let web-01 sleep: three of
    /// four asleep).
    @Test func aPartnerSavedByHandCountsAsAsleepInTheGuardrails() throws {
        let f = try Fixture()
        let vms = ["web-01", "web-02", "api-01", "batch-01"]
        try f.groupPlan(vms, idle: ["web-01"], host: { _ in Self.host }, guardrails: "{max_hibernated_share: 0.5, min_running: 0}")
        try f.store.transaction { db in
            for vm in ["web-02", "api-01"] { try VMRepository.setSaved(vm: try VMRepository.id(of: vm, in: db, now: Self.now), true, now: Self.now, in: db) }
        }
        for vm in ["web-02", "api-01"] { try f.connection.domain(named: vm).destroy() }   // shut off, as a managed save leaves them
        let held = try f.executor().run(f.options(Self.now + 60))
        #expect(held.map(\.event) == ["skipped"] && held[0].detail == "guardrail at the pre-flight: group group=g (share 0.5, min_running 0): of its 4 VMs "
                + "running or asleep, 2 may sleep at once and 2 do (saved without torpor's record: api-01, web-02)", "\(held.map(\.text))")
        #expect(try f.state("web-01") == .running)
        // On a host another executor covers (libvirt not asked here), as the inventory found them: asleep too.
        var mine = f.options(Self.now + 120)
        try f.store.transaction { db in
            for vm in ["web-02", "api-01"] { try VMRepository.setHost(vm: try VMRepository.id(of: vm, in: db, now: Self.now), hostURI: "test:///elsewhere", in: db) }
        }
        mine.hosts = [Self.host]
        let other = try f.executor().run(mine)   // the same hold as before: not logged again
        #expect(try other.allSatisfy { $0.event != "hibernated" } && f.state("web-01") == .running, "\(other.map(\.text))")
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now + 120).contains("2 may sleep at once and 2 do (saved without torpor's record: api-01, web-02)"))
        // Started again by a person (libvirt runs it, on a covered host): running, whatever the inventory saw an hour ago.
        try f.store.transaction { db in
            for vm in ["web-02", "api-01"] { try VMRepository.setHost(vm: try VMRepository.id(of: vm, in: db, now: Self.now), hostURI: Self.host, in: db) }
        }
        try f.connection.domain(named: "web-02").start()
        #expect(try f.executor().run(f.options(Self.now + 180)).map(\.event) == ["hibernated"])
    }

    @Test func aPartnerDownSinceThePlanHoldsAHibernationItsGroupNoLongerAllows() throws {
        let f = try Fixture()
        _ = try InventoryIngester(store: f.store).ingest(uri: Self.host, now: Self.now)   // web-01 and web-02 are group=web
        // One of the two may sleep, one must run: web-01 sleeps, web-02 is busy all day.
        let plan = try f.plan(["web-01": 0..<6, "web-02": 0..<0], guardrails: "{max_hibernated_share: 0.5, min_running: 1}") { $0.labels = ["group": "web"] }
        #expect(plan.inputs.guardrails == Plan.Guardrails(groupLabel: "group", maxHibernatedShare: 0.5, minRunning: 1, counted: ["web-01", "web-02"]))
        #expect(plan.actions.map(\.vm) == ["web-01", "web-01"])
        try f.connection.domain(named: "web-02").destroy()   // a person shut web-02 down after the plan was made
        let held = try f.executor().run(f.options(Self.now))
        #expect(held.map(\.event) == ["skipped"])
        #expect(held.first?.detail == "guardrail at the pre-flight: group group=web (share 0.5, min_running 1): of its 1 VMs running or asleep, 0 may sleep at once and 0 do; not running now: web-02 (shutOff)")
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)   // held, not closed: still due
        // A host that does not answer: its VMs are not known to run (missing is not running).
        try f.connection.domain(named: "web-02").start()
        try f.store.transaction { try VMRepository.setHost(vm: try VMRepository.id(of: "web-02", in: $0, now: Self.now), hostURI: "test:///nowhere", in: $0) }
        let connection = f.connection
        let refusing = Executor(store: f.store, load: FixedLoad(otherwise: 1), connect: { uri in
            guard uri == Self.host else { throw ExecuteError(.runtime, "\(uri): no answer") }
            return connection
        })
        #expect(try refusing.run(f.options(Self.now + 120)).first?.detail.contains("web-02 (libvirt on its host: test:///nowhere: no answer)") == true)
        // On a host another executor covers (--host), web-02 counts as the plan counted it: running.
        var mine = f.options(Self.now + 180)
        mine.hosts = [Self.host]
        mine.dryRun = true
        #expect(try refusing.run(mine).map(\.event) == ["would-hibernate"])
        // web-02 back where libvirt runs it: web-01 sleeps.
        try f.store.transaction { try VMRepository.setHost(vm: try VMRepository.id(of: "web-02", in: $0, now: Self.now), hostURI: Self.host, in: $0) }
        #expect(try f.executor().run(f.options(Self.now + 240)).map(\.event) == ["hibernated"])
        #expect(try f.state("web-01") == .shutOff && f.state("web-02") == .running)
    }

    /// A partner on a host only another executor covers counts as the plan counted it: one the plan left out (no
    /// fresh data) is not running, so a crash of a covered partner since leaves the group under `min_running`: held.
    @Test func aPartnerThePlanDidNotCountOnAnotherExecutorsHostIsNotRunning() throws {
        let f = try Fixture()
        let other = "test:///other"
        let plan = try f.groupPlan(["web-01", "api-01", "web-02", "batch-01"], idle: ["web-01"], host: { ["web-02", "batch-01"].contains($0) ? other : Self.host },
                                   guardrails: "{max_hibernated_share: 0.5, min_running: 2}") { vm in
            if vm.name == "web-02" { vm.staleSince = Self.now - 7 * 3600 }
        }
        #expect(plan.inputs.guardrails?.counted == ["api-01", "batch-01", "web-01"] && plan.actions.contains { $0.vm == "web-01" && $0.action == .hibernate })
        try f.connection.domain(named: "api-01").destroy()
        var mine = f.options(Self.now)
        mine.hosts = [Self.host]
        let events = try f.executor().run(mine)
        #expect(events.map(\.detail) == ["guardrail at the pre-flight: group group=g (share 0.5, min_running 2): of its 2 VMs running or asleep, 0 may sleep at once and 0 do; "
                                         + "not running now: api-01 (shutOff), web-02 (not counted as running by the plan)"], "\(events.map(\.text))")
    }

    /// Two executors on one store (two processes' worth: no lock in memory shared) count each other's sleeps through the
    /// journal, under the store's lock: of two hibernations only one may sleep, only one does.
    @Test func twoExecutorsOnOneStoreCountEachOthersSleeps() throws {
        let f = try Fixture()
        try f.groupPlan(["web-01", "web-02", "api-01", "batch-01"], idle: ["web-01", "web-02"], host: { $0 == "web-02" ? "test:///other" : Self.host },
                        guardrails: "{max_hibernated_share: 0.5, min_running: 1}")
        try f.connection.domain(named: "api-01").destroy()
        let connection = f.connection, locks = VMLocks(store: f.store.path)
        let events = EventsSeen()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let executor = Executor(store: f.store, load: FixedLoad(otherwise: 1), locks: locks, connect: { _ in connection })
                events.add((try? executor.run(f.options(Self.now))) ?? [])
            }
        }
        group.wait()
        #expect(events.all.filter { $0.event == "hibernated" }.count == 1, "\(events.all.map(\.text))")
        #expect(try [f.state("web-01"), f.state("web-02")].filter { $0 == .shutOff }.count == 1)
    }

    /// Another executor holding the guardrails' count too long holds the run's hibernations back to the next pass (the
    /// first after its wait, the others at once); the VMs run, and sleep once it lets go.
    @Test func aGuardrailsCountHeldElsewhereHoldsTheRunsHibernationsBack() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        let locks = VMLocks(store: f.store.path), connection = f.connection
        let executor = Executor(store: f.store, load: FixedLoad(otherwise: 1), locks: locks, connect: { _ in connection })
        executor.guardrailsPatience = 0.3
        do {
            let elsewhere = try locks.take(VMLocks.guardrails)   // as another process would hold it
            defer { withExtendedLifetime(elsewhere) {} }
            let events = try executor.run(f.options(Self.now))
            #expect(events.map(\.detail) == Array(repeating: "another executor, or another host's pass of this one, held the guardrails' count for over 1s: tried again next pass", count: 2),
                    "\(events.map(\.text))")
            #expect(try f.state("web-01") == .running && f.state("web-02") == .running)
        }
        #expect(try executor.run(f.options(Self.now + 120)).map(\.event) == ["hibernated", "hibernated"], "let go: the next pass sleeps them")
    }

    /// A host's share is counted again too: with its only partner shut down, a VM of no group may not sleep.
    @Test func aHostsShareIsCountedAgainAtThePreFlight() throws {
        let f = try Fixture()
        try f.store.transaction { db in
            for vm in ["api-01", "batch-01"] { try VMRepository.setPlacement(vm: try VMRepository.id(of: vm, in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db) }
        }
        try f.plan(["api-01": 0..<6, "batch-01": 0..<0], guardrails: "{max_hibernated_share: 0.5, min_running: 0}")
        try f.connection.domain(named: "batch-01").destroy()
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map(\.detail) == ["guardrail at the pre-flight: host \(Self.host) (share 0.5): of its 1 VMs running or asleep, 0 may sleep at once and 0 do; not running now: batch-01 (shutOff)"])
        #expect(try f.state("api-01") == .running)
    }

    /// Two hibernations the plan admitted together, on two hosts, after a partner went down: the host passes run side
    /// by side, and the guardrails let only one sleep, counting the other's save as soon as its intent is journaled;
    /// a dry run counts what it would have put to sleep.
    @Test func twoHostsPreFlightsCountEachOthersSleeps() throws {
        let f = try Fixture()
        // The fixture's connection stands for every host.
        try f.groupPlan(["web-01", "web-02", "api-01", "batch-01"], idle: ["web-01", "web-02"], host: { $0 == "web-02" ? "test:///other" : Self.host },
                        guardrails: "{max_hibernated_share: 0.5, min_running: 1}")
        try f.connection.domain(named: "api-01").destroy()   // 3 of the group left: one may sleep
        var dry = f.options(Self.now)
        dry.dryRun = true
        let would = try f.executor().run(dry).map(\.event).sorted()
        #expect(would == ["skipped", "would-hibernate"])
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map(\.event).sorted() == ["hibernated", "skipped"], "\(events.map(\.text))")
        #expect(events.first { $0.event == "skipped" }?.detail.contains("of its 3 VMs running or asleep, 1 may sleep at once and 1 do; not running now: api-01 (shutOff)") == true,
                "\(events.map(\.text))")
        #expect(try [f.state("web-01"), f.state("web-02")].filter { $0 == .running }.count == 1)
    }

    @Test func restoresAreNeverBlockedByExpiryPauseOrAnUnapprovedNewerPlan() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        try f.executor().run(f.options(Self.now))
        #expect(try f.power("web-01") == .hibernated && f.power("web-02") == .hibernated)
        try ExecutorSettings.setPaused(true, by: "ops", now: Self.now, in: f.store)
        // Hours later the plan has long expired and new hibernations are paused; a newer plan (not approved) brings
        // web-02's restore forward.
        try f.plan(["web-02": 0..<0], at: Self.at(4), approve: false, asleep: ["web-02"])
        let early = try f.executor().run(f.options(Self.at(4) + 30))
        // Its new deadline (now) had passed when it finished: recorded as a violation.
        #expect(early.map { "\($0.event) \($0.vm ?? "")" } == ["restored web-02", "violation web-02"])
        // web-01 comes back at its planned restore, after expiry, while paused.
        let restoreAt = plan.actions.first { $0.vm == "web-01" && $0.action == .restore }!.at.seconds
        #expect(restoreAt > plan.validUntil.seconds)
        #expect(try f.executor().run(f.options(restoreAt)).map(\.event) == ["restored"])
        #expect(try f.state("web-01") == .running)
    }

    /// A restore does not wait out another process's long write (a big ingest holds the store's write lock while it
    /// reads its file): its journal steps wait `restoreJournalWait`, not the store's 30 s each, and once one has given
    /// up the run's other restores go on without theirs at once (each had waited in turn on the store's one writer).
    /// Three restores are done while the other still writes; their records wait for the run's end.
    @Test func aRestoreDoesNotWaitOutAnotherProcesssLongWrite() throws {
        let f = try Fixture()
        let vms = ["web-01", "web-02", "api-01"]
        let restoreAt = try f.plan(Dictionary(uniqueKeysWithValues: vms.map { ($0, 0..<2) })).actions.filter { $0.action == .restore }.map(\.at.seconds).max()!
        try f.executor().run(f.options(Self.now))
        #expect(try vms.allSatisfy { try f.power($0) == .hibernated })
        // Meanwhile another executor found web-01 running and put it to sleep again: its record is newer than the
        // restore's kept back, which must not write over it (web-01 would be taken for running, owed no restore), even
        // stamped by a clock a second behind this run's (no earlier than the restore's start here).
        let sleptAgain = PowerRecord(vm: "web-01", host: Self.host, state: .hibernated, since: restoreAt, actionID: "another-executors-sleep")
        let released = try f.anotherProcessWrites(for: 16) { try JournalRepository.setPower(sleptAgain, in: $0) }
        let events = try f.executor().run(f.options(restoreAt))
        #expect(events.filter { $0.event == "restored" }.count == 3, "\(events)")
        #expect(events.filter { $0.event == "failed" && $0.detail.contains("the journal cannot record the restore") }.count == 3, "\(events)")
        // One step waited its 5 s in vain; every other (the other intents, queued behind it or after it, and the three
        // done steps) did not wait.
        #expect(events.filter { $0.detail.contains("database is locked") }.count == 1, "\(events)")
        #expect(events.filter { $0.detail.contains("another write waited 5 s in vain for the store") }.count == 5, "\(events)")
        #expect(try vms.allSatisfy { try f.state($0) == .running })
        // Restored while the other still wrote (the run's clock starts at `restoreAt` as the hold begins, and the hold
        // lasts 16 s); their records, kept back, are written at the run's end, which waits for the other writer, with
        // their own times: none read late, each with its restore seconds.
        #expect(events.filter { $0.event == "restored" }.allSatisfy { UTC.parseISO8601($0.time)! < restoreAt + 16 }, "\(events)")
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) } == sleptAgain && f.power("web-02") == .running && f.power("api-01") == .running)
        let done = try f.store.read { db in try vms.flatMap { try JournalRepository.recent(limit: 100, vm: $0, in: db) } }.filter { $0.kind == .restore && $0.step == .done }
        #expect(done.count == 3 && done.allSatisfy { $0.late == false && $0.seconds != nil && $0.at < restoreAt + 16 }, "\(done)")
        released.wait()
    }

    /// An operator's pin and wake do not wait out another process's long write either: the pin's record waits 5 s at
    /// most before its wake (it had waited the store's 30 s), and is written after it; what the wake's restore could
    /// not record, done or failed, is written at the command's end (a failed restore's record was dropped: the state
    /// pool's retry wait and `check`'s "restore failing" read it).
    @Test func aPinAndAWakeDoNotWaitOutAnotherProcesssLongWrite() throws {
        let f = try Fixture.twoPlacedVMsAsleep()
        #expect(try f.power("web-01") == .hibernated && f.power("web-02") == .hibernated)
        func restores(_ vm: String) throws -> [JournalEntry] {
            try f.store.read { try JournalRepository.recent(limit: 100, vm: vm, in: $0) }.filter { $0.kind == .restore }
        }

        var released = try f.anotherProcessWrites(for: 12)
        let pinned = try f.executor().pin(vm: "web-01", until: Self.at(5), by: "carol", options: f.options(Self.at(1)))
        #expect(try pinned.warning == nil && f.state("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.pins(in: $0) }["web-01"]?.holds(at: Self.at(4)) == true, "the pin written after the wake")
        let woken = try #require(try restores("web-01").first { $0.step == .done })
        #expect(try woken.at < Self.at(1) + 10 && woken.seconds != nil && f.power("web-01") == .running, "woken while the other still wrote: \(woken)")
        released.wait()

        // A pin whose wake fails says the restore's own failure, not the journal step the busy store refused.
        try f.connection.domain(named: "web-02").undefine()
        released = try f.anotherProcessWrites(for: 12)
        let notWoken = #expect(throws: ExecuteError.self) { try f.executor().pin(vm: "web-02", until: nil, by: "carol", options: f.options(Self.at(2))) }
        #expect(notWoken?.message.contains("web-02 is pinned but not woken now (restore: ") == true && notWoken?.message.contains(Executor.domainGone) == true,
                "\(String(describing: notWoken))")
        released.wait()
        // A wake's failed restore, its record kept back, is written at the wake's end.
        released = try f.anotherProcessWrites(for: 12)
        let events = try f.executor().wake(vm: "web-02", by: "carol", options: f.options(Self.at(3)))
        #expect(events.contains { $0.event == "failed" && $0.vm == "web-02" && $0.detail.hasPrefix("restore:") }, "\(events.map(\.text))")
        let failed = try restores("web-02").filter { $0.step == .failed }
        #expect(failed.count == 2 && failed.allSatisfy { $0.detail.contains(Executor.domainGone) } && failed[0].at < Self.at(3) + 12, "\(failed)")
        let named = try ExecutionCheck.problems(store: f.store, now: Self.at(3) + 60, grace: 600).filter { $0.vm == "web-02" }.map(\.text)
        #expect(named.count == 1 && named[0].contains("its last restore failed: ") && named[0].contains(Executor.domainGone), "\(named)")
        released.wait()
    }

    /// A newer plan moves a sleeping VM's restore later only once a person approved that restore (a plan without a
    /// hibernation can be approved for it); unapproved, it may only bring it earlier. Approved for restores only, it
    /// does not replace the plan the executor takes hibernations from.
    @Test func aSleepIsExtendedOnlyByAnApprovedRestore() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<4, "web-02": 1..<8])
        try f.executor().run(f.options(Self.now))
        // The newer plan holds web-02's hibernation unchanged (else it would hold it back: a newer plan knows newer data).
        let newer = try f.plan(["web-01": 0..<10, "web-02": 0..<7], at: Self.at(1), approve: false, asleep: ["web-01"])
        let web01 = newer.actions.filter { $0.vm == "web-01" }
        #expect(web01.map(\.action) == [.restore] && newer.actions.contains { $0.id == plan.actions.first { $0.vm == "web-02" && $0.action == .hibernate }?.id })
        func owed() throws -> EpochSeconds? { try f.store.read { try DueActions.owedRestores(now: Self.at(2), in: $0) }.first?.deadline }
        #expect(try owed() == plan.actions.first { $0.action == .restore }?.deadline?.seconds && owed() == Self.at(4))
        #expect(try f.store.read { try DueActions.owedRestores(now: Self.at(2), in: $0) }.first?.hostConcurrentRestores == 2,
                "the host's concurrent_restores the plan queued it under, the executor's default")
        let record = try Approvals.approve(newer, bytes: newer.encoded(), source: "newer", only: ["web-01"], except: [], by: "ops", now: Self.at(1) + 600, in: f.store)
        #expect(record.actions == web01.map(\.id))
        #expect(try owed() == Self.at(11))
        #expect(try f.executor().run(f.options(Self.at(1) + 900)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-02"])
    }

    @Test func pausedAndExpiredAndUnapprovedPlansStartNoHibernation() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6], approve: false)
        #expect(try f.executor().run(f.options(Self.now)).isEmpty)
        let plan = try f.plan(["web-01": 0..<6], at: Self.now + 60)
        try ExecutorSettings.setPaused(true, by: "ops", now: Self.now, in: f.store)
        let paused = try f.executor().run(f.options(Self.now + 60))
        #expect(paused.map(\.event) == ["skipped"] && paused[0].detail.contains("paused"))
        // The next run, still paused: the same hold is not logged again.
        #expect(try f.executor().run(f.options(Self.now + 180)).isEmpty)
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now + 180).contains("web-01: skipped since"))
        // Resumed: status no longer lists the pause's hold as if it still held the VM back.
        try ExecutorSettings.setPaused(false, by: "ops", now: Self.now, in: f.store)
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.now + 240).contains("held back"))
        let late = try f.executor().run(f.options(plan.validUntil.seconds + 1))
        #expect(late.map(\.event) == ["skipped"] && late[0].detail.contains("expired"))
        #expect(try f.state("web-01") == .running)
    }

    /// The standing approval switched off while a pass reads a VM's load: the hibernation it carried does not start (the
    /// approvals are read again right before the save, as a pause and the pins are), and the journal shows no intent.
    @Test func aCarriedHibernationDoesNotStartOnceTheStandingApprovalIsSwitchedOffMidPass() throws {
        let f = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        try f.plan(["web-01": 1..<8])
        let carried = try f.plan(["web-01": 0..<7], at: Self.at(1), approve: false)
        #expect(try f.store.read { try DueActions.approvedPlan(now: Self.at(1) + 60, in: $0) }?.plan.id == carried.id, "carried")
        let events = try f.run(Self.at(1) + 60) { try Approvals.setStanding(false, by: "ops", now: Self.at(1) + 90, in: f.store) }
        #expect(events.map(\.event) == ["skipped"] && events[0].detail.contains("its approval no longer holds"), "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
    }

    @Test func wakePinAndDryRun() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        let dry = try f.executor().run({ var o = f.options(Self.now); o.dryRun = true; return o }())
        #expect(dry.map(\.event) == ["would-hibernate", "would-hibernate"])
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
        try f.executor().run(f.options(Self.now))
        // wake: at once, whatever the plan says; waking a running VM is nothing to do.
        #expect(try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(1))).map(\.event) == ["restored"])
        #expect(try f.state("web-01") == .running)
        let woken = try f.store.read { try JournalRepository.power(in: $0)["web-01"]?.wokenEarlyAt }
        #expect(woken.map { (Self.at(1)..<Self.at(1) + 60).contains($0) } == true)   // an operator's wake, before its planned restore
        let error = #expect(throws: ExecuteError.self) { try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(1))) }
        #expect(error?.kind == .nothingToDo)
        // A pin on a sleeping VM is owed a restore now.
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-02", until: nil, pinnedBy: "carol", pinnedAt: Self.at(2)), in: $0) }
        #expect(try f.executor().run(f.options(Self.at(2))).map { "\($0.event) \($0.vm ?? "")" } == ["restored web-02"])
    }

    /// `pin` records the pin and wakes a VM torpor has asleep or has no record of running; a wake that fails says the
    /// pin holds; what libvirt could not be asked about a VM torpor never slept is a warning, not a failure.
    @Test func pinWakesASleeperAndSaysWhatItCouldNotDo() throws {
        struct Unreachable: Error, CustomStringConvertible { var description: String { "host unreachable" } }
        let f = try Fixture.twoPlacedVMsAsleep()
        let pinned = try f.executor().pin(vm: "web-01", until: Self.at(5), by: "carol", options: f.options(Self.at(1)))
        #expect(pinned.pinned == "web-01 pinned awake until \(UTC.format(Self.at(5)))" && pinned.warning == nil)
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.pins(in: $0) }["web-01"]?.holds(at: Self.at(4)) == true)
        // Running by torpor's record: pinned again, not woken.
        #expect(try f.executor().pin(vm: "web-01", until: nil, by: "carol", options: f.options(Self.at(1))).pinned == "web-01 pinned awake until unpinned")
        // Bad input: an unknown VM, an end not after now; nothing is pinned.
        let unknown = #expect(throws: ExecuteError.self) { try f.executor().pin(vm: "no-such-vm", until: nil, by: "carol", options: f.options(Self.at(1))) }
        #expect(unknown?.kind == .badInput && unknown?.message.contains("no VM named no-such-vm") == true)
        let past = #expect(throws: ExecuteError.self) { try f.executor().pin(vm: "web-02", until: Self.at(1), by: "carol", options: f.options(Self.at(1))) }
        #expect(past?.kind == .badInput)
        #expect(try f.store.read { try JournalRepository.pins(in: $0) }["web-02"] == nil)
        // Asleep, its host unreachable: the pin holds (the next pass owes it its restore), and the error says so.
        let cut = Executor(store: f.store, load: FixedLoad(), connect: { _ in throw Unreachable() })
        let failed = #expect(throws: ExecuteError.self) { try cut.pin(vm: "web-02", until: nil, by: "carol", options: f.options(Self.at(2))) }
        #expect(failed?.kind == .runtime && failed?.message.contains("web-02 is pinned but not woken now (") == true, "\(String(describing: failed))")
        #expect(try f.store.read { try JournalRepository.pins(in: $0) }["web-02"] != nil && f.state("web-02") == .shutOff)
        // Asleep by torpor's record but started by hand: pinned, and its record mended (the restore finds it running).
        try f.connection.domain(named: "web-02").start()
        let found = try f.executor().pin(vm: "web-02", until: nil, by: "carol", options: f.options(Self.at(2)))
        #expect(found.pinned == "web-02 pinned awake until unpinned" && found.warning == nil)
        #expect(try f.power("web-02") == .running)
        // Running without a record of torpor's (never slept): pinned, nothing to wake.
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "db-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        #expect(try f.executor().pin(vm: "db-01", until: nil, by: "carol", options: f.options(Self.at(2))).pinned == "db-01 pinned awake until unpinned")
        // A VM torpor never slept whose host cannot be asked: pinned, with a warning.
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "api-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        let unchecked = try cut.pin(vm: "api-01", until: nil, by: "carol", options: f.options(Self.at(2)))
        #expect(unchecked.pinned == "api-01 pinned awake until unpinned" && unchecked.warning != nil)
        #expect(unchecked.warning?.hasPrefix("pinned, but whether api-01 is asleep could not be checked now: ") == true)
    }

    /// A pin the store refuses to record does not stop the wake it asks for: the sleeper is back, then the failure is
    /// told, saying it is awake and not pinned.
    @Test func aPinThatCannotBeRecordedStillWakesTheSleeper() throws {
        let f = try Fixture()
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        try f.plan(["web-01": 0..<10])
        try f.executor().run(f.options(Self.now))
        #expect(try f.state("web-01") == .shutOff)
        try f.store.transaction { try $0.execute(sql: "CREATE TRIGGER refuse_pins BEFORE INSERT ON pin BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END") }
        let failed = #expect(throws: ExecuteError.self) { try f.executor().pin(vm: "web-01", until: nil, by: "carol", options: f.options(Self.at(1))) }
        #expect(failed?.kind == .runtime && failed?.message.hasPrefix("web-01 could not be pinned (") == true
                && failed?.message.hasSuffix("); it is awake") == true, "\(String(describing: failed))")
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.pins(in: $0) }["web-01"] == nil)
    }

    /// The planner's input counts each VM's quiet hours (`PlanningVM.quietHours`, what makes it dormant) from its stored
    /// samples: the known hours since the newest hour whose highest sample reached its `restore_above`, or the newest
    /// it has no sample in and did not sleep in.
    @Test func planningInputsCountQuietAndIdleHoursFromTheStoredSamples() throws {
        let f = try Fixture()
        let start = Self.now - 240 * 3600
        // web-01: demand (a 20 % sample) 140 hours ago, then 139 known hours; web-02: 12 %, under restore_above, and
        // ten hours without a sample 190 hours ago: a gap in the data, which may have held demand, ends its quiet.
        try f.cpu("web-01", (0..<240).map { (time: start + Int64($0) * 3600 + 60, value: $0 == 100 ? 20 : 1) })
        try f.cpu("web-02", (0..<240).filter { !(50..<60).contains($0) }.map { (time: start + Int64($0) * 3600 + 60, value: $0 == 200 ? 12 : 1) })
        let inputs = try PlanningInputs.load(store: f.store, now: Self.now, policy: .embeddedDefault, policySHA256: "t",
                                             forecaster: try DemandForecaster(store: f.store))
        let quiet = Dictionary(uniqueKeysWithValues: inputs.vms.map { ($0.name, $0.quietHours) })
        #expect(quiet["web-01"] == 139 && quiet["web-02"] == 180, "\(quiet)")
        // Under hibernate_below (5 %): web-02's 12 % in hour 200 ends its idle hours; web-03's gap in the data ends its
        // (missing is not idle), where the hours a VM slept in do not.
        try f.cpu("web-03", (0..<240).filter { !(220..<230).contains($0) }.map { (time: start + Int64($0) * 3600 + 60, value: 1) })
        let idle = Dictionary(uniqueKeysWithValues: try PlanningInputs.load(store: f.store, now: Self.now, policy: .embeddedDefault, policySHA256: "t",
                                                                            forecaster: try DemandForecaster(store: f.store)).vms.map { ($0.name, $0.idleHours) })
        #expect(idle["web-01"] == 139 && idle["web-02"] == 39 && idle["web-03"] == 10, "\(idle)")
    }

    /// A VM the collector sees shut off (it goes on writing the domain's allocation, no CPU counters) is not running,
    /// however fresh its data is: not hibernated, and not counted as running towards its group's `min_running`.
    @Test func aVMSeenShutOffIsNotCountedAsRunning() throws {
        let f = try Fixture()
        let times = (0..<(240 * 12)).map { Self.now - 240 * 3600 + Int64($0) * 300 }
        let off = Self.now - 50 * 60
        try f.cpu("db-1", times.map { ($0, 1) })
        try f.cpu("db-2", times.filter { $0 < off }.map { ($0, 1) })
        try f.store.transaction { db in
            for vm in ["db-1", "db-2"] {
                try VMRepository.setPlacement(vm: try VMRepository.id(of: vm, in: db, now: Self.now), hostURI: Self.host, labels: ["group": "db"], in: db)
            }
        }
        for vm in ["db-1", "db-2"] { try f.cpu(vm, times.map { ($0, 2) }, metric: "vcpus", unit: "count") }
        let policy = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 2h}
            tiers: {silver: {quantile: 0.9, priority: 2}}
            guardrails: {max_hibernated_share: 1, min_running: 1}
            """, source: "test")
        func plan() throws -> (input: PlanningInput, plan: Plan) {
            let input = try PlanningInputs.load(store: f.store, now: Self.now, policy: policy, policySHA256: "t", forecaster: try DemandForecaster(store: f.store))
            return (input, Planner.plan(input))
        }
        let (input, made) = try plan()
        #expect(input.vms.first { $0.name == "db-2" }?.notRunningSince == times.last { $0 < off } && input.vms.first { $0.name == "db-1" }?.notRunningSince == nil)
        #expect(made.actions.isEmpty, "\(made.actions.map(\.id))")
        #expect(made.skipped.first { $0.vm == "db-2" }?.reason.hasPrefix("not running since ") == true, "\(made.skipped)")
        #expect(made.skipped.first { $0.vm == "db-1" }?.reason.contains("may have 0 of 1 asleep at once") == true, "\(made.skipped)")
        // Saved by hand, as the inventory found it: asleep for the guardrails, as the pre-flight counts it.
        try f.store.transaction { db in try VMRepository.setSaved(vm: try VMRepository.id(of: "db-2", in: db, now: Self.now), true, now: Self.now - 600, in: db) }
        let (byHand, heldBack) = try plan()
        #expect(byHand.vms.filter(\.savedWithoutRecord).map(\.name) == ["db-2"] && heldBack.inputs.guardrails?.counted == ["db-1", "db-2"])
        #expect(heldBack.skipped.first { $0.vm == "db-1" }?.reason.contains("may have 1 of 2 asleep at once") == true, "\(heldBack.skipped)")
        try f.store.transaction { db in try VMRepository.setSaved(vm: try VMRepository.id(of: "db-2", in: db, now: Self.now), false, now: Self.now - 300, in: db) }
        // Brought back by torpor since its last demand sample (the collector reads its CPU again only at its second
        // pass after the start): running, not "seen not running".
        try f.store.transaction { try $0.execute(sql: "INSERT OR REPLACE INTO power (vm, host, state, since, action_id) VALUES ('db-2', ?, 'running', ?, 'restore')",
                                                 arguments: [Self.host, Self.now - 5 * 60]) }
        #expect(try plan().input.vms.first { $0.name == "db-2" }?.notRunningSince == nil)
        // ... unless it stopped again before the collector read its CPU: seen not running from the restore on.
        let restored = Self.now - 40 * 60
        try f.store.transaction { try $0.execute(sql: "UPDATE power SET since = ? WHERE vm = 'db-2'", arguments: [restored]) }
        #expect(try plan().input.vms.first { $0.name == "db-2" }?.notRunningSince == restored)
        try f.store.transaction { try $0.execute(sql: "DELETE FROM power") }
        // Running again (its CPU counters read once more): counted, and db-1 may sleep.
        try f.cpu("db-2", times.filter { $0 >= off }.map { ($0, 1) })
        #expect(try plan().plan.actions.contains { $0.vm == "db-1" && $0.action == .hibernate })
        // The first collection after the collector was down for an hour reads no demand (no rate over a gap) of a VM
        // that runs: not seen not running; the next one without demand is.
        let gapEnd = Self.now - 300
        try f.cpu("db-3", times.filter { $0 < gapEnd - 3600 }.map { ($0, 1) })
        try f.cpu("db-3", times.filter { $0 < gapEnd - 3600 }.map { ($0, 2) } + [(gapEnd, 2)], metric: "vcpus", unit: "count")
        #expect(try plan().input.vms.first { $0.name == "db-3" }?.notRunningSince == nil)
        try f.cpu("db-3", [(Self.now, 2)], metric: "vcpus", unit: "count")
        #expect(try plan().input.vms.first { $0.name == "db-3" }?.notRunningSince == times.last { $0 < gapEnd - 3600 })
    }

    @Test func planningInputsCountFalseAlarmsFromTheStoredCallsAndSamples() throws {
        let f = try Fixture()
        let start = Self.now - 240 * 3600
        func hour(_ h: Int) -> EpochSeconds { start + Int64(h) * 3600 }
        // web-01: demand (20 %) in hour 100, quiet since; web-02: quiet, no sample in hours 50..<60.
        try f.cpu("web-01", (0..<240).map { (time: hour($0) + 60, value: $0 == 100 ? 20 : 1) })
        try f.cpu("web-02", (0..<240).filter { !(50..<60).contains($0) }.map { (time: hour($0) + 60, value: 1) })
        // Calls as the hourly plans recorded them (silver: q0.9 and its median). web-01's in hour 100 came true, those
        // after it did not (hour 160 twice: median and tier, one hour); a q0.99 call claims less than silver's q0.9 does.
        try f.store.transaction { db in
            for h in [90, 100, 150, 160, 170, 180] {
                let calls = h == 160 ? [DemandCall(hour: hour(h), quantile: 0.5, forecast: 20), DemandCall(hour: hour(h), quantile: 0.9, forecast: 30)]
                    : [DemandCall(hour: hour(h), quantile: h == 180 ? 0.99 : 0.9, forecast: 30)]
                try DemandCallRepository.record(["web-01": calls, "web-02": h == 150 ? [DemandCall(hour: hour(55), quantile: 0.9, forecast: 30)] : []],
                                                hour: hour(h), keep: PlanningInputs.demandCallsKept, in: db)
            }
            try DemandCallRepository.record(["web-02": [DemandCall(hour: hour(200), quantile: 0.9, forecast: 30)]], hour: hour(200),
                                            keep: PlanningInputs.demandCallsKept, in: db)
        }
        let inputs = try PlanningInputs.load(store: f.store, now: Self.now, policy: .embeddedDefault, policySHA256: "t",
                                             forecaster: try DemandForecaster(store: f.store))
        let alarms = Dictionary(uniqueKeysWithValues: inputs.vms.map { ($0.name, $0.falseAlarms) })
        // web-02's call in hour 55 has no data: not counted. web-01's fall on 29 February and 1 March, whole days after
        // the 27th its demand came on (UTC, the forecaster's clock here); web-02's on 2 March.
        #expect(alarms["web-01"] == FalseAlarms(hours: 3, days: 2) && alarms["web-02"] == FalseAlarms(hours: 1, days: 1), "\(alarms)")
    }

    /// A plan made since the approved one (approved or not) that holds the same hibernation with an earlier restore
    /// would have the VM restored at once once asleep: a hibernation held until that restore is due does not start.
    @Test func aHibernationANewerPlanWouldRestoreAtOnceDoesNotStart() throws {
        let f = try Fixture()
        let shortSleeps = "vms: {web-01: {min_idle: 1h}}"
        let approved = try f.plan(["web-01": 1..<10], tiers: shortSleeps)
        let hibernation = try #require(approved.actions.first { $0.action == .hibernate })
        let newer = try f.plan(["web-01": 1..<2], at: Self.now + 600, approve: false, tiers: shortSleeps)
        #expect(newer.actions.contains { $0.id == hibernation.id }, "the same hibernation, a sooner restore")
        let restore = try #require(newer.actions.first { $0.action == .restore })
        #expect(restore.at.seconds + 10 < approved.validUntil.seconds)
        let events = try f.executor().run(f.options(restore.at.seconds + 10))
        #expect(events.map(\.event) == ["skipped"] && events[0].detail == "a newer plan brings its restore to \(restore.at.text): not worth sleeping",
                "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running)
    }

    /// A standing approval carries only from the last approved plan while it is valid, under the same policy, and only
    /// approvals given since it was switched on; switched off, what it carried no longer starts anything; and a
    /// hibernation the newest plan no longer holds does not start from an older approved plan.
    @Test func standingApprovalsCarryOnlyWhatAPersonStillStandsBy() throws {
        let f = try Fixture()
        func carried(_ plan: Plan) throws -> Bool { try !f.store.read { try Approvals.approvedActions(of: plan.id, in: $0) }.isEmpty }
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        let approved = try f.plan(["web-01": 1..<8])
        #expect(try carried(try f.plan(["web-01": 1..<8], at: Self.now + 60, approve: false)), "unchanged: carried")
        #expect(try !carried(try f.plan(["web-01": 1..<8], at: Self.now + 120, approve: false, policySHA256: "another")), "another policy: not carried")
        // The same sleep planned again after the approved plan expired: not carried (a day-old approval would be).
        let e = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: e.store)
        let early = try e.plan(["web-01": 4..<10])
        #expect(early.validUntil.seconds == Self.at(2))
        let late = try e.plan(["web-01": 1..<7], at: Self.at(3), approve: false)
        #expect(Set(late.actions.map(\.signature)) == Set(early.actions.map(\.signature)), "the same sleep")
        #expect(try e.store.read { try Approvals.approvedActions(of: late.id, in: $0) }.isEmpty, "from an expired plan: not carried")
        // Switched on after the person's approval: that approval is not carried.
        let g = try Fixture()
        _ = try g.plan(["web-01": 1..<8])
        try Approvals.setStanding(true, by: "ops", now: Self.now + 30, in: g.store)
        let again = try g.plan(["web-01": 0..<7], at: Self.at(1), approve: false)
        #expect(try g.store.read { try Approvals.approvedActions(of: again.id, in: $0) }.isEmpty)
        // Switched off: the carried approval of the plan at +60 s no longer counts; the person's of the first plan does,
        // and the newest plan (+60 s) still holds its hibernation, so it starts from there.
        try Approvals.setStanding(false, by: "ops", now: Self.now + 90, in: f.store)
        let plans = try f.store.read { try DueActions.approvedPlan(now: Self.at(1), in: $0) }
        #expect(plans?.plan.id == approved.id)
        // A newer plan that no longer holds it (the VM busy in its forecast) holds it back.
        _ = try f.plan(["web-01": 3..<8], at: Self.now + 1800, approve: false)
        let held = try f.executor().run(f.options(Self.at(1)))
        #expect(held.map(\.event) == ["skipped"] && held[0].detail.contains("made since, no longer holds this hibernation"), "\(held.map(\.text))")
    }

    /// A newer plan that holds an approved hibernation with its forecast risen since (halfway to a threshold, or a higher
    /// risk: what no standing approval carries) holds it back for a person's review of that plan, and that plan counts it
    /// awaiting approval, not starting as planned; approved there, it starts. One unchanged starts as approved.
    @Test func aNewerPlanWhoseForecastRoseHoldsTheApprovedHibernation() throws {
        let f = try Fixture()
        let approved = try f.plan(["web-01": 1..<8, "web-02": 1..<8])
        let newer = try f.plan(["web-01": 1..<8, "web-02": 1..<8], at: Self.now + 60, approve: false, idleLoad: [0.2, 3, 4]) { vm in
            guard vm.name == "web-02" else { return }
            vm.forecast = QuantileForecast(start: Self.now + 60, quantiles: [0.5, 0.9, 0.99],
                                           values: (0..<24).map { (1..<8).contains($0) ? [0.2, 0.5, 1] : [20, 40, 60] }, source: "crafted")
        }
        let unchanged = try #require(newer.actions.first { $0.vm == "web-02" && $0.action == .hibernate })
        let risen = try #require(newer.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        #expect(try f.store.read { try Approvals.approvedByFollowed(newer, now: Self.now + 60, in: $0) }.keys.sorted() == [unchanged.id],
                "the risen one awaits this plan's approval")
        let events = try f.executor().run(f.options(Self.at(1)))
        let held = try #require(events.first { $0.vm == "web-01" })
        #expect(held.event == "skipped" && held.detail.hasPrefix("plan \(newer.id.prefix(12)), made since, holds this hibernation with its forecast risen"), "\(held.detail)")
        let approvedSleep = try #require(approved.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        #expect(held.action == approvedSleep.id && risen.signature == approvedSleep.signature && risen.rationale.rose(since: approvedSleep.rationale))
        #expect(try f.state("web-01") == .running && f.power("web-02") == .hibernated)
        _ = try Approvals.approve(newer, bytes: newer.encoded(), source: "plan", only: ["web-01"], except: [], by: "alice", now: Self.at(1) + 60, in: f.store)
        #expect(try f.executor().run(f.options(Self.at(1) + 120)).contains { $0.vm == "web-01" && $0.event == "hibernated" })
    }

    /// Two idle-timeout windows of a plan share a signature (it has no time): each window of a newer plan is compared
    /// with the approved window it overlaps, not with the first of them. Both plans the same, the later window (its
    /// forecast higher than the first's) starts as approved too, as the executor would start it.
    @Test func eachIdleTimeoutWindowIsComparedWithTheApprovedOneItOverlaps() throws {
        let f = try Fixture()
        func forecast(at t: EpochSeconds) -> QuantileForecast {
            QuantileForecast(start: t, quantiles: [0.5, 0.9, 0.99], values: (0..<24).map { h in
                (0..<6).contains(h) ? [2, 8, 10] : (10..<16).contains(h) ? [2, 9, 12] : [20, 40, 60]   // calm, not idle: idle-timeout windows
            }, source: "crafted")
        }
        try f.plan(["web-01": 0..<6], tiers: "valid_for: 20h", idleTimeout: true) { $0.forecast = forecast(at: Self.now) }
        let newer = try f.plan(["web-01": 0..<6], at: Self.now + 60, approve: false, tiers: "valid_for: 20h", idleTimeout: true) { $0.forecast = forecast(at: Self.now + 60) }
        let windows = newer.actions.filter { $0.vm == "web-01" && $0.action == .hibernate }.sorted { $0.at < $1.at }
        #expect(windows.count == 2 && windows.first?.signature == windows.last?.signature, "\(windows.map(\.id))")
        #expect(windows.count == 2 && windows[1].rationale.rose(since: windows[0].rationale), "the later window's forecast is higher than the first's")
        let starting = try f.store.read { try Approvals.approvedByFollowed(newer, now: Self.now + 60, in: $0) }
        #expect(starting.keys.sorted() == windows.map(\.id).sorted(), "\(starting.keys.sorted())")
    }

    /// What a standing approval carried counts for hibernations only while it is on, and only what it carried since it
    /// was last switched on (switching it on again while on changes nothing); a person's approval of a carried
    /// hibernation is recorded all the same, and counts whatever the switch.
    @Test func carriedApprovalsCountWhileTheStandingApprovalThatCarriedThemIsOn() throws {
        let f = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        let approved = try f.plan(["web-01": 3..<8])
        let carried = try f.plan(["web-01": 2..<7], at: Self.at(1), approve: false)
        func followed(_ t: EpochSeconds) throws -> String? { try f.store.read { try DueActions.approvedPlan(now: t, in: $0) }?.plan.id }
        #expect(try followed(Self.at(1) + 60) == carried.id, "carried while on")
        try Approvals.setStanding(true, by: "ops", now: Self.at(1) + 120, in: f.store)
        #expect(try followed(Self.at(1) + 120) == carried.id, "switched on again while on: nothing changes")
        try Approvals.setStanding(false, by: "ops", now: Self.at(1) + 180, in: f.store)
        #expect(try followed(Self.at(1) + 180) == approved.id, "off: the person's approval only")
        // Switched on again at a --now before the switch off (one kept from a replay): refused, else what it carried
        // before the switch off would count again.
        let backDated = #expect(throws: PlanError.self) { try Approvals.setStanding(true, by: "ops", now: Self.at(1) + 150, in: f.store) }
        #expect(backDated?.message == "the standing approval was switched off at \(UTC.format(Self.at(1) + 180)) by ops: a switch at "
                + "\(UTC.format(Self.at(1) + 150)), before it, is refused (check --now)", "\(String(describing: backDated))")
        #expect(try followed(Self.at(1) + 200) == approved.id, "still off")
        try Approvals.setStanding(true, by: "ops", now: Self.at(1) + 240, in: f.store)
        #expect(try followed(Self.at(1) + 240) == approved.id, "on again: what was carried before does not come back")
        let record = try Approvals.approve(carried, bytes: carried.encoded(), source: "carried", only: nil, except: [], by: "alice", now: Self.at(1) + 300, in: f.store)
        let after = try followed(Self.at(1) + 300)
        #expect(!record.actions.isEmpty && after == carried.id, "a person's approval of what was carried")
        // ... which the next plan carries (the person's record, not the older carried one of the same ids).
        let next = try f.plan(["web-01": 1..<6], at: Self.at(2), approve: false)
        #expect(try !f.store.read { try Approvals.approvedActions(of: next.id, in: $0) }.isEmpty)
        // Switched off at a --now before the last switch on (that one a typo ahead of the clock): never refused, what it
        // carried stops at once.
        try Approvals.setStanding(true, by: "ops", now: Self.at(9), in: f.store)
        try Approvals.setStanding(false, by: "ops", now: Self.at(2) + 60, in: f.store)
        #expect(try f.store.read { try Approvals.carriedInForce(in: $0) } == nil)
    }

    /// The standing approval switched off and on again within the second a plan carried an approval in: what that
    /// switch off set aside does not count again.
    @Test func offAndOnInOneSecondDoesNotReviveWhatTheSwitchOffSetAside() throws {
        let f = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        let approved = try f.plan(["web-01": 1..<8])
        let carried = try f.plan(["web-01": 0..<7], at: Self.at(1), approve: false)
        func followed() throws -> String? { try f.store.read { try DueActions.approvedPlan(now: Self.at(1) + 60, in: $0) }?.plan.id }
        #expect(try followed() == carried.id, "carried")
        try Approvals.setStanding(false, by: "ops", now: Self.at(1), in: f.store)
        try Approvals.setStanding(true, by: "ops", now: Self.at(1), in: f.store)
        #expect(try followed() == approved.id, "the carry of that second stays set aside")
    }

    /// A standing approval does not carry a sleep unchanged but for a higher risk (its forecast's top quantile now
    /// crosses hibernate_below), nor one at the same risk whose forecast came over halfway to its threshold: those wait
    /// for a person, and `torpor-plan diff` says what rose.
    @Test func aStandingApprovalDoesNotCarryARiskierSleep() throws {
        let f = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        _ = try f.plan(["web-01": 3..<8])
        let same = try f.plan(["web-01": 2..<7], at: Self.at(1), approve: false)
        #expect(try !f.store.read { try Approvals.approvedActions(of: same.id, in: $0) }.isEmpty, "unchanged: carried")
        let riskier = try f.plan(["web-01": 1..<6], at: Self.at(2), approve: false, idleLoad: [0.2, 0.5, 8])
        let sleep = try #require(riskier.actions.first { $0.action == .hibernate })
        #expect(sleep.rationale.risk == "medium" && sleep.signature == same.actions.first { $0.action == .hibernate }?.signature)
        #expect(try f.store.read { try Approvals.approvedActions(of: riskier.id, in: $0) }.isEmpty, "riskier: for a person")
        let diff = PlanReport.diff(old: same, new: riskier)
        #expect(diff.contains("web-01:\n  ! hibernate at ") && diff.contains(": risk low → medium; q0.9 peak 0.5 % → 0.5 % "), "\(diff)")
        // Still low (the top quantile under hibernate_below), but the deciding quantile's peak went from 0.5 % to 3.5 %
        // under 5 %: over half its margin.
        let closer = try f.plan(["web-01": 0..<5], at: Self.at(3), approve: false, idleLoad: [0.2, 3.5, 4.5])
        let closerSleep = try #require(closer.actions.first { $0.action == .hibernate })
        #expect(closerSleep.rationale.risk == "low" && closerSleep.signature == sleep.signature)
        #expect(try f.store.read { try Approvals.approvedActions(of: closer.id, in: $0) }.isEmpty, "closer to its threshold: for a person")
        let closerDiff = PlanReport.diff(old: same, new: closer)
        #expect(closerDiff.contains("web-01:\n  ! hibernate at ") && closerDiff.contains("risk low → low; q0.9 peak 0.5 % → 3.5 % (sleeps under 5.0 %), top quantile 1.0 % → 4.5 %"),
                "\(closerDiff)")
        let nearly = try f.plan(["web-01": 0..<5], at: Self.at(3), approve: false, idleLoad: [0.2, 2.5, 2.5])
        #expect(try !f.store.read { try Approvals.approvedActions(of: nearly.id, in: $0) }.isEmpty, "under half its margin (0.5 % → 2.5 % under 5 %): carried")
    }

    /// A standing approval holds each carried sleep to the forecast a person approved it on, not only to the last plan's
    /// (which may itself be carried): a forecast creeping toward its threshold by under half the margin each hour waits
    /// for a person once it came halfway from what that person saw; a person's approval of it again is the new measure.
    @Test func aStandingApprovalDoesNotLetASleepsForecastCreep() throws {
        let f = try Fixture()
        try Approvals.setStanding(true, by: "ops", now: Self.now - 60, in: f.store)
        _ = try f.plan(["web-01": 3..<8])   // a person's: q0.9 peak 0.5 % under 5 %
        func carried(_ plan: Plan) throws -> Bool { try !f.store.read { try Approvals.approvedActions(of: plan.id, in: $0) }.isEmpty }
        let first = try f.plan(["web-01": 2..<7], at: Self.at(1), approve: false, idleLoad: [0.2, 2.5, 2.5])
        #expect(try carried(first), "0.5 % → 2.5 % under 5 %: under half its margin")
        let second = try f.plan(["web-01": 1..<6], at: Self.at(2), approve: false, idleLoad: [0.2, 3.6, 4.0])
        #expect(try !carried(second), "2.5 % → 3.6 % is under half of what was left, but 0.5 % → 3.6 % is over half the margin a person saw")
        _ = try Approvals.approve(second, bytes: second.encoded(), source: "plan", only: nil, except: [], by: "ops", now: Self.at(2) + 60, in: f.store)
        let third = try f.plan(["web-01": 0..<5], at: Self.at(3), approve: false, idleLoad: [0.2, 3.6, 4.0])
        #expect(try carried(third), "the same as the person approved last")
    }

    /// `diff` tells a hibernation whose time came before the newer plan from one the newer plan dropped: begun (the VM
    /// asleep, restored by the newer plan) or not.
    @Test func diffSaysAHibernationWhoseTimeCame() throws {
        let f = try Fixture()
        let first = try f.plan(["web-01": 0..<4, "web-02": 3..<6])
        let hibernation = try #require(first.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        let asleep = try f.plan(["web-01": 0..<3, "web-02": 2..<5], at: Self.at(1), approve: false, asleep: ["web-01"])
        let begun = PlanReport.diff(old: first, new: asleep)
        #expect(begun.contains("web-01:\n  - hibernate at \(hibernation.at.text)  (its time came: asleep when the newer plan was made, which restores it)"), "\(begun)")
        #expect(!begun.contains("web-02:"), "unchanged")
        let awake = try f.plan(["web-01": 2..<5, "web-02": 2..<5], at: Self.at(1) + 1, approve: false)
        let notBegun = PlanReport.diff(old: first, new: awake)
        #expect(notBegun.contains("  - hibernate at \(hibernation.at.text)  (its time came: not asleep when the newer plan was made)"), "\(notBegun)")
    }

    /// Switching the standing approval off withdraws carried approvals from hibernations only: a sleep a carried
    /// restore extended (here still at the horizon's end, an hour later each plan) keeps that restore, not an older one.
    @Test func restoresACarriedApprovalMovedStandWhenTheStandingApprovalGoesOff() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<4])
        try f.executor().run(f.options(Self.now))
        try Approvals.setStanding(true, by: "ops", now: Self.now, in: f.store)
        // With web-02's hibernation beside it: a standing approval carries from the last plan with an approved one.
        let extended = try f.plan(["web-01": 0..<24, "web-02": 2..<8], at: Self.at(1), asleep: ["web-01"])
        let carried = try f.plan(["web-01": 0..<24, "web-02": 1..<7], at: Self.at(2), approve: false, asleep: ["web-01"])
        let restore = try #require(carried.actions.first { $0.vm == "web-01" && $0.action == .restore })
        #expect(restore.deadlineCause == "horizon-end" && extended.actions.first { $0.vm == "web-01" && $0.action == .restore }?.deadlineCause == "horizon-end")
        #expect(try f.store.read { try Approvals.approvedActions(of: carried.id, in: $0)[restore.id]?.carriedFrom } == extended.id)
        func owed() throws -> String? { try f.store.read { try DueActions.owedRestores(now: Self.at(3), in: $0) }.first?.actionID }
        #expect(try owed() == restore.id)
        try Approvals.setStanding(false, by: "ops", now: Self.at(2) + 600, in: f.store)
        #expect(try owed() == restore.id, "the carried restore stands")
    }

    /// An idle-timeout hibernation waiting for its quiet is not held back by the next plan: that plan holds the same
    /// sleep under another id (an idle-timeout hibernation's id has its plan's hour).
    @Test func theNextPlanHoldsAWaitingIdleTimeoutHibernationByItsSignature() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<8], idleLoad: [6, 10, 12], idleTimeout: true)
        let next = try f.plan(["web-01": 0..<7], at: Self.at(1), approve: false, idleLoad: [6, 10, 12], idleTimeout: true)
        let (a, b) = (plan.actions.first { $0.action == .hibernate }!, next.actions.first { $0.action == .hibernate }!)
        #expect(a.id != b.id && a.signature == b.signature)
        let events = try f.executor().run(f.options(Self.at(1) + 60))
        #expect(events.map(\.event) == ["waiting"] && events[0].detail.contains("missing is not idle"), "\(events.map(\.text))")
        // A later plan with the same idle wait and an earlier restore: that restore is the sleep's (once asleep, owed).
        let sooner = try f.plan(["web-01": 0..<4], at: Self.at(2), approve: false, idleLoad: [6, 10, 12], idleTimeout: true)
        let soonerRestore = try #require(sooner.actions.first { $0.action == .restore })
        let said = try f.store.read { try DueActions.sinceApproved([a], of: plan, now: Self.at(2) + 60, in: $0) }
        #expect(said.droppedBy.isEmpty && said.restores[a.id]?.id == soonerRestore.id, "\(String(describing: said.restores[a.id]?.id))")
    }

    /// An idle-timeout hibernation approved in one plan is not started while the newest plan foresees demand for the
    /// VM now and holds its window only later (the same signature: an idle-timeout one's has no time); once that window
    /// has begun, the newest plan holds it, and the restore owed is that window's.
    @Test func aNewerPlansLaterIdleWindowDoesNotHoldTheHibernationNow() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<8], idleLoad: [6, 10, 12], idleTimeout: true)
        let later = try f.plan(["web-01": 2..<7], at: Self.at(1), approve: false, idleLoad: [6, 10, 12], idleTimeout: true)
        let a = try #require(plan.actions.first { $0.action == .hibernate }), b = try #require(later.actions.first { $0.action == .hibernate })
        #expect(a.signature == b.signature && b.at.seconds == Self.at(3))
        let now = try f.store.read { try DueActions.sinceApproved([a], of: plan, now: Self.at(1) + 60, in: $0) }
        #expect(now.droppedBy[a.id] == later.id, "the newest plan foresees demand until \(UTC.format(Self.at(3)))")
        let events = try f.executor().run(f.options(Self.at(1) + 60))
        #expect(events.map(\.event) == ["skipped"] && events[0].detail.contains("no longer holds this hibernation"), "\(events.map(\.text))")
        let inWindow = try f.store.read { try DueActions.sinceApproved([a], of: plan, now: Self.at(3) + 60, in: $0) }
        #expect(inWindow.droppedBy.isEmpty && inWindow.restores[a.id]?.id == b.pairedWith)
    }

    /// Between two windows of a plan made since, the earlier window's restore gone by: the hibernation is not held now,
    /// and the pre-flight says so (not that a newer plan brings its restore to a time past).
    @Test func aHibernationBetweenTwoWindowsOfANewerPlanIsNoLongerHeld() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<12], tiers: "valid_for: 8h", idleLoad: [6, 10, 12], idleTimeout: true)
        let newer = try f.plan(["web-01": 0..<12], at: Self.at(1), approve: false, idleLoad: [6, 10, 12], idleTimeout: true) { vm in
            for h in 4..<6 { vm.forecast!.values[h] = [20, 40, 60] }   // demand foreseen 05:00–07:00
        }
        #expect(newer.actions.filter { $0.action == .hibernate }.map(\.at.seconds) == [Self.at(1), Self.at(7)])
        let between = try f.executor().run(f.options(Self.at(6)))
        #expect(between.map(\.event) == ["skipped"] && between[0].detail == "plan \(newer.id.prefix(12)), made since, no longer holds this hibernation: review that plan",
                "\(between.map(\.text))")
    }

    /// A sleep whose save ended after the restore time of the window it began in (in a newer plan made before it) is
    /// owed that window's restore, due at once, not the approved plan's later one.
    @Test func aSleepIsOwedTheRestoreOfTheWindowItBeganIn() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<8], idleLoad: [6, 10, 12], idleTimeout: true)
        let newer = try f.plan(["web-01": 0..<2, "web-02": 0..<1], at: Self.at(1), approve: false, idleLoad: [6, 10, 12], idleTimeout: true)
        let a = try #require(plan.actions.first { $0.action == .hibernate }), b = try #require(newer.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        let windowRestore = try #require(newer.action(b.pairedWith!))
        let owed = try f.store.read { db in   // plans are read from the store as they are searched
            let plans = try DueActions.plans(upTo: Self.at(4), since: Self.now - 3600, in: db)
            return DueActions.restore(of: "web-01", asleepBy: a.id, since: windowRestore.at.seconds + 60, sleepPlan: plans.first { $0.id == plan.id }, newer: plans)
        }
        #expect(owed?.action.id == windowRestore.id, "\(String(describing: owed?.action.id))")
    }

    /// A hibernation started late in its window must still pay for its save and restore (the break-even its plan
    /// records, 2 × (60 s + 30 s)): a few minutes before its restore's deadline it is not started.
    @Test func aHibernationTooCloseToItsRestoresDeadlineIsNotStarted() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<2])
        let h = try #require(plan.actions.first { $0.action == .hibernate }), r = try #require(plan.actions.first { $0.action == .restore })
        let deadline = try #require(r.deadline).seconds
        #expect(h.breakEvenSeconds == 180 && r.at.seconds > deadline - 170)
        let events = try f.executor().run(f.options(deadline - 170))
        #expect(events.map(\.event) == ["skipped"] && events[0].detail.contains("is less than the break-even 3m away: not worth sleeping"), "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running)
    }

    /// The hibernation's pre-flight asks the demand signal that would wake the VM: one it wants now is not put to
    /// sleep (to be woken on the next pass), nor is one the signal cannot answer for (missing is not idle).
    @Test func aHibernationsPreFlightAsksTheDemandSignal() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        func executor(_ signal: any DemandSignal) -> Executor {
            Executor(store: f.store, load: FixedLoad(), demand: signal, connect: { [connection = f.connection] _ in connection })
        }
        let wanted = try executor(FixedDemandSignal(["web-02"])).run(f.options(Self.now))
        #expect(wanted.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["hibernated web-01", "skipped web-02"], "\(wanted.map(\.text))")
        #expect(wanted.first { $0.vm == "web-02" }?.detail == "wanted (test signal)")
        #expect(try f.state("web-02") == .running)
        let unanswered = try executor(UnavailableDemandSignal()).run(f.options(Self.now + 60))
        #expect(unanswered.map { "\($0.event) \($0.vm ?? "")" } == ["failed web-01", "skipped web-02"]
                && unanswered[1].detail == "demand signal: the test signal does not answer", "\(unanswered.map(\.text))")
        #expect(try f.state("web-02") == .running)
        #expect(try executor(FixedDemandSignal([])).run(f.options(Self.now + 120)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-02"])
    }

    /// A demand-signal rule that names no VM of the store (`web-O1` for `web-01`) leaves the VM it was meant for without
    /// its signal: new hibernations are held, saying which rule, until it is mended; restores go on.
    @Test func aDemandRuleThatNamesNoVMHoldsHibernations() throws {
        let f = try Fixture()
        _ = try InventoryIngester(store: f.store).ingest(uri: Self.host, now: Self.now)
        try f.plan(["web-01": 1..<10, "web-02": 1..<10, "api-01": 0..<2])
        try f.executor().run(f.options(Self.now))   // api-01 asleep; its restore starts before hour 2, web-01's and web-02's sleeps from hour 1
        let connection = f.connection
        let misspelt = Executor(store: f.store, load: FixedLoad(), demand: FixedDemandSignal(["web-O1"]), connect: { _ in connection })
        let held = try misspelt.run(f.options(Self.at(2) - 60))
        #expect(held.filter { $0.event == "skipped" }.count == 2 && held.filter { $0.event == "skipped" }.allSatisfy {
            $0.detail.contains("a --wake-on rule names no VM of the store: no VM is named web-O1") }, "\(held.map(\.text))")
        #expect(held.contains { $0.event == "restored" && $0.vm == "api-01" }, "restores go on: \(held.map(\.text))")
        #expect(try f.state("web-01") == .running && f.state("web-02") == .running && f.state("api-01") == .running)
        let mended = Executor(store: f.store, load: FixedLoad(), demand: FixedDemandSignal(["web-01"]), connect: { _ in connection })
        #expect(try mended.run(f.options(Self.at(2) - 30)).map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["hibernated web-02", "skipped web-01"])
    }

    @Test func aDemandSignalWakesASleepingVMBeforeItsRestoreIsDue() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        try f.executor().run(f.options(Self.now))
        let executor = Executor(store: f.store, load: FixedLoad(), demand: FixedDemandSignal(["web-02"]), connect: { [connection = f.connection] _ in connection })
        let events = try executor.run(f.options(Self.at(2)))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" } == ["restored web-02"])
        #expect(events.first?.detail == "wanted (test signal)")
        #expect(try f.state("web-01") == .shutOff && f.state("web-02") == .running)
        // The next plan knows web-02 was wanted while its forecast said otherwise: it sleeps again only after min_idle
        // of measured quiet (the planner's rule); web-01, still asleep, is not affected.
        try f.cpu("web-01", []); try f.cpu("web-02", [])
        let inputs = try PlanningInputs.load(store: f.store, now: Self.at(3), policy: .embeddedDefault, policySHA256: "t",
                                             forecaster: try DemandForecaster(store: f.store))
        let woken = Dictionary(uniqueKeysWithValues: inputs.vms.map { ($0.name, $0.wokenEarlyAt) })
        #expect((woken["web-02"] ?? nil).map { UTC.format($0) } == events.first?.time && woken["web-01"] == .some(nil))
        let status = try ExecutionStatus.render(store: f.store, now: Self.at(3))
        #expect(status.contains("woken before their planned restore within a day (the next sleep waits for min_idle of measured quiet):\n  web-02 on \(Self.host): running since \(events.first!.time) (signal:web-02:"))
        #expect(status.contains("asleep: 1\n  web-01 on \(Self.host): restore at "))
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.at(2) + Planner.distrustPeriod + 60).contains("woken before"))
        // Its wake ends its quiet (the demand came while it slept, in an hour the history leaves out), also once it
        // sleeps again: quiet for the 240 hours before and 1 % after the wake (back at 02:00: its demand came before), it
        // has the three quiet hours from 02:00 when it sleeps from hour 5, not 243 (dormant). web-01, never woken early,
        // keeps its 240.
        let quietBefore = (-240..<0).map { (time: Self.at($0) + 60, value: 1.0) }
        try f.cpu("web-01", quietBefore)
        try f.cpu("web-02", quietBefore + [2, 3, 4].map { (time: Self.at($0) + 1800, value: 1) })
        try f.executor().journal(JournalEntry(actionID: "again", planID: nil, vm: "web-02", host: Self.host, kind: .hibernate, step: .done, at: Self.at(5)),
                                 power: PowerRecord(vm: "web-02", host: Self.host, state: .hibernated, since: Self.at(5), actionID: "again"))
        let again = try PlanningInputs.load(store: f.store, now: Self.at(8), policy: .embeddedDefault, policySHA256: "t",
                                            forecaster: try DemandForecaster(store: f.store))
        let quiet = Dictionary(uniqueKeysWithValues: again.vms.map { ($0.name, $0.quietHours) })
        // The wake's time is the executor's clock (its `now` plus the time the run took): on the hour, hour 2 ran whole
        // and counts; a second or more late (a loaded machine), hour 2 was partly asleep and is missing.
        let woke = try #require(events.first.flatMap { UTC.parseISO8601($0.time) })
        #expect(woke >= Self.at(2) && woke < Self.at(2) + 60, "\(UTC.format(woke))")
        #expect(quiet["web-02"] == 3 || (woke > Self.at(2) && quiet["web-02"] == 2), "\(quiet), woken at \(UTC.format(woke))")
        #expect(quiet["web-01"] == 240 && again.vms.first { $0.name == "web-02" }?.wokenEarlyAt == nil, "\(quiet)")
    }

    /// A restore a killed run (or a killed `wake`) left unfinished is finished by the next run at once; a VM found
    /// already running is not a restore time the planner learns from; `wake` asks libvirt, not only torpor's record.
    @Test func interruptedRestoresResumeAndWakeFollowsLibvirt() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated", "hibernated"])
        // An operator's wake killed after its intent: the next run finishes it, hours before the plan's restore.
        let wake = UnplannedWake.wake.actionID(vm: "web-01", at: Self.at(1))
        try f.executor().journal(JournalEntry(actionID: wake, planID: nil, vm: "web-01", host: Self.host, kind: .restore, step: .intent, at: Self.at(1),
                                              detail: "woken by bob", deadline: Self.at(1)))
        let resumed = try f.executor().run(f.options(Self.at(2)))
        #expect(resumed.map { "\($0.event) \($0.vm ?? "")" } == ["reconciled web-01", "restored web-01"], "\(resumed.map(\.text))")
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.latestSteps(of: [wake], in: $0) }[wake]?.step == .done)
        // Finished by the next run, the operator's wake is still one no plan scheduled: the planner's quiet ends there.
        #expect(try f.store.read { try JournalRepository.lastUnplannedWake(vm: "web-01", from: Self.now, now: Self.at(3), in: $0) } == Self.at(2))
        // web-02 started by hand: its restore finds it running; that took no restore time.
        try f.connection.domain(named: "web-02").start()
        let restoreAt = try #require(f.store.read { try DueActions.owedRestores(now: Self.at(2), in: $0) }.first { $0.vm == "web-02" }).at
        let found = try f.executor().run(f.options(restoreAt))
        #expect(found.map(\.event) == ["restored"] && found.first?.seconds == nil && found.first?.detail.hasPrefix("already running") == true)
        #expect(try f.store.read { try JournalRepository.p95Seconds(kind: .restore, vms: ["web-02"], in: $0) }["web-02"] == nil)
        // wake: an unknown VM is bad input; a VM saved outside torpor's record is woken (libvirt has the last word).
        let unknown = #expect(throws: ExecuteError.self) { try f.executor().wake(vm: "no-such-vm", by: "bob", options: f.options(Self.at(3))) }
        #expect(unknown?.kind == .badInput && unknown?.message.contains("no VM named no-such-vm") == true)
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "api-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        try f.connection.domain(named: "api-01").managedSave()
        #expect(try f.executor().wake(vm: "api-01", by: "bob", options: f.options(Self.at(3))).map(\.event) == ["restored"])
        #expect(try f.state("api-01") == .running)
        let running = #expect(throws: ExecuteError.self) { try f.executor().wake(vm: "api-01", by: "bob", options: f.options(Self.at(3))) }
        #expect(running?.kind == .nothingToDo && running?.message.contains("libvirt says it is running") == true)
    }

    /// A copy into the pool that fails in a way that may pass (here an I/O error: libvirt's image unreadable) is tried
    /// again after 15 minutes, 1 hour and 4 hours, not on every pass, and refused for good after that; one that
    /// succeeds on a retry is linked to the sleep.
    @Test func aPoolCopyThatFailedIsTriedAgainLaterAFewTimes() throws {
        let f = try Fixture()
        _ = try f.plan(["web-01": 0..<20, "web-02": 0..<20])
        var options = f.options(Self.now)
        options.pool = (f.dir + "/pool", 1 << 40)
        options.managedSaveDirectory = f.dir + "/save"
        for vm in ["web-01", "web-02"] {   // a directory where the image should be: reading it fails
            try FileManager.default.createDirectory(atPath: f.dir + "/save/\(vm).save", withIntermediateDirectories: true)
        }
        func pass(_ at: EpochSeconds) throws -> [String] {
            options.now = at
            return try f.executor().run(options).map { "\($0.event) \($0.vm ?? "")" }.sorted()
        }
        #expect(try pass(Self.now) == ["hibernated web-01", "hibernated web-02", "not-pooled web-01", "not-pooled web-02"])
        let first = try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }
        #expect(first?.poolFailures == 1 && first?.poolRetryAt == Self.now + 900 && first?.poolRefused == nil, "\(String(describing: first))")
        #expect(try pass(Self.now + 600).isEmpty, "not read again before its wait is over")
        // web-02's image is readable now: its retry takes it.
        try FileManager.default.removeItem(atPath: f.dir + "/save/web-02.save")
        try Data(randomImage).write(to: URL(fileURLWithPath: f.dir + "/save/web-02.save"))
        #expect(try pass(Self.now + 900) == ["not-pooled web-01", "pooled web-02"])
        #expect(try f.store.read { try JournalRepository.power(of: "web-02", in: $0) }?.manifestID != nil)
        #expect(try pass(Self.now + 900 + 3599).isEmpty)
        #expect(try pass(Self.now + 900 + 3600) == ["not-pooled web-01"])
        let last = Self.now + 900 + 3600 + 4 * 3600
        #expect(try pass(last) == ["not-pooled web-01"])
        let refused = try #require(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) })
        #expect(refused.poolRefused?.contains("tried 4 times") == true, "\(refused)")
        #expect(try pass(last + 3600).isEmpty, "refused for good")
    }

    /// A copy whose image reached the pool but whose link the store could not record (busy past its timeout while a
    /// long ingest writes) is tried again later, as a pool failure that may pass is, not refused for good: refused, the
    /// sleep could only be restored from libvirt's image though the pool held it.
    @Test func aPoolCopyTheStoreCouldNotLinkIsTriedAgain() throws {
        let f = try Fixture()
        _ = try f.plan(["web-01": 0..<20])
        var options = try f.pooledOptions(Self.now, images: ["web-01"])
        try f.store.transaction {
            try $0.execute(sql: "CREATE TRIGGER refuse_links BEFORE UPDATE OF manifest_id ON power BEGIN SELECT RAISE(ABORT, 'database is locked'); END")
        }
        options.now = Self.now
        let first = try f.executor().run(options)
        #expect(first.map(\.event) == ["hibernated", "not-pooled"] && first[1].detail.contains("tried again from \(UTC.format(Self.now + 900))"),
                "\(first.map(\.text))")
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.poolRefused == nil)
        try f.store.transaction { try $0.execute(sql: "DROP TRIGGER refuse_links") }
        options.now = Self.now + 900
        #expect(try f.executor().run(options).map(\.event) == ["pooled"])
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.manifestID != nil)
    }

    /// libvirt's image is flushed to disk before its sleep is recorded: an image on this machine is, one that is not
    /// here (a remote host's) is libvirt's to keep, and one here that cannot be opened is not flushed (an error); the
    /// hibernation's record holds the image's size as before.
    @Test func theSavedImageIsFlushedBeforeItsSleepIsRecorded() throws {
        let f = try Fixture()
        let image = f.dir + "/save/web-01.save"
        try FileManager.default.createDirectory(atPath: f.dir + "/save", withIntermediateDirectories: true)
        try Data(randomImage).write(to: URL(fileURLWithPath: image))
        try Executor.flushImage(image)
        try Executor.flushImage(f.dir + "/elsewhere/web-01.save")
        // Here but not to be opened (a socket in its place: ENXIO; a failing disk's EIO alike): not flushed.
        let socketPath = "/tmp/torpor-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).save"   // short: a socket's path has 108 bytes
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd); unlink(socketPath) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in socketPath.utf8CString.withUnsafeBytes { path.copyMemory(from: $0) } }
        #expect(withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0)
        let unopened = #expect(throws: Executor.ImageNotFlushed.self) { try Executor.flushImage(socketPath) }
        #expect(unopened?.description.contains("could not be flushed to disk (cannot be opened: ") == true, "\(String(describing: unopened))")
        _ = try f.plan(["web-01": 0..<20])
        var options = f.options(Self.now)
        options.managedSaveDirectory = f.dir + "/save"
        #expect(try f.executor().run(options).map(\.event) == ["hibernated"])
        #expect(try f.store.read { try JournalRepository.recent(limit: 1, vm: "web-01", in: $0) }.first?.bytes == Int64(randomImage.count))
        // A flush the disk refuses: a failed hibernation, the VM started again from its image, never recorded asleep
        // (not even as "saved after all", where flushing again would find the lost write no longer reported).
        let g = try Fixture()
        _ = try g.plan(["web-02": 0..<20])
        let refusing = g.executor()
        // As Linux reports a lost write: to the first fsync after it only; another would return 0.
        final class Reported: @unchecked Sendable { var once = false }
        let reported = Reported()
        refusing.flushSavedImage = { path in
            guard !reported.once else { return }
            reported.once = true
            throw Executor.ImageNotFlushed(path: path, reason: "Input/output error")
        }
        let events = try refusing.run(g.options(Self.now))
        #expect(events.map(\.event) == ["failed"] && events[0].detail.contains("could not be flushed to disk (Input/output error)")
                && events[0].detail.contains("started again from its saved state"), "\(events.map(\.text))")
        #expect(try g.state("web-02") == .running && g.power("web-02") != .hibernated)
        #expect(try g.steps("web-02").last == "hibernate:failed")
    }

    /// A save a killed run left the VM paused after (no job running): the next run resumes it and closes the action as
    /// failed; `wake` resumes a paused VM too. A sleep whose image the pool's lock kept out is taken on a later pass.
    @Test func aPausedVMIsResumedAndAnUnpooledSleepIsTakenLater() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<10, "web-02": 0..<10, "batch-01": 0..<10])
        let hibernate = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        for step in [JournalEntry.Step.intent, .started] {
            try f.executor().journal(JournalEntry(actionID: hibernate.id, planID: plan.id, vm: "web-01", host: Self.host, kind: .hibernate, step: step, at: Self.now))
        }
        try f.connection.domain(named: "web-01").suspend()
        try f.connection.domain(named: "api-01").suspend()
        // web-02 hibernates into a pool whose lock another process holds: recorded asleep, its image not taken.
        var options = try f.pooledOptions(Self.now, images: ["web-02"])
        _ = try StatePool(directory: f.dir + "/pool", capacityBytes: 1 << 40, store: f.store)
        let events: [ExecutionEvent]
        do {
            let held = try FileLock(path: f.dir + "/pool/lock", wait: false)
            events = try f.executor().run(options)
            withExtendedLifetime(held) {}
        }
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted()
                == ["failed web-01", "hibernated batch-01", "hibernated web-02", "not-pooled batch-01", "not-pooled web-02"], "\(events.map(\.text))")
        // batch-01's image is not where libvirt keeps images here: refused for good; web-02's pool was only busy.
        let sleeps = try f.store.read { try JournalRepository.power(in: $0) }
        #expect(sleeps["batch-01"]?.poolRefused?.contains("not at") == true && sleeps["web-02"]?.poolRefused == nil)
        #expect(sleeps["web-02"]?.diskIdentity != nil, "the disks as the save left them")
        try Data(randomImage).write(to: URL(fileURLWithPath: f.dir + "/save/batch-01.save"))
        #expect(try f.state("web-01") == .running && f.steps("web-01").last == "hibernate:failed")
        #expect(try f.state("web-02") == .shutOff && f.store.read { try JournalRepository.power(in: $0)["web-02"]?.manifestID } == nil)
        // The next pass takes it, linked to the sleep.
        options.now = Self.now + 120
        #expect(try f.executor().run(options).map { "\($0.event) \($0.vm ?? "")" } == ["pooled web-02"], "a refused image is not read again")
        #expect(try f.store.read { try JournalRepository.power(in: $0)["web-02"]?.manifestID } != nil)
        options.now = Self.now + 240
        #expect(try f.executor().run(options).isEmpty, "taken once")
        // batch-01's image is lost before the pool had it (refused earlier; here as if never tried): said at once, once.
        try f.store.transaction { db in try db.execute(sql: "UPDATE power SET pool_refused = NULL WHERE vm = 'batch-01'") }
        try f.connection.domain(named: "batch-01").removeManagedSaveImage()
        options.now = Self.now + 300
        let lost = try f.executor().run(options)
        #expect(lost.map { "\($0.event) \($0.vm ?? "")" } == ["not-pooled batch-01"] && lost[0].detail.contains("libvirt holds no saved image of this sleep"),
                "\(lost.map(\.text))")
        options.now = Self.now + 360
        #expect(try f.executor().run(options).isEmpty, "said once")
        // And `check` names it for a person long before its restore is due.
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 360, grace: 600).map(\.text)
                == ["batch-01 on \(Self.host): ASLEEP WITHOUT A SAVED STATE since \(UTC.format(Self.now)): libvirt lost its image before the state pool had it; "
                    + "its restore will fail and torpor never cold-boots it: a person decides"])
        // wake: a VM left paused (torpor never slept it) runs again.
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "api-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        #expect(try f.executor().wake(vm: "api-01", by: "bob", options: f.options(Self.now + 180)).map(\.event) == ["restored"])
        #expect(try f.state("api-01") == .running)
    }

    /// A killed run's save that had completed, found by the next pass after its restore fell due (the run was down a
    /// while): reconciled asleep and restored in that same pass, not one interval later.
    @Test func aReconciledSaveWhoseRestoreIsDueIsRestoredInTheSamePass() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<3])
        let hibernate = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        let restoreAt = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .restore }).at.seconds
        for step in [JournalEntry.Step.intent, .started] {
            try f.executor().journal(JournalEntry(actionID: hibernate.id, planID: plan.id, vm: "web-01", host: Self.host, kind: .hibernate, step: step, at: Self.now))
        }
        try f.connection.domain(named: "web-01").managedSave()
        let events = try f.executor().run(f.options(restoreAt + 600))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" } == ["reconciled web-01", "restored web-01", "violation web-01"], "\(events.map(\.text))")
        #expect(events.last?.detail.contains(" s after its deadline ") == true, "late, and said so")
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.steps("web-01") == ["hibernate:intent", "hibernate:started", "hibernate:done", "restore:intent", "restore:started", "restore:done"])
    }

    /// A rollback to an older torpor after a newer one migrated the store: the other stages refuse it, but the
    /// executor still restores (a sleeping VM is never left without its way back) and starts no hibernation.
    @Test func aStoreANewerTorporMigratedStillGetsItsRestores() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6, "web-02": 1..<9])
        #expect(try f.executor().run(f.options(Self.now)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-01"])
        // A newer migration may replace any table, the samples' too: the store is still known by its first migration.
        try f.store.transaction { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a newer torpor'); ALTER TABLE sample RENAME TO sample_v99") }
        let refused = #expect(throws: StoreError.self) { _ = try Store(path: f.store.path) }
        #expect(refused?.message.contains("written by a newer torpor") == true)
        let newer = try Store(path: f.store.path, tolerateNewerSchema: true)
        #expect(try newer.writtenByNewerTorpor() && f.store.writtenByNewerTorpor(), "also seen by a store opened before the migration")
        #expect(try ExecutionStatus.render(store: newer, now: Self.now).hasPrefix("at \(UTC.format(Self.now)): hibernations HELD: the store was written by a newer torpor"),
                "status says what the executor does, not 'enabled'")
        let connection = f.connection
        // An executor that opened the store before (a long-running one) sees it too.
        let executor = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { _ in connection })
        // web-01's sleep has an image waiting for the state pool: nothing is copied into a newer torpor's pool.
        let pooled = try f.pooledOptions(Self.at(1), images: ["web-01"])
        let held = try executor.run(pooled)
        #expect(held.map { "\($0.event) \($0.vm ?? "")" } == ["skipped web-02"] && held.first?.detail == ExecutorSettings.newerSchemaHold, "\(held.map(\.text))")
        #expect(try f.state("web-02") == .running && !FileManager.default.fileExists(atPath: f.dir + "/pool"))
        // The check names it once for the fleet (the executor left on an older binary by an upgrade): savings stopped.
        let older = try ExecutionCheck.problems(store: newer, now: Self.at(1), grace: 900).filter { $0.kind == .olderExecutor }
        #expect(older.map(\.text) == ["\(f.store.path): HIBERNATIONS HELD since \(UTC.format(Self.at(1))): an executor runs an older torpor than the store's "
                                       + "and holds due hibernations back (restores go on): restart it on the new binary (systemctl restart torpor-execute.service), or upgrade torpor again after a rollback"], "\(older)")
        let restoreAt = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .restore }).at.seconds
        let restored = try executor.run(f.options(restoreAt))
        #expect(restored.filter { $0.vm == "web-01" }.map(\.event) == ["restored"], "\(restored.map(\.text))")
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
    }

    /// A sleeping VM found paused (started paused by hand, a restore that stopped half-way) has its memory: its restore
    /// resumes it, with no restore time for the planner to learn from; never "no saved state".
    @Test func aSleepingVMFoundPausedIsResumedByItsRestore() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated"])
        let domain = try f.connection.domain(named: "web-01")
        try domain.start()
        try domain.suspend()
        let restoreAt = try #require(plan.actions.first { $0.action == .restore }).at.seconds
        let restored = try f.executor().run(f.options(restoreAt))
        #expect(restored.map(\.event) == ["restored"] && restored.first?.seconds == nil, "\(restored.map(\.text))")
        #expect(restored.first?.detail.hasPrefix("it was paused; resumed") == true)
        #expect(try f.state("web-01") == .running && f.power("web-01") == .running)
        #expect(try f.store.read { try JournalRepository.p95Seconds(kind: .restore, vms: ["web-01"], in: $0) }["web-01"] == nil)
    }

    /// A calendar event the approved plan did not know (ingested since) holds a hibernation whose sleep it falls in; an
    /// event without duration ("dump at 03:00", a DTSTART alone) counts too.
    @Test func anEventIngestedAfterThePlanHoldsTheHibernation() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        let ics = f.dir + "/ops.ics"
        try """
            BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//torpor test//EN\r\nBEGIN:VEVENT\r\nUID:dump-1\r\nDTSTAMP:20240301T000000Z\r
            DTSTART:20240304T030000Z\r\nSUMMARY:db dump\r\nCATEGORIES:backup\r\nX-TORPOR-VMS:web-01\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n
            """.write(toFile: ics, atomically: true, encoding: .utf8)
        _ = try CalendarIngester(store: f.store).ingest(path: ics, from: Self.now - 86_400, to: Self.now + 86_400, now: Self.now)
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["hibernated web-02", "skipped web-01"], "\(events.map(\.text))")
        #expect(events.first { $0.vm == "web-01" }?.detail.contains("calendar: keep-awake event 'db dump' at 2024-03-04T03:00:00Z falls in the sleep") == true)
        #expect(try f.state("web-01") == .running)
    }

    /// A VM a collection found running on two hosts lately is not saved (its memory would not match the disks the other
    /// copy writes), said; nor later while one of the hosts has not been collected since (missing is not one copy); once
    /// both were, its hibernation starts.
    @Test func aVMFoundRunningOnTwoHostsIsNotSaved() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        let other = "test:///default", seen = Self.now - 300
        let pair = [Self.host, other].sorted().joined(separator: " and ")  // named in order, wherever the clone lives
        try f.store.transaction { db in
            try VMRepository.setRunningCopies(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hosts: [Self.host, other], now: seen, in: db)
        }
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["hibernated web-02", "skipped web-01"], "\(events.map(\.text))")
        let held = "not saved while another copy may write its disks (torpor-execute check names it once collections in a row find it so)"
        #expect(events.first { $0.vm == "web-01" }?.detail == "found running on two hosts (\(pair)) lately: " + held)
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
        let later = seen + VMRepository.runningCopiesGap + 1
        let silent = try f.executor().run(f.options(later))
        #expect(silent.map(\.detail) == ["found running on two hosts (\(pair)) at \(UTC.format(seen)), and \(pair) not collected since (one gone for good: "
                                          + "torpor-ingest release web-01 lets go of this record): " + held], "\(silent.map(\.text))")
        for collect in DomainStatsIngester(store: f.store).collect(uris: [Self.host, other], stamp: { later + 10 }) { _ = try collect() }
        try f.cpu("web-01", [(later + 10, 1)])   // calm, as a collection after the first tells (the first records counters only)
        #expect(try f.executor().run(f.options(later + 20)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-01"])
    }

    /// A VM found running on two hosts, one of them gone for good and never collected again: its saves are held (up to a
    /// day), until a person releases it (`torpor-ingest release`), which lets go of that record too; the next collection
    /// of the host left places it there, and its save goes on.
    @Test func releasingAVMLetsGoOfItsTwoCopiesHold() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let gone = "qemu+ssh://gone/system", seen = Self.now - 300
        try f.store.transaction { db in
            try VMRepository.setRunningCopies(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hosts: [Self.host, gone], now: seen, in: db)
        }
        let later = seen + VMRepository.runningCopiesGap + 1
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: later - 5)
        #expect(try f.executor().run(f.options(later)).map(\.event) == ["skipped"], "\(gone) not collected since")
        #expect(try f.store.transaction { try VMRepository.release("web-01", in: $0) } == .released)
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: later + 10)
        try f.cpu("web-01", [(later + 10, 1)])   // calm, as a collection after the first tells (the first records counters only)
        #expect(try f.executor().run(f.options(later + 20)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-01"])
    }

    /// A VM another host's collection found running lately (a copy seen once there, or a migration just made) is not
    /// saved on the plan's host, said, until `DomainRuns.gap` has passed without that host finding it so: also when
    /// that sighting moved its placement there, and this host's collector has not found it lately.
    @Test func aVMFoundRunningOnAnotherHostLatelyIsNotSaved() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let b = "qemu+ssh://b/system"
        try f.store.transaction { db in
            try DomainRuns.record(host: b, domain: "web-01", now: Self.now - 60, previous: nil, in: db)
            try VMRepository.setHost(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hostURI: b, in: db)
        }
        let held = try f.executor().run(f.options(Self.now))
        #expect(held.map(\.event) == ["skipped"] && held.first?.detail == "found running on \(b) lately, besides \(Self.host) where it is to be saved (another "
                + "copy, or a migration just made): not saved while another copy may write its disks (torpor-execute check names it once collections in a row "
                + "find it so)", "\(held.map(\.text))")
        #expect(try f.state("web-01") == .running)
        #expect(try f.executor().run(f.options(Self.now - 60 + DomainRuns.gap)).map(\.event) == ["hibernated"])
    }

    /// Settings the run cannot use (a demand signal's rule, in the jobs' environment too) hold every due hibernation,
    /// said, while restores go on: the VMs a broken rule should watch would sleep unwatched.
    @Test func wrongSettingsHoldHibernationsNotRestores() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<2, "web-02": 1..<6])
        #expect(try f.executor().run(f.options(Self.now)).map { "\($0.event) \($0.vm ?? "")" } == ["hibernated web-01"])
        let restoreAt = try #require(plan.actions.first { $0.action == .restore && $0.vm == "web-01" }).at.seconds
        #expect(restoreAt > Self.at(1) && restoreAt < plan.validUntil.seconds, "web-02's sleep due, the plan in force")
        var options = f.options(restoreAt)
        options.holdHibernations = "no new hibernations while the executor's settings are wrong: --wake-on 'x' is not VM=QUERY"
        let events = try f.executor().run(options)
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["restored web-01", "skipped web-02"], "\(events.map(\.text))")
        #expect(events.first { $0.vm == "web-02" }?.detail.contains("--wake-on 'x' is not VM=QUERY") == true)
        #expect(try f.state("web-02") == .running)
    }

    /// A keep-awake event ingested after the plan that put a VM to sleep wakes it before the event starts, by its
    /// restore time and a pass (`DueActions.eventLead`), not once the event is on: no newer plan may come in between.
    @Test func anEventIngestedDuringASleepWakesTheVMBeforeItStarts() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated"])
        let ics = f.dir + "/ops.ics"
        try """
            BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//torpor test//EN\r\nBEGIN:VEVENT\r\nUID:dump-1\r\nDTSTAMP:20240301T000000Z\r
            DTSTART:20240304T020000Z\r\nSUMMARY:db dump\r\nCATEGORIES:backup\r\nX-TORPOR-VMS:web-01\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n
            """.write(toFile: ics, atomically: true, encoding: .utf8)
        _ = try CalendarIngester(store: f.store).ingest(path: ics, from: Self.now - 86_400, to: Self.now + 86_400, now: Self.now + 3600)
        let lead = DueActions.eventLead(restoreSeconds: nil)
        #expect(try f.executor().run(f.options(Self.at(2) - lead - 60)).isEmpty, "not yet")
        let woken = try f.executor().run(f.options(Self.at(2) - lead + 60))
        #expect(woken.map(\.event) == ["restored"] && woken.first?.detail.contains("calendar: keep-awake event 'db dump' starts at 2024-03-04T02:00:00Z") == true,
                "\(woken.map(\.text))")
        #expect(try f.state("web-01") == .running)
        // A plan whose restore comes by the event's start keeps it: the restore is its own, planned (and judged late by
        // its deadline), not taken over by the event's lead.
        let g = try Fixture()
        let knew = try g.plan(["web-01": 0..<2])
        #expect(try g.executor().run(g.options(Self.now)).map(\.event) == ["hibernated"])
        _ = try CalendarIngester(store: g.store).ingest(path: ics, from: Self.now - 86_400, to: Self.now + 86_400, now: Self.now + 3600)
        let restore = try #require(knew.actions.first { $0.action == .restore })
        #expect(restore.at.seconds > Self.at(2) - lead + 60 && (restore.deadline ?? restore.at).seconds <= Self.at(2))
        #expect(try g.executor().run(g.options(Self.at(2) - lead + 60)).isEmpty, "the plan's restore is not due yet")
        let planned = try g.executor().run(g.options(restore.at.seconds))
        #expect(planned.map(\.event) == ["restored"] && planned.first?.action == restore.id, "\(planned.map(\.text))")
    }

    /// torpor resumes a VM paused by hand or by a save or start that stopped half-way, never one libvirt paused for a
    /// fault (a disk I/O error, its watchdog, a guest crash) or for a migration, dump or snapshot. (The test driver
    /// pauses only "by request" or "unknown", which the test above resumes; the faults are libvirt's reasons.)
    @Test func aVMPausedForAFaultIsNotResumable() {
        let resumable: [PauseReason?] = [nil, .unknown, .user, .save, .startingUp, .fromSnapshot, .apiError]
        let forAPerson: [PauseReason] = [.ioError, .watchdog, .crashed, .migration, .postcopy, .postcopyFailed, .dump, .snapshot, .shuttingDown,
                                          .other(99)]
        #expect(resumable.allSatisfy(Executor.resumable))
        #expect(!forAPerson.contains(where: Executor.resumable))
    }

    /// A host that cannot be reached fails its VMs' restores once a pass, not once per VM (a host that is down can take
    /// minutes to refuse each connection); the next pass tries it again. A quick refusal is tried again at once.
    @Test func anUnreachableHostIsTriedOnceAPass() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated", "hibernated"])
        let restoreAt = try #require(plan.actions.first { $0.action == .restore }).at.seconds
        final class Attempts: @unchecked Sendable {
            private let lock = NSLock()
            private var n = 0
            func add() { lock.withLock { n += 1 } }
            var count: Int { lock.withLock { n } }
        }
        struct HostDown: Error {}
        let attempts = Attempts()
        let down = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { _ in attempts.add(); throw HostDown() })
        down.slowRefusalSeconds = 0   // as if each refusal had taken a TCP timeout
        let first = try down.run(f.options(restoreAt))
        #expect(first.map(\.event) == ["failed", "failed"] && attempts.count == 1, "\(first.map(\.text))")
        #expect(first.contains { $0.detail.contains("could not be reached earlier in this pass") })
        _ = try down.run(f.options(restoreAt + 60))
        #expect(attempts.count == 2, "the next pass tries again")
        #expect(try f.power("web-01") == .hibernated && f.power("web-02") == .hibernated)
        down.slowRefusalSeconds = 60
        _ = try down.run(f.options(restoreAt + 90))
        #expect(attempts.count == 4, "a quick refusal (libvirtd restarting) is not remembered: each restore tries")
        let back = try f.executor().run(f.options(restoreAt + 240))
        #expect(back.filter { $0.event == "restored" }.count == 2 && back.contains { $0.event == "violation" }, "back, and late: \(back.map(\.text))")
    }

    @Test func wakeOnRulesNameAVMOrALabelGroup() {
        #expect(PrometheusDemandSignal.Rule.parse("web-01=sum(rate(lb_connections{backend=\"web-01\"}[1m]))")
                == .init(selector: "web-01", query: "sum(rate(lb_connections{backend=\"web-01\"}[1m]))"))
        #expect(PrometheusDemandSignal.Rule.parse("group=web=sum(lb_waiting{pool=\"$vm\"})") == .init(selector: "group=web", query: "sum(lb_waiting{pool=\"$vm\"})"))
        #expect(PrometheusDemandSignal.Rule.parse("=up") == nil)
        // A query with '==' is the VM form: no query starts with '='.
        #expect(PrometheusDemandSignal.Rule.parse("web-01=lb_queue==1") == .init(selector: "web-01", query: "lb_queue==1"))
    }

    /// Flags that name nothing the store knows are found, each said as an operator fixes it: a host no VM is on (the
    /// inventory read it by another URI: its VMs would never be restored), a wake-on rule that wakes nothing, an event
    /// log that cannot be written. The pass still runs on what is right (restores are never blocked).
    @Test func flagsThatNameNothingTheStoreKnowsAreFound() throws {
        let f = try Fixture()
        _ = try InventoryIngester(store: f.store).ingest(uri: Self.host, now: Self.now)
        var o = f.options(Self.now)
        o.hosts = [Self.host]
        #expect(try f.executor().misconfigurations(o).isEmpty)
        o.hosts = [Self.host, "qemu:///system"]
        o.eventLog = f.dir + "/no-such-dir/events.jsonl"
        let rules = ["web-01=up", "web-O1=up", "group=web=up", "group=wbe=up"].compactMap(PrometheusDemandSignal.Rule.parse)
        let signal = PrometheusDemandSignal(client: PrometheusClient(baseURL: URL(string: "http://127.0.0.1:1")!), rules: rules)
        let connection = f.connection
        let executor = Executor(store: f.store, load: FixedLoad(otherwise: 1), demand: signal, connect: { _ in connection })
        let problems = try executor.misconfigurations(o)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.first?.hasPrefix("--host qemu:///system: no VM of the store is on this host (it knows \(Self.host))") == true)
        #expect(problems.contains { $0.hasPrefix("--wake-on web-O1=up: no VM is named web-O1") })
        #expect(problems.contains { $0.hasPrefix("--wake-on group=wbe=up: no VM has the label group=wbe") })
        #expect(problems.last == "--event-log \(f.dir)/no-such-dir/events.jsonl: cannot be written (its directory \(f.dir)/no-such-dir: No such file or directory)")
        o.eventLog = f.dir
        #expect(try executor.misconfigurations(o).last == "--event-log \(f.dir): is a directory: give a file in it (e.g. \(f.dir)/events.jsonl)")
        // Each is an event in the log an alerting tool follows (when that log can be written).
        o.eventLog = f.dir + "/events.jsonl"
        executor.report(misconfigurations: Array(problems.prefix(1)), o)
        #expect(try String(contentsOfFile: f.dir + "/events.jsonl", encoding: .utf8).contains("\"event\":\"misconfigured\""))
        // The pass runs all the same on the host it knows, and a restore would; but while a wake-on rule names no VM (the
        // VM it was meant for would sleep without its signal) no hibernation starts, said.
        try f.plan(["web-01": 0..<6, "batch-01": 0..<6])
        let held = try executor.run(o)
        #expect(held.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["skipped batch-01", "skipped web-01"]
                && held.allSatisfy { $0.detail.contains("a --wake-on rule names no VM of the store: --wake-on web-O1=up: no VM is named web-O1") }, "\(held.map(\.text))")
    }

    @Test func pruningKeepsThePlansSleepingVMsDependOn() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<2], at: Self.now - 30 * 86_400)   // an old plan nobody depends on
        let plan = try f.plan(["web-01": 0..<10])
        try f.executor().run(f.options(Self.now))
        #expect(try Approvals.prune(olderThan: 0, now: Self.now + 3600, in: f.store).pruned == 1)
        let bodies = try f.store.read { try PlanRepository.headers(upTo: .max, in: $0) }.map { ($0.id, $0.pruned) }
        #expect(bodies.first { $0.0 == plan.id }?.1 == false, "the sleeping VM's plan keeps its body")
        let restoreAt = plan.actions.first { $0.action == .restore }!.at.seconds
        #expect(try f.executor().run(f.options(restoreAt)).map(\.event) == ["restored"])
    }

    /// A retention shorter than the plans' validity (`--keep 0`) keeps every plan still valid whole: emptied, the
    /// approved plan the executor follows would stop its hibernations.
    @Test func pruningKeepsThePlansStillValid() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<2], at: Self.now - 30 * 86_400)
        let plan = try f.plan(["web-01": 2..<10])
        #expect(try Approvals.prune(olderThan: 0, now: Self.now + 600, in: f.store) == (1, Self.now))
        #expect(try f.store.read { try DueActions.approvedPlan(now: Self.now + 600, in: $0) }?.plan.id == plan.id, "still followed")
        #expect(try Approvals.prune(olderThan: 0, now: plan.validUntil.seconds, in: f.store).pruned == 1, "expired: pruned")
    }

    @Test func restoresDueTogetherRunInSLAOrder() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<8, "ci-runner-01": 0..<8, "legacy-01": 0..<8],
                   tiers: "vms: {api-01: {tier: gold}, ci-runner-01: {tier: bronze}, legacy-01: {tier: silver}}")
        try f.executor().run(f.options(Self.now))
        let events = try f.executor().run(f.options(Self.at(8), concurrent: 1))
        #expect(events.map { $0.vm ?? "" } == ["api-01", "legacy-01", "ci-runner-01"])
    }

    /// Restores due in one pass run in the order the plan queued them, by deadline: a bronze VM due back an hour before a
    /// gold one goes first (by tier first, the gold restore went first and the bronze one came late, though one at a
    /// time both could be on time); a VM a person pinned (due now) goes before a planned restore due a minute later.
    @Test func restoresDueTogetherRunByTheirQueuedTimes() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<9, "ci-runner-01": 0..<8, "web-01": 0..<12], tiers: "vms: {api-01: {tier: gold}, ci-runner-01: {tier: bronze}}")
        try f.executor().run(f.options(Self.now))
        let pass = Self.at(9) - 60   // api-01's restore is due (its deadline a minute away), web-01's is not
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-01", until: nil, pinnedBy: "bob", pinnedAt: pass - 60), in: $0) }
        let events = try f.executor().run(f.options(pass, concurrent: 1))
        #expect(events.filter { $0.event == "restored" }.map { $0.vm ?? "" } == ["ci-runner-01", "web-01", "api-01"], "\(events.map(\.text))")
    }

    @Test func storedLoadReadsTheCollectorsNewestSampleAndRefusesStaleData() throws {
        let f = try Fixture()
        try f.cpu("web-01", [(Self.now - 900, 40), (Self.now - 300, 3)])
        let domain = try f.connection.domain(named: "web-01")
        #expect(try StoredLoad(store: f.store).demand(of: domain, at: Self.now) == 3)
        #expect(throws: StageError.self) { try StoredLoad(store: f.store, maxAge: 120).demand(of: domain, at: Self.now) }
        // Through the executor: stale load data holds the hibernation (said, as a busy VM's hold; the VM keeps running
        // and the action stays due for a run with fresh data).
        try f.plan(["web-01": 0..<6])
        let events = try Executor(store: f.store, load: StoredLoad(store: f.store, maxAge: 60), connect: { [connection = f.connection] _ in connection })
            .run(f.options(Self.now))
        #expect(events.first?.event == "skipped" && events.first?.detail.contains("missing is not idle") == true, "\(events.map(\.text))")
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now).contains("web-01: skipped since \(UTC.format(Self.now)): its CPU load could not be read"))
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
    }

    @Test func anIdleTimeoutHibernationWaitsUntilTheStoredDemandHasStayedLowForMinIdle() throws {
        let f = try Fixture()
        // Forecast calm (q0.9 at 10 %: under restore_above, over hibernate_below) for 8 h: only the idle timeout sleeps it.
        let plan = try f.plan(["web-01": 0..<8], idleLoad: [6, 10, 12], idleTimeout: true)
        let hibernation = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(hibernation.afterIdleSeconds == 7200 && hibernation.rationale.text.hasPrefix("idle timeout"))
        func every5min(_ from: EpochSeconds, _ to: EpochSeconds, _ value: Double) -> [(time: EpochSeconds, value: Double)] {
            stride(from: from, through: to, by: 300).map { ($0, value) }
        }
        // No samples: missing is not idle. The action stays due.
        var events = try f.executor().run(f.options(Self.now))
        #expect(events.map(\.event) == ["waiting"] && events[0].detail.contains("missing is not idle"))
        // Two hours of samples, but one at 30 % an hour ago: calm since 55 min only.
        try f.cpu("web-01", every5min(Self.now - 7200, Self.now, 2) .map { $0.time == Self.now - 3600 ? ($0.time, 30) : $0 })
        events = try f.executor().run(f.options(Self.now + 60))
        #expect(events.map(\.event) == ["waiting"] && events[0].detail.contains("has not stayed under 5.0 % for 2h"))
        #expect(try f.state("web-01") == .running && f.steps("web-01").isEmpty)
        // Still under 5 % until two hours after the busy sample: hibernated by the same action.
        try f.cpu("web-01", every5min(Self.now + 300, Self.now + 3600, 2))
        // The same wait for the same reason is not logged again by later runs (cron's, or --follow's passes); status
        // shows it, since when.
        #expect(try f.executor().run(f.options(Self.now + 3660)).isEmpty)
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now + 3660).contains(
            "hibernations held back on the last run:\n  web-01: waiting since \(UTC.format(Self.now + 60)): hibernate after 2h idle: demand has not stayed under 5.0 % for 2h yet"))
        try f.cpu("web-01", every5min(Self.now + 3900, Self.now + 3900, 2))
        events = try f.executor().run(f.options(Self.now + 3960))
        #expect(events.map(\.event) == ["hibernated"] && events[0].action == hibernation.id, "\(events)")
        #expect(try f.state("web-01") == .shutOff && f.power("web-01") == .hibernated)
        #expect(try f.store.read { try JournalRepository.held(in: $0) }.isEmpty)
    }

    /// A collector failing now and then (samples 25 minutes apart for the last three hours) does not make its gaps
    /// ordinary: what a gap is is measured against the week's usual spacing (5 minutes), so the wait is not met.
    @Test func anIdleTimeoutDoesNotTakeSparseSamplesForContinuousQuiet() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<8], idleLoad: [6, 10, 12], idleTimeout: true)
        #expect(plan.actions.first { $0.action == .hibernate }?.afterIdleSeconds == 7200)
        let usual = stride(from: Self.now - 3 * 86_400, through: Self.now - 3 * 86_400 + 7200, by: 300).map { (time: $0, value: 50.0) }
        let sparse = (0...7).map { (time: Self.now - Int64($0) * 1500, value: 2.0) }.reversed()
        try f.cpu("web-01", usual + sparse)
        let events = try f.executor().run(f.options(Self.now + 60))
        #expect(events.map(\.event) == ["waiting"] && events[0].detail.contains("has not stayed under 5.0 % for 2h"), "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running)
    }

    @Test func statusMarksASleepingDormantVM() throws {
        // Under the idle timeout, no measured demand in 200 known hours: its forecast's demand at 03:00 ends no sleep.
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<3], idleTimeout: true) { $0.quietHours = 200 }
        #expect(plan.actions.first { $0.action == .restore }?.deadlineCause == "dormant")
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated"])
        #expect(try ExecutionStatus.render(store: f.store, now: Self.now + 60).contains(
            "; dormant: its forecast's demand wakes it no more, its measured demand (a demand signal), an event, an operator or max_sleep does"))
    }

    @Test func aCarriedIdleWaitHoldsOnlyWhileTheVMStaysQuietSinceTheHourBeforeThePlans() throws {
        func every5min(_ from: EpochSeconds, _ to: EpochSeconds, _ value: Double) -> [(time: EpochSeconds, value: Double)] {
            stride(from: from, through: to, by: 300).map { ($0, value) }
        }
        // Quiet for 3 h before the plan (min_idle 2h), made at 00:30: its hibernation waits an hour of quiet, 2h once
        // busy again since 00:00.
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<8], at: Self.now + 1800, idleLoad: [6, 10, 12], idleTimeout: true) { $0.idleHours = 3 }
        let hibernation = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(hibernation.afterIdleSeconds == 3600 && hibernation.afterIdleOnceBusySeconds == 7200)
        #expect(hibernation.rationale.text.contains("for 1h since it last woke (3 h of its data under it since it was last over it, its sleeps not counted, "
                                                    + "make min_idle 2h; once over it again before it sleeps, for 2h)"), "\(hibernation.rationale.text)")
        // Busy at 00:05 (before the plan was made, after its hour began): an hour of quiet since is not enough.
        try f.cpu("web-01", every5min(Self.now - 3 * 3600, Self.now, 2) + [(Self.now + 300, 30)] + every5min(Self.now + 600, Self.now + 4500, 2))
        var events = try f.executor().run(f.options(Self.now + 4560))
        #expect(events.map(\.event) == ["waiting"], "\(events)")
        #expect(events.first?.detail.contains("has not stayed under 5.0 % for 2h yet (it reached it again since the plan counted its quiet") == true,
                "\(events.first?.detail ?? "")")
        #expect(try f.state("web-01") == .running)
        // Two hours of quiet since: hibernated.
        try f.cpu("web-01", every5min(Self.now + 4800, Self.now + 7800, 2))
        events = try f.executor().run(f.options(Self.now + 7860))
        #expect(events.map(\.event) == ["hibernated"], "\(events)")
        // Busy at 22:58, before the hour before the plan's (in the plan's history, as that hour's highest sample), then
        // quiet for 111 min at 00:51: the hour's wait holds (2h would not), and the pass hibernates it. Busy at 23:32
        // instead (in the hour before the plan's: a sample the plan may not have read), quiet for 76 min: it waits 2h.
        for (busy, event) in [(Self.now - 3700, "hibernated"), (Self.now - 1680, "waiting")] {
            let g = try Fixture()
            _ = try g.plan(["web-01": 0..<8], at: Self.now + 1800, idleLoad: [6, 10, 12], idleTimeout: true) { $0.idleHours = 3 }
            try g.cpu("web-01", [(busy, 30)] + every5min(Self.now - 3600, Self.now + 3000, 2).filter { $0.time > busy })
            #expect(try g.executor().run(g.options(Self.now + 3060)).map(\.event) == [event], "busy at \(UTC.format(busy))")
        }
    }

    @Test func forecastDemandThatDidNotComeIsFoundFromThePlansCallsAndTheStoredSamples() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<3], idleTimeout: true)
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated"])
        let restoreAt = try #require(plan.actions.first { $0.action == .restore }).at.seconds
        #expect(try f.executor().run(f.options(restoreAt)).map(\.event) == ["restored"])
        let restored = try #require(try f.store.read { try JournalRepository.recent(limit: 1, vm: "web-01", in: $0) }.first)
        #expect(restored.cause == "demand" && restored.step == .done)   // the journal keeps why the restore was due
        // Asleep, its forecast busy (q0.5 20 %, q0.9 40 %), it is not called for; the plan for 03:00 finds it running and
        // calls for demand in that hour, at the median and at its tier's quantile.
        let calls = { try f.store.read { try DemandCallRepository.calls(from: .min, to: .max, in: $0) }["web-01"] ?? [] }
        try f.plan(["web-01": 0..<0], at: Self.at(2), approve: false, asleep: ["web-01"], idleTimeout: true)
        #expect(try calls().isEmpty)
        try f.plan(["web-01": 0..<0], at: Self.at(3), approve: false, idleTimeout: true)
        try f.plan(["web-01": 0..<0], at: Self.at(3) + 600, approve: false, idleTimeout: true)   // planned twice: one call a quantile
        #expect(try calls() == [DemandCall(hour: Self.at(3), quantile: 0.5, forecast: 20), DemandCall(hour: Self.at(3), quantile: 0.9, forecast: 40)])
        // It runs at 12 % for two hours: over hibernate_below, under restore_above. The demand did not come.
        try f.cpu("web-01", stride(from: restoreAt, through: Self.at(5) + 300, by: 300).map { ($0, 12) })
        let policy = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 2h, idle_timeout: true}
            tiers: {silver: {quantile: 0.9, priority: 2}}
            """, source: "test")
        func unmet(_ policy: Policy, now: EpochSeconds) throws -> EpochSeconds? {
            try PlanningInputs.load(store: f.store, now: now, policy: policy, policySHA256: "t", forecaster: try DemandForecaster(store: f.store))
                .vms.first { $0.name == "web-01" }?.unmetDemandAt
        }
        // Counted from the first sample in the called hour.
        let proof = try #require(stride(from: restoreAt, through: Self.at(4), by: 300).first { $0 >= Self.at(3) }) + 7200
        #expect(try unmet(policy, now: Self.at(4)) == nil)   // not known an hour on
        // Judged on the samples up to the hour a plan is made in: the plan of 05:06 reads them up to 05:00, before the
        // proof; the plan of 06:06 has it.
        #expect(try unmet(policy, now: Self.at(5) + 360) == nil)
        #expect(try unmet(policy, now: Self.at(6) + 360) == proof)
        #expect(try unmet(.embeddedDefault, now: Self.at(6) + 360) == nil)   // without the idle timeout it is not looked at
        // torpor-execute status lists it with the policy that sets its forecast aside, not without one or under another.
        let line = "  web-01 until \(UTC.format(proof + Planner.distrustPeriod))"
        #expect(try ExecutionStatus.render(store: f.store, now: Self.at(6) + 360, policy: policy).contains("forecast set aside (forecast demand did not come; idle timeout only, a demand signal or an operator wakes them):\n" + line))
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.at(6) + 360).contains("forecast set aside"))
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.at(6) + 360, policy: .embeddedDefault).contains("forecast set aside"))
        // A policy whose calls claim more (demand at 25 %) does not judge the stored call (the median at 20 %), nor does
        // one that excludes the VM.
        for trial in ["restore_above: 25", "exclude: true"] {
            let other = try Policy.parse("""
                defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 2h, idle_timeout: true}
                tiers: {silver: {quantile: 0.9, priority: 2}}
                vms: {web-01: {\(trial)}}
                """, source: "test")
            #expect(try unmet(other, now: Self.at(6) + 360) == nil, "\(trial)")
            #expect(try !ExecutionStatus.render(store: f.store, now: Self.at(6) + 360, policy: other).contains("forecast set aside"), "\(trial)")
        }
        // The plan made on it sleeps the VM by the idle timeout, its forecast unused: restored at the horizon's end.
        let again = try f.plan(["web-01": 0..<0], at: Self.at(5) + 360, idleTimeout: true) { $0.unmetDemandAt = proof }
        let h = try #require(again.actions.first { $0.action == .hibernate })
        #expect(h.what == "hibernate after 2h idle" && again.action(h.pairedWith!)?.deadlineCause == "horizon-end")
        // At 12 % it waits; after two hours at 2 % it sleeps.
        #expect(try f.executor().run(f.options(Self.at(5) + 360)).map(\.event) == ["waiting"])
        try f.cpu("web-01", stride(from: Self.at(5) + 600, through: Self.at(7) + 900, by: 300).map { ($0, 2) })
        let sleep = try f.plan(["web-01": 0..<0], at: Self.at(7) + 960, idleTimeout: true) { $0.unmetDemandAt = proof }
        #expect(try f.executor().run(f.options(Self.at(7) + 960)).map(\.event) == ["hibernated"], "\(sleep.actions)")
        // Asleep, and awake again, the evidence stands; demand after the wake undoes it.
        #expect(try unmet(policy, now: Self.at(9)) == proof)
        #expect(try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(9))).map(\.event) == ["restored"])
        try f.cpu("web-01", [(Self.at(9) + 300, 3)])
        #expect(try unmet(policy, now: Self.at(9) + 600) == proof)
        try f.cpu("web-01", [(Self.at(9) + 600, 30)])
        #expect(try unmet(policy, now: Self.at(10)) == nil)
    }

    /// Room reserved in the pool for a sleep's image is given back when the VM is restored before its copy (a pool busy
    /// with its garbage collection, say): a `--follow` executor would otherwise hold it for a copy that never comes,
    /// and hold hibernations fleet-wide for a pool "too full" that is not.
    @Test func aRestoredVMsPoolRoomIsGivenBack() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        var options = f.options(Self.now)
        options.pool = (f.dir + "/pool", 3 << 30)
        options.managedSaveDirectory = f.dir + "/save"
        for directory in [f.dir + "/pool", f.dir + "/save"] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try Data("an image the test driver does not write".utf8).write(to: URL(fileURLWithPath: f.dir + "/save/web-01.save"))
        let collection = try FileLock(path: f.dir + "/pool/lock", wait: false)   // the pool's garbage collection, under way
        let executor = f.executor()
        let events = try executor.run(options)
        #expect(events.map(\.event) == ["hibernated", "not-pooled"] && events.last?.detail.contains("taken on a later pass") == true, "\(events.map(\.text))")
        #expect(executor.poolReservations["web-01"] == 2 << 30, "held for the copy of a later pass")
        options.now = Self.now + 60
        #expect(try executor.wake(vm: "web-01", by: "bob", options: options).map(\.event) == ["restored"])
        #expect(executor.poolReservations.isEmpty)
        withExtendedLifetime(collection) {}
    }

    /// The pool's room is checked with the images not copied yet counted: they are copied at the pass's end.
    @Test func theStatePoolsRoomCountsTheImagesStillToBeCopied() throws {
        let f = try Fixture()
        try f.plan(["api-01": 0..<6, "web-01": 0..<6])   // 2 GiB of memory each
        var options = f.options(Self.now)
        options.pool = (f.dir + "/pool", 3 << 30)
        options.managedSaveDirectory = f.dir + "/save"   // the test driver writes no image: each copy is refused, said once
        let events = try f.executor().run(options)
        #expect(events.map { "\($0.event) \($0.vm ?? "")" } == ["hibernated api-01", "skipped web-01", "not-pooled api-01"], "\(events.map(\.text))")
        #expect(events.first { $0.vm == "web-01" }?.detail.contains("the state pool is too full") == true)
        #expect(try f.state("web-01") == .running)
        // Images a killed restore from the pool left beside libvirt's are collected after a day; libvirt's own stay.
        let save = f.dir + "/save/"
        try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true)
        let left = ["db-01.torpor-restore": 2, "api-01.torpor-restore.torpor-partial": 2, "web-02.torpor-restore": 0, "restore-x.save": 2]
        for (name, days) in left {
            #expect(FileManager.default.createFile(atPath: save + name, contents: Data([1])))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -86_400 * Double(days) - 60)], ofItemAtPath: save + name)
        }
        _ = try f.executor().run(options)
        #expect(try FileManager.default.contentsOfDirectory(atPath: save).sorted() == ["restore-x.save", "web-02.torpor-restore"])
    }

    /// A wake killed after its intent, for a VM torpor has running but libvirt has saved (what `wake` is for): the
    /// next pass finishes it, whatever the power record says.
    @Test func anInterruptedWakeOfAVMRecordedRunningIsFinished() throws {
        let f = try Fixture()
        try f.connection.domain(named: "legacy-01").managedSave()
        try f.store.transaction { db in
            try JournalRepository.setPower(PowerRecord(vm: "legacy-01", host: Self.host, state: .running, since: Self.now - 3600, actionID: "earlier"), in: db)
            try JournalRepository.append(JournalEntry(actionID: UnplannedWake.wake.actionID(vm: "legacy-01", at: Self.now), planID: nil, vm: "legacy-01",
                                                      host: Self.host, kind: .restore, step: .intent, at: Self.now, detail: "woken by bob", deadline: Self.now), in: db)
        }
        let events = try f.executor().run(f.options(Self.now + 60))
        #expect(events.contains { $0.event == "restored" && $0.vm == "legacy-01" }, "\(events.map(\.text))")
        #expect(try f.state("legacy-01") == .running)
    }

    @Test func aVMHeldUpHoldsUpOnlyItselfAndNeverTwoExecutorsActOnOneVM() throws {
        let f = try Fixture()
        let me = "pid \(ProcessInfo.processInfo.processIdentifier)"
        let stuck = "qemu+ssh://stuck/system"
        let locks = VMLocks(store: f.store.path)
        do {
            let held = try locks.take("web-01")
            let error = #expect(throws: FileLock.Failure.self) { _ = try locks.take("web-01") }
            #expect(error.map { "\($0)" }?.contains(me) == true, "the message names the holder")
            let other = try locks.take("web-02")   // another VM: side by side
            // The same store reached through a symbolic link: the same locks.
            try FileManager.default.createSymbolicLink(atPath: f.dir + "/linked.db", withDestinationPath: f.store.path)
            #expect(throws: FileLock.Failure.self) { _ = try VMLocks(store: f.dir + "/linked.db").take("web-01") }
            withExtendedLifetime((held, other)) {}
        }
        _ = try locks.take("web-01")   // released with its holder
        let long = String(repeating: "仮想", count: 40)   // 240 bytes, 720 spelled out
        #expect(Set(["a/b", "a_b", "a_2Fb", "a b", "../x", long, long + "x"].map(VMLocks.fileName)).count == 7, "two names never share a lock file")
        #expect(VMLocks.fileName(long).utf8.count < 255)
        _ = try locks.take(long)

        // Another executor acts on web-02: this one restores web-01 and leaves web-02 to it, then restores it once free.
        let plan = try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated", "hibernated"])
        let restoreAt = try #require(plan.actions.first { $0.action == .restore }).at.seconds
        let executor = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), locks: locks, connect: { [connection = f.connection] _ in connection })
        do {
            let other = try locks.take("web-02")
            // A dry run says the same, and holds no lock once it has looked.
            var dry = f.options(restoreAt)
            dry.dryRun = true
            #expect(try executor.run(dry).map { "\($0.event) \($0.vm ?? "")" } == ["would-restore web-01", "skipped web-02"])
            _ = try locks.take("web-01")
            let events = try executor.run(f.options(restoreAt))
            // The two run side by side: their lines come in either order.
            #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["restored web-01", "skipped web-02"], "\(events.map(\.text))")
            #expect(events.first { $0.vm == "web-02" }?.detail.contains(me) == true)
            #expect(try f.power("web-02") == .hibernated)
            withExtendedLifetime(other) {}
        }
        #expect(try executor.run(f.options(restoreAt + 30)).map { "\($0.event) \($0.vm ?? "")" } == ["restored web-02"])

        // A host held up: web-01 sleeps again on the test host; db-09 sleeps on a host whose libvirtd takes the
        // connection and never answers (until `release`), its restore owed at once (no plan holds one).
        let later = try f.plan(["web-01": 0..<6], at: Self.at(24))
        #expect(try f.executor().run(f.options(Self.at(24))).map(\.event) == ["hibernated"])
        try f.store.transaction { try JournalRepository.setPower(PowerRecord(vm: "db-09", host: stuck, state: .hibernated, since: Self.now, actionID: "by-hand"), in: $0) }
        final class Gate: @unchecked Sendable {
            private let lock = NSLock()
            private var open = false
            func release() { lock.withLock { open = true } }
            func wait() { while !lock.withLock({ open }) { Thread.sleep(forTimeInterval: 0.01) } }
        }
        struct HostDown: Error {}
        let gate = Gate(), connection = f.connection
        let connect: @Sendable (String) throws -> VirtConnection = { host in
            guard host == stuck else { return connection }
            gate.wait()
            throw HostDown()
        }
        let first = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), locks: locks, connect: connect)
        let wakeAt = try #require(later.actions.first { $0.action == .restore }).at.seconds
        // The run is held up on the stuck host: web-01 comes back all the same, and the run returns after its wait (long
        // enough for the test host's restore and its journal on a loaded machine: it is the stuck host that is waited out).
        #expect(try first.run(f.options(wakeAt), waitAtMost: 15).map { "\($0.event) \($0.vm ?? "")" } == ["restored web-01"])
        #expect(try f.state("web-01") == .running)
        // A later pass of the same executor, and another executor, leave the held VM alone and say so.
        let again = try first.run(f.options(wakeAt + 60), waitAtMost: 5)
        #expect(again.map { "\($0.event) \($0.vm ?? "")" } == ["skipped db-09"] && again.first?.detail.contains("an earlier pass") == true,
                "\(again.map(\.text))")
        let second = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), locks: locks, connect: connect)
        let other = try second.run(f.options(wakeAt + 120))
        #expect(other.map { "\($0.event) \($0.vm ?? "")" } == ["skipped db-09"] && other.first?.detail.contains(me) == true, "\(other.map(\.text))")
        // Its libvirtd answers at last (a refusal): the held restore ends, its lock with it, and the next run serves it.
        gate.release()
        let deadline = Date().addingTimeInterval(10)
        while (try? locks.take("db-09")) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let served = try second.run(f.options(wakeAt + 180))
        #expect(served.map { "\($0.event) \($0.vm ?? "")" } == ["failed db-09"], "\(served.map(\.text))")
        #expect(try f.power("db-09") == .hibernated, "never closed while the host cannot tell")
    }

    /// `check` names what needs a person, whatever the cause: a due restore whose last attempt failed (its host down),
    /// a VM asleep past its restore's deadline, a pin on a sleeper no executor served, an action left started; the same
    /// problem reads the same on the next check (a watch notifies once), and nothing is left once the executor catches up.
    @Test func checkNamesWhatNeedsAPerson() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        try f.executor().run(f.options(Self.now))
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600).isEmpty)
        let restore = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .restore })
        let deadline = try #require(restore.deadline).seconds
        struct HostDown: Error {}
        _ = try Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { _ in throw HostDown() }).run(f.options(restore.at.seconds))
        let failing = try ExecutionCheck.problems(store: f.store, now: restore.at.seconds + 60, grace: 600)
        #expect(failing.map(\.vm) == ["web-01", "web-02"] && failing.allSatisfy { $0.text.contains(": restore failing, deadline \(UTC.format(deadline)); its last restore failed: ") },
                "\(failing)")
        // Failing again on the next pass: the same words (a watch tells it once).
        _ = try Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { _ in throw HostDown() }).run(f.options(restore.at.seconds + 120))
        #expect(try ExecutionCheck.problems(store: f.store, now: restore.at.seconds + 180, grace: 600) == failing)
        let overdue = try ExecutionCheck.problems(store: f.store, now: deadline + 601, grace: 600)
        #expect(overdue.first?.text.hasPrefix("web-01 on \(Self.host): ASLEEP past its restore: deadline \(UTC.format(deadline)) (\(restore.id)); its last restore failed: ") == true,
                "\(overdue)")
        #expect(try ExecutionCheck.problems(store: f.store, now: deadline + 3600, grace: 600) == overdue, "the same words while nothing changes")
        _ = try f.executor().run(f.options(deadline + 3600))
        #expect(try ExecutionCheck.problems(store: f.store, now: deadline + 3660, grace: 600).isEmpty, "the executor caught up")
        // Asleep again, then pinned while no executor runs: due at once from the pin; a save left started is said too.
        let later = Self.at(24)
        try f.plan(["web-01": 0..<6], at: later)
        #expect(try f.executor().run(f.options(later)).map(\.event) == ["hibernated"])
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-01", until: nil, pinnedBy: "carol", pinnedAt: later + 600), in: $0) }
        try f.executor().journal(JournalEntry(actionID: "stuck", planID: nil, vm: "web-02", host: Self.host, kind: .hibernate, step: .started, at: later + 600))
        #expect(try ExecutionCheck.problems(store: f.store, now: later + 1200, grace: 600).isEmpty, "within the grace")
        #expect(try ExecutionCheck.problems(store: f.store, now: later + 1201, grace: 600).map(\.text) == [
            "web-01 on \(Self.host): ASLEEP past its restore: restore due since \(UTC.format(later + 600)) (pinned by carol: keep awake)",
            "web-02 on \(Self.host): hibernate stuck started at \(UTC.format(later + 600)) and not finished (an executor stopped in it, or libvirt has not answered; the next run reconciles it)",
        ])
    }

    /// A store that has had plans but none for longer than the silence allowed (the hourly job stopped or failing) is
    /// named: the VMs asleep keep their approved restores, but torpor quietly plans nothing new. A store that never had
    /// a plan is named once the silence has passed since its first ingest (an hourly job failing from its first run);
    /// an empty one is not; a replay sees the plans made by then.
    @Test func checkNamesAStoreWithoutARecentPlan() throws {
        let f = try Fixture()
        func problems(_ now: EpochSeconds, replaying: Bool = false) throws -> [String] {
            try ExecutionCheck.problems(store: f.store, now: now, grace: 600, planSilence: 3 * 3600, replaying: replaying).filter { $0.kind == .noRecentPlan }.map(\.text)
        }
        #expect(try problems(Self.now + 86_400).isEmpty, "nothing ingested, no plan: an empty store")
        _ = try f.store.transaction { db in   // a calendar's history, ingested by hand before the jobs start: not counted
            try SourceRepository.insert(SourceRecord(kind: "icalendar", location: "/cal.ics", contentSHA256: "cal", rows: 1, inserted: 1, duplicates: 0,
                                                     firstTime: nil, lastTime: nil, warnings: [], ingestedAt: Self.now - 86_400),
                                        report: [String: String](), contributions: [:], in: db)
        }
        #expect(try problems(Self.now).isEmpty, "a calendar ingested a day before the jobs began")
        let firstIngest = Self.now - 4 * 3600
        _ = try f.store.transaction { db in
            try SourceRepository.insert(SourceRecord(kind: "libvirt", location: Self.host, contentSHA256: "first", rows: 1, inserted: 1, duplicates: 0,
                                                     firstTime: firstIngest, lastTime: firstIngest, warnings: [], ingestedAt: firstIngest),
                                        report: [String: String](), contributions: [:], in: db)
        }
        #expect(try problems(firstIngest + 3 * 3600).isEmpty, "never planned, within 3 h of the first ingest")
        #expect(try problems(firstIngest + 3 * 3600 + 1) == ["\(f.store.path): NO PLAN YET: none made since the first libvirt collection at \(UTC.format(firstIngest)), for over 3h "
                                                             + "(the hourly job, torpor-plan make, stopped or failing: see its log); the VMs asleep keep their "
                                                             + "approved restores, but no new hibernation is planned"])
        _ = try f.plan(["web-01": 0..<6], approve: false)
        #expect(try problems(Self.now + 3 * 3600).isEmpty, "within 3 h")
        let silent = try problems(Self.now + 3 * 3600 + 1)
        #expect(silent == ["\(f.store.path): NO PLAN since \(UTC.format(Self.now)): none made for over 3h (the hourly job, torpor-plan make, stopped or "
                           + "failing: see its log); the VMs asleep keep their approved restores, but no new hibernation is planned"], "\(silent)")
        #expect(try problems(Self.now + 10 * 3600) == silent, "the same words while it lasts")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 10 * 3600, grace: 600).allSatisfy { $0.kind != .noRecentPlan }, "0: not checked")
        _ = try f.plan(["web-01": 0..<6], at: Self.now + 4 * 3600, approve: false)
        #expect(try problems(Self.now + 5 * 3600).isEmpty, "planned again")
        #expect(try problems(Self.now + 3 * 3600 + 1, replaying: true) == silent, "a replay sees the plans made by then")
    }

    /// A host whose libvirt collections stop (the 5-minute collector failing, its host unreachable) is named once it has
    /// had none for longer than the silence allowed: its VMs would be planned from stale data and kept running, torpor
    /// saving nothing there without anyone knowing. A replay sees the collections made by then; a host let go of
    /// (`torpor-ingest release` of its VMs) is not named.
    @Test func checkNamesAHostTheCollectorNoLongerCollects() throws {
        let f = try Fixture()
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: Self.now)
        let held = try f.store.read { try VMRepository.all(in: $0) }.filter { $0.hostURI == Self.host }.count
        #expect(held > 0)
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1800, grace: 600).isEmpty, "within 30 min")
        let silent = try ExecutionCheck.problems(store: f.store, now: Self.now + 1801, grace: 600)
        #expect(silent.map(\.text) == ["\(Self.host): NO COLLECTION since \(UTC.format(Self.now)): the libvirt collector (torpor-ingest libvirt) has stored "
                                       + "none for over 30 min; its \(held) VMs are planned from stale data and kept running (see its log; "
                                       + "`torpor-ingest release VM` for a host gone for good)"])
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 7200, grace: 600) == silent, "the same words while it lasts")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 7200, grace: 600, collectorSilence: 0).isEmpty, "not checked")
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: Self.now + 7200)
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 7260, grace: 600).isEmpty, "collected again")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 3600, grace: 600, replaying: true) == silent,
                "a replay at a past now sees only the collections made by then")
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: Self.now + 60)   // a replay at a past --now, ingested later
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 7260, grace: 600).isEmpty, "the latest collection by its time, not by its row")
        try f.store.transaction { db in for vm in try VMRepository.all(in: db) { try VMRepository.release(vm.name, in: db) } }
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 9999, grace: 600).isEmpty, "a host holding no VM any more")
    }

    /// A sleep on a host no collection has read, in a store the collector feeds (a restore --onto a host the jobs do not
    /// list), is named at once: an executor given the collector's hosts never restores it. Not in a store no collector
    /// feeds (a replay's, a CSV's), nor on a host collected.
    @Test func checkNamesASleepOnAHostNoCollectionReads() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        #expect(try f.executor().run(f.options(Self.now)).map(\.event) == ["hibernated"])
        try f.store.transaction { try $0.execute(sql: "UPDATE power SET host = 'test:///elsewhere' WHERE vm = 'web-01'") }
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600).isEmpty, "no collector feeds the store")
        _ = try DomainStatsIngester(store: f.store).collect(uri: Self.host, now: Self.now + 30)
        let named = try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600)
        #expect(named.map(\.kind) == [.asleepOnUncollectedHost] && named.first?.text.hasPrefix("web-01 on test:///elsewhere: ASLEEP ON A HOST NO COLLECTION READS since ") == true,
                "\(named.map(\.text))")
        try f.store.transaction { try $0.execute(sql: "UPDATE power SET host = ? WHERE vm = 'web-01'", arguments: [Self.host]) }
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600).isEmpty, "on a host collected")
    }

    /// Reconciling closes a hibernation a killed run left open once it can no longer be the VM's sleep: its plan no
    /// longer starts it, or a later action has put the VM to sleep (taken as done, it would hand the VM's restore back
    /// to its older plan's); one whose save left the VM off without a saved state starts the VM again.
    @Test func reconcilingClosesStaleHibernationsAndStartsAVMLeftOff() throws {
        let f = try Fixture()
        try f.executor().journal(JournalEntry(actionID: "old/web-01", planID: "old", vm: "web-01", host: Self.host, kind: .hibernate, step: .started, at: Self.now - 600))
        let plan = try f.plan(["web-01": 0..<6])
        let sleep = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        let first = try f.executor().run(f.options(Self.now))
        #expect(first.map { "\($0.event) \($0.vm ?? "")" } == ["reconciled web-01", "hibernated web-01"], "\(first.map(\.text))")
        #expect(first[0].detail.contains("its plan no longer starts it"))
        #expect(try f.steps("web-01") == ["hibernate:started", "hibernate:skipped", "hibernate:intent", "hibernate:started", "hibernate:done"])
        // An older save left open while the VM now sleeps by the plan's action: closed, the plan's sleep stands.
        try f.executor().journal(JournalEntry(actionID: "older/web-01", planID: nil, vm: "web-01", host: Self.host, kind: .hibernate, step: .intent, at: Self.now - 300))
        let second = try f.executor().run(f.options(Self.now + 60))
        #expect(second.map(\.event) == ["reconciled"] && second[0].detail.contains("a later action (\(sleep.id)) has acted on the VM since"), "\(second.map(\.text))")
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.actionID == sleep.id)
        #expect(try f.store.read { try DueActions.owedRestores(now: Self.now + 60, in: $0) }.map(\.actionID) == [sleep.pairedWith])
        // A save that stopped the VM without a saved state (its QEMU died) and a killed run: the VM runs again.
        try f.executor().journal(JournalEntry(actionID: "lost/web-02", planID: nil, vm: "web-02", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        try f.connection.domain(named: "web-02").destroy()
        let third = try f.executor().run(f.options(Self.now + 120))
        #expect(third.map { "\($0.event) \($0.vm ?? "")" } == ["failed web-02"] && third[0].detail.contains("off without a saved state; started again"),
                "\(third.map(\.text))")
        #expect(try f.state("web-02") == .running)
    }

    /// A guest shut down between the pre-flight and the save (the save finds it not running; libvirt's reason:
    /// shutdown) is left off: torpor's save did not stop it, so it is not started again; check names it for a day (a
    /// VM down near torpor's action is for a person to see).
    @Test func aGuestShutDownBeforeTheSaveIsNotStarted() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let events = try f.run(Self.now) { [connection = f.connection] in try connection.domain(named: "web-01").shutdown() }
        let failed = try #require(events.first { $0.vm == "web-01" })
        #expect(failed.event == "failed" && failed.detail.contains("it was shut down meanwhile (libvirt's reason: shutdown"), "\(events.map(\.text))")
        #expect(try f.state("web-01") == .shutOff, "not started again")
        let named = try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600).filter { $0.vm == "web-01" }
        #expect(named.map(\.kind) == [.downAfterHibernation], "\(named.map(\.text))")
    }

    /// A VM paused between the pre-flight and the save (a person's suspend while the load was read) is not saved: its
    /// hibernation is closed as skipped, the VM left paused with no saved image, and no restore is owed.
    @Test func aVMPausedBeforeTheSaveIsNotSaved() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let events = try f.run(Self.now) { [connection = f.connection] in try connection.domain(named: "web-01").suspend() }
        let skipped = try #require(events.first { $0.vm == "web-01" })
        #expect(skipped.event == "skipped" && skipped.detail == "the VM was paused after the pre-flight: not saved, left paused", "\(events.map(\.text))")
        #expect(try f.state("web-01") == .paused && !f.connection.domain(named: "web-01").hasManagedSaveImage())
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.state != .hibernated)
        #expect(try f.executor().run(f.options(Self.now + 300)).allSatisfy { $0.vm != "web-01" }, "closed: not tried again")
        // A journal that refuses the skip: the pause stays (a failed save's resume is not for it); the intent left open
        // is closed by the next run, the VM untouched.
        try f.plan(["api-01": 0..<6], at: Self.now + 600)
        try f.store.transaction {
            try $0.execute(sql: """
                CREATE TRIGGER refuse_skip BEFORE INSERT ON journal WHEN NEW.vm = 'api-01' AND NEW.step = 'skipped'
                BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END
                """)
        }
        let refused = try f.run(Self.now + 600) { [connection = f.connection] in try connection.domain(named: "api-01").suspend() }
        #expect(refused.contains { $0.vm == "api-01" && $0.event == "skipped" && $0.detail.contains("the journal did not record it") }, "\(refused.map(\.text))")
        #expect(try f.state("api-01") == .paused)
        try f.store.transaction { try $0.execute(sql: "DROP TRIGGER refuse_skip") }
        let reconciled = try f.executor().run(f.options(Self.now + 900)).filter { $0.vm == "api-01" }
        #expect(reconciled.map(\.event) == ["reconciled"] && reconciled[0].detail.contains("torpor's save was never called"), "\(reconciled.map(\.text))")
        #expect(try f.state("api-01") == .paused && !f.connection.domain(named: "api-01").hasManagedSaveImage())
    }

    /// A sleeping VM whose own domain a collection found running on another host (started there without its memory) is
    /// not restored where it slept (memory older than the disks that copy wrote), from that first collection on (no rate,
    /// no sample yet), and still once that copy stopped and its host's inventory placed it back: its restore fails, saying
    /// what a person may do, check names it, and a wake of every VM leaves it;
    /// a person's wake of it alone restores it. Placed on another host without running there: restored as usual.
    @Test func aSleepingVMStartedOnAnotherHostIsNotRestoredBesideIt() throws {
        let f = try Fixture()
        _ = try InventoryIngester(store: f.store).ingest(uri: Self.host, now: Self.now - 600)   // the domains' UUIDs
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        _ = try f.executor().run(f.options(Self.now))
        #expect(try f.state("web-01") == .shutOff && f.state("web-02") == .shutOff)
        // Host b has web-01's own domain (its UUID) and runs it; web-02 is only placed on host c.
        let fleet = try String(contentsOfFile: Self.repository + "/sample-data/fleet.xml", encoding: .utf8).components(separatedBy: "</node>")[0]
        let blocks = fleet.components(separatedBy: "  <domain type='test'>")
        let b = "test://" + f.dir + "/b.xml", c = "qemu+ssh://c/system"
        let web01 = try #require(blocks.first { $0.contains("<name>web-01</name>") })
        func hostB(_ domain: String) throws {
            try (blocks[0] + "  <domain type='test'>" + domain + "</node>\n").write(toFile: f.dir + "/b.xml", atomically: true, encoding: .utf8)
        }
        try hostB(web01)
        _ = try DomainStatsIngester(store: f.store).collect(uri: b, now: Self.at(2))
        #expect(try f.store.read { try VMRepository.host(of: "web-01", in: $0) } == b, "the collector took it for a migration")
        // Then that copy stopped (listed shut off there), and web-01's host's inventory placed it back: it ran all the same.
        try hostB(web01.replacingOccurrences(of: "</os>", with: "</os><test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>"))
        _ = try DomainStatsIngester(store: f.store).collect(uri: b, now: Self.at(3))
        try f.store.transaction { db in
            try VMRepository.setHost(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hostURI: Self.host, in: db)
            try VMRepository.setHost(vm: try VMRepository.id(of: "web-02", in: db, now: Self.now), hostURI: c, in: db)
        }
        var dryRun = f.options(Self.at(6))
        dryRun.dryRun = true
        let shown = try f.executor().run(dryRun)
        #expect(shown.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["skipped web-01", "would-restore web-02"], "a dry run shows the hold: \(shown.map(\.text))")
        let events = try f.executor().run(f.options(Self.at(6)))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["failed web-01", "restored web-02"], "\(events.map(\.text))")
        #expect(shown.first { $0.vm == "web-01" }?.detail == events.first { $0.vm == "web-01" }?.detail)
        #expect(events.first { $0.vm == "web-01" }?.detail == "restore: web-01 was found running on \(b) while asleep here (started there without its memory): not "
                + "restored here, where it would run as a second copy with memory older than its disks. A person decides: keep \(b)'s copy (on \(Self.host): "
                + "virsh undefine --managed-save web-01; then torpor-execute forget web-01, with --discard-saved-state if the state pool holds this sleep); or, "
                + "only if that copy ran on disks of its own, never on this sleep's, stop it, then torpor-execute wake web-01")
        #expect(try f.state("web-01") == .shutOff && f.connection.domain(named: "web-01").hasManagedSaveImage())
        let named = try ExecutionCheck.problems(store: f.store, now: Self.at(6) + 60, grace: 600).filter { $0.vm == "web-01" }
        #expect(named.map(\.kind) == [.restoreHeld] && named[0].text.contains("RESTORE HELD FOR A PERSON") && named[0].text.contains("started there without its memory")
                && !named[0].text.contains("tries again"), "\(named.map(\.text))")
        // (On its host alone: this fixture answers for every host with one connection, where web-01 is saved.)
        let all = try f.executor().wakeAll(by: "bob", options: { var o = f.options(Self.at(6) + 90); o.hosts = [Self.host]; return o }())
        #expect(try all.notWoken.contains { $0.vm == "web-01" } && !all.events.contains { $0.event == "restored" && $0.vm == "web-01" } && f.state("web-01") == .shutOff,
                "a wake of every VM leaves it: \(all.events.map(\.text))")
        // A pin keeps a VM up; it is no person's decision about a second copy: pinned, not woken, the hold said.
        let pinned = #expect(throws: ExecuteError.self) { try f.executor().pin(vm: "web-01", until: nil, by: "carol", options: f.options(Self.at(6) + 100)) }
        #expect(pinned?.kind == .needsPerson && pinned?.description.contains("web-01 is pinned but not woken now") == true
                && pinned?.description.contains("was found running on \(b)") == true && pinned?.description.contains("a person decides: the executor's passes do not restore it either") == true,
                "\(String(describing: pinned))")
        #expect(try f.state("web-01") == .shutOff)
        #expect(try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(6) + 120)).map(\.event) == ["restored"])
        #expect(try f.state("web-01") == .running)
    }

    /// The hold reaches back to the save's intent: a copy started on another host while the save ran (an HA tool seeing
    /// the VM paused) wrote the disks after the memory kept, though before the sleep's record. A run there that ended
    /// before the intent (the VM migrated here, then slept) holds nothing. A wake of every VM that a kill interrupted is
    /// finished as one of many: held too.
    @Test func aCopyStartedElsewhereWhileTheSaveRanHoldsTheRestore() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        _ = try f.executor().run(f.options(Self.now))
        let b = "qemu+ssh://b/system"
        try f.store.transaction { db in
            // A save of a minute (the test driver's takes none): the sleep's record ends then.
            try db.execute(sql: "UPDATE power SET since = since + 60 WHERE vm = 'web-01'")
            try DomainRuns.record(host: b, domain: "web-01", now: Self.now + 30, previous: nil, in: db)
            try DomainRuns.record(host: b, domain: "web-02", now: Self.now - 300, previous: nil, in: db)
        }
        let events = try f.executor().run(f.options(Self.at(6)))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["failed web-01", "restored web-02"], "\(events.map(\.text))")
        #expect(events.first { $0.vm == "web-01" }?.detail.hasPrefix("restore: web-01 was found running on \(b) while asleep here") == true)
        // A wake --all killed after its intent: the next pass finishes it as one of many, held.
        let wake = UnplannedWake.wakeOfMany(vm: "web-01", at: Self.at(6) + 60)
        try f.store.transaction { db in
            _ = try JournalRepository.append(JournalEntry(actionID: wake, planID: nil, vm: "web-01", host: Self.host, kind: .restore, step: .intent,
                                                      at: Self.at(6) + 60, detail: "woken by bob: every VM", deadline: Self.at(6) + 60), in: db)
        }
        let resumed = try f.executor().run(f.options(Self.at(6) + 120))
        #expect(try resumed.filter { $0.vm == "web-01" }.map(\.event) == ["reconciled", "failed"] && f.state("web-01") == .shutOff, "\(resumed.map(\.text))")
    }

    /// A sleep whose domain is gone from its host (undefined while it slept) fails its restore each pass, and check
    /// says how to end it; `forget` ends its record: owed no restore, check quiet about it. Refused while libvirt still
    /// has the domain (a wake is what it needs), and for a VM not asleep.
    @Test func aSleepWhoseDomainIsGoneIsForgotten() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6])
        let pooled = try f.pooledOptions(Self.now, images: ["web-01"])   // its memory in the state pool too
        try f.executor().run(pooled)
        #expect(try f.state("web-01") == .shutOff && f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.manifestID != nil)
        let there = #expect(throws: ExecuteError.self) { try f.executor().forget(vm: "web-01", by: "carol", hostGone: false, discardSavedState: false, options: f.options(Self.now + 60)) }
        #expect(there?.kind == .badInput && there?.message.contains("libvirt on \(Self.host) still has web-01") == true, "\(String(describing: there))")
        try f.connection.domain(named: "web-01").undefine()
        _ = try f.executor().run(f.options(Self.at(6)))
        let failing = try ExecutionCheck.problems(store: f.store, now: Self.at(6) + 60, grace: 600).filter { $0.vm == "web-01" }.map(\.text)
        #expect(failing.count == 1 && failing[0].contains("restore failing") && failing[0].contains("torpor-execute forget web-01 ends the sleep's record"), "\(failing)")
        // The pool holds its memory (libvirt's image went with the domain): kept unless a person discards it.
        let kept = #expect(throws: ExecuteError.self) { try f.executor().forget(vm: "web-01", by: "carol", hostGone: false, discardSavedState: false, options: f.options(Self.at(6) + 90)) }
        #expect(kept?.kind == .badInput && kept?.message.contains("the state pool holds web-01's memory of this sleep") == true, "\(String(describing: kept))")
        let said = try f.executor().forget(vm: "web-01", by: "carol", hostGone: false, discardSavedState: true, options: f.options(Self.at(6) + 120))
        #expect(said.hasPrefix("forgotten by carol: libvirt on \(Self.host) has no domain web-01 (undefined, or moved while it slept)"), "\(said)")
        #expect(try f.store.read { try JournalRepository.power(in: $0)["web-01"]?.state } == .running)
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.at(8), grace: 600).allSatisfy { $0.vm != "web-01" }, "owed no restore")
        #expect(try f.executor().run(f.options(Self.at(8))).allSatisfy { $0.vm != "web-01" }, "no restore tried")
        let awake = #expect(throws: ExecuteError.self) { try f.executor().forget(vm: "web-01", by: "carol", hostGone: false, discardSavedState: false, options: f.options(Self.at(8))) }
        #expect(awake?.kind == .nothingToDo && awake?.message.contains("web-01 is not asleep in torpor's record") == true)
        // A host that does not answer: refused (its VM may well be there), unless a person says the host is gone; a
        // domain still there is never forgotten, --host-gone or not.
        try f.plan(["web-02": 0..<6], at: Self.at(9))
        try f.executor().run(f.options(Self.at(9)))
        struct NoAnswer: Error {}
        let unreachable = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { _ in throw NoAnswer() })
        let unsure = #expect(throws: ExecuteError.self) { try unreachable.forget(vm: "web-02", by: "carol", hostGone: false, discardSavedState: false, options: f.options(Self.at(10))) }
        #expect(unsure?.kind == .runtime && unsure?.message.contains("cannot say whether web-02 is there") == true, "\(String(describing: unsure))")
        let present = #expect(throws: ExecuteError.self) { try f.executor().forget(vm: "web-02", by: "carol", hostGone: true, discardSavedState: false, options: f.options(Self.at(10))) }
        #expect(present?.kind == .badInput && present?.message.contains("still has web-02") == true)
        #expect(try f.store.read { try JournalRepository.power(in: $0)["web-02"]?.state } == .hibernated)
        #expect(try unreachable.forget(vm: "web-02", by: "carol", hostGone: true, discardSavedState: false, options: f.options(Self.at(10)))
            .hasPrefix("forgotten by carol: \(Self.host) is gone for good, said carol"))
        // Its hours end at the forget: the history no longer reads it asleep after it.
        #expect(try f.store.read { try JournalRepository.hibernatedIntervals(vm: "web-02", from: Self.at(9), now: Self.at(12), in: $0) }.map(\.upperBound) == [Self.at(10)])
    }

    /// A restore onto another host is of a sleep only, from the pool, and never while the host it slept on still has the
    /// domain (two copies would run), the VM ran on some host since the sleep (the pool's memory is older than its disks),
    /// an action is left open on a third host, or the new host does not have the VM
    /// defined and shut off (started there without its memory): refused, nothing changed. Allowed, it closes what a run
    /// left open on the old host (that host coming back must finish none of it) and places the sleep and the VM on the
    /// new host before libvirt acts: a restore that fails there is tried there again by the next pass. Onto the host it
    /// slept on: the plain restore.
    @Test func aRestoreOntoAnotherHostIsRefusedUnlessItCanBeTheOnlyCopy() throws {
        let f = try Fixture()
        try f.store.transaction { try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: $0, now: Self.now), hostURI: Self.host, labels: [:], in: $0) }
        try f.plan(["web-01": 0..<6, "api-01": 0..<6])
        try f.executor().run(try f.pooledOptions(Self.now, images: ["web-01"]))   // api-01's image never reached the pool
        // A restore a run left open on the host web-01 slept on.
        let left = JournalEntry(actionID: "wake:web-01:left", planID: nil, vm: "web-01", host: Self.host, kind: .restore, step: .intent, at: Self.now + 30, detail: "woken")
        try f.executor().journal(left)
        let later = try f.pooledOptions(Self.now + 60, images: [])
        func refused(_ vm: String, onto: String, by executor: Executor? = nil) -> ExecuteError? {
            #expect(throws: ExecuteError.self) { try (executor ?? f.executor()).wake(vm: vm, by: "carol", fromPool: true, onto: onto, hostGone: true, options: later) }
        }
        let twice = refused("web-01", onto: "test:///elsewhere")
        #expect(twice?.kind == .badInput && twice?.message.contains("libvirt on \(Self.host) still has web-01 (shutOff): restored onto test:///elsewhere too, "
                                                                     + "it would run twice") == true, "\(String(describing: twice))")
        let unpooled = refused("api-01", onto: "test:///elsewhere")
        #expect(unpooled?.message.contains("the state pool has no image of api-01's current sleep") == true, "\(String(describing: unpooled))")
        // The host it slept on answers nothing now; the new hosts: one without the VM, one where it runs, one where it is shut off.
        struct NoAnswer: Error {}
        let shared = f.connection
        let lost = Executor(store: f.store, load: FixedLoad([:], otherwise: 1), connect: { uri in
            switch uri {
            case Self.host: throw NoAnswer()
            case "test:///without": return try VirtConnection(uri: "test:///default")
            case "test:///running": return try VirtConnection(uri: Self.host)   // a test driver's own fleet: every domain runs
            default: return shared
            }
        })
        let undefined = refused("web-01", onto: "test:///without", by: lost)
        #expect(undefined?.message.contains("libvirt on test:///without has no domain web-01: define it there first") == true, "\(String(describing: undefined))")
        let started = refused("web-01", onto: "test:///running", by: lost)
        #expect(started?.message.contains("web-01 on test:///running is running, not shut off") == true, "\(String(describing: started))")
        // An earlier move's restore left open on a third host: `run` finishes it (it may have brought the VM back there).
        let third = JournalEntry(actionID: "wake:web-01:third", planID: nil, vm: "web-01", host: "test:///third", kind: .restore, step: .started, at: Self.now + 40, detail: "moved")
        try f.executor().journal(third)
        let unfinished = refused("web-01", onto: "test:///new", by: lost)
        #expect(unfinished?.message.contains("a restore of web-01 is left open on test:///third (started since") == true, "\(String(describing: unfinished))")
        var finished = third
        finished.step = .failed
        try f.executor().journal(finished)
        #expect(try f.power("web-01") == .hibernated && f.state("web-01") == .shutOff)
        #expect(try f.store.read { try JournalRepository.unfinished(in: $0) }.map(\.actionID) == [left.actionID], "the refusals closed nothing")
        let here = try f.executor().wake(vm: "web-01", by: "carol", fromPool: true, onto: Self.host, options: later)
        #expect(here.map(\.event) == ["failed"] && here[0].host == Self.host && !here[0].detail.contains("onto"), "\(here.map(\.text))")
        // A copy ran on a host since the sleep (an HA tool's, stopped since): refused onto any host; once that record is
        // gone (as if it never ran), moved.
        try f.store.transaction { try DomainRuns.record(host: "test:///new", domain: "web-01", now: Self.now + 45, previous: nil, in: $0) }
        let ran = refused("web-01", onto: "test:///new", by: lost)
        #expect(ran?.message.hasPrefix("web-01 was found running on test:///new while asleep (started there without its memory): the state pool's memory") == true
                && ran?.message.contains("torpor-execute forget web-01 --host-gone --discard-saved-state") == true, "\(String(describing: ran))")
        try f.store.transaction { try $0.execute(sql: "DELETE FROM domain_run WHERE host_uri = 'test:///new'") }
        // Moved: the old host's open restore given up, the sleep and the VM placed on the new host, the restore tried
        // there (the test driver cannot restore the pool's random image).
        let moved = try lost.wake(vm: "web-01", by: "carol", fromPool: true, onto: "test:///new", hostGone: true, options: later)
        #expect(moved.map(\.event) == ["failed"] && moved[0].host == "test:///new" && moved[0].detail.contains("mismatched header magic"), "\(moved.map(\.text))")
        #expect(try f.store.read { try JournalRepository.unfinished(in: $0) }.isEmpty)
        let closed = try f.store.read { try JournalRepository.recent(limit: 20, vm: "web-01", in: $0) }.first { $0.actionID == left.actionID }
        #expect(closed?.step == .failed && closed?.detail.contains("given up: web-01 is restored onto test:///new") == true, "\(String(describing: closed))")
        let tried = try f.store.read { try JournalRepository.recent(limit: 20, vm: "web-01", in: $0) }.filter { $0.host == "test:///new" }
        #expect(tried.map(\.step) == [.failed, .started, .intent] && tried[2].detail.contains("woken by carol from the state pool onto test:///new: \(Self.host) is gone for good"),
                "\(tried)")
        let power = try #require(try f.store.read { try JournalRepository.power(in: $0)["web-01"] })
        #expect(power.state == .hibernated && power.host == "test:///new" && power.manifestID != nil)
        #expect(try f.store.read { try VMRepository.all(in: $0) }.first { $0.name == "web-01" }?.hostURI == "test:///new")
        // Its planned restore is made on the new host (here from the test driver's own image there).
        let pass = try lost.run(f.options(Self.at(6))).filter { $0.vm == "web-01" }
        #expect(pass.map(\.event) == ["restored"] && pass[0].host == "test:///new", "\(pass.map(\.text))")
        let awake = refused("web-01", onto: "test:///elsewhere", by: lost)
        #expect(awake?.kind == .badInput && awake?.message.contains("web-01 is not asleep in torpor's record") == true, "\(String(describing: awake))")
    }

    /// A hibernation a killed run left `started` whose VM still runs goes back to `intent` while it waits (busy here):
    /// a VM a person then shuts down is not taken for one a save left off, and is not started.
    @Test func aWaitingHibernationsVMShutDownByAPersonIsNotStarted() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<6])
        let sleep = try #require(plan.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        try f.executor().journal(JournalEntry(actionID: sleep.id, planID: plan.id, vm: "web-01", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        let held = try f.executor(load: ["web-01": 90]).run(f.options(Self.now + 60))
        #expect(held.map(\.event) == ["reconciled", "skipped"] && held[0].detail.contains("the interrupted save did not happen"), "\(held.map(\.text))")
        #expect(try f.steps("web-01") == ["hibernate:started", "hibernate:intent"])
        _ = try f.executor(load: ["web-01": 90]).run(f.options(Self.now + 120))
        #expect(try f.steps("web-01") == ["hibernate:started", "hibernate:intent"], "once, not every pass")
        try f.connection.domain(named: "web-01").destroy()
        let after = try f.executor(load: ["web-01": 90]).run(f.options(Self.now + 180))
        #expect(after.map(\.event) == ["reconciled"] && after[0].detail.contains("torpor's save was never called (another hand's doing): not touched"),
                "\(after.map(\.text))")
        #expect(try f.state("web-01") == .shutOff)
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 240, grace: 600).isEmpty, "not torpor's outage to report")
        // Paused by a person while such an action waits: not resumed (torpor's save never paused it), the action closed.
        let g = try Fixture()
        let again = try g.plan(["web-01": 0..<6])
        let wait = try #require(again.actions.first { $0.vm == "web-01" && $0.action == .hibernate })
        try g.executor().journal(JournalEntry(actionID: wait.id, planID: again.id, vm: "web-01", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        _ = try g.executor(load: ["web-01": 90]).run(g.options(Self.now + 60))
        try g.connection.domain(named: "web-01").suspend()
        let paused = try g.executor(load: ["web-01": 90]).run(g.options(Self.now + 120))
        #expect(paused.map(\.event) == ["reconciled"] && paused[0].detail.contains("the VM is paused without a saved state, and torpor's save was never called"),
                "\(paused.map(\.text))")
        #expect(try g.state("web-01") == .paused)
    }

    /// A save a killed run started that completed without a record (the store could not write it): torpor still records
    /// the VM running, but a pin asks libvirt, and wakes it.
    @Test func aPinWakesAVMWhoseUnrecordedSaveCompleted() throws {
        let f = try Fixture()
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
            try JournalRepository.setPower(PowerRecord(vm: "web-01", host: Self.host, state: .running, since: Self.now - 3600, actionID: "earlier"), in: db)
        }
        try f.executor().journal(JournalEntry(actionID: "lost/web-01", planID: nil, vm: "web-01", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        try f.connection.domain(named: "web-01").managedSave()
        let outcome = try f.executor().pin(vm: "web-01", until: nil, by: "carol", options: f.options(Self.now + 60))
        #expect(outcome.pinned == "web-01 pinned awake until unpinned" && outcome.warning == nil, "\(String(describing: outcome.warning))")
        #expect(try f.state("web-01") == .running)
    }

    /// A save that completed but whose sleep the journal cannot record (the store's disk full; here a trigger refuses the
    /// row) would leave the VM asleep and owed no restore: it is a failed hibernation, and the VM is started again from
    /// its saved state, in the pass that saved it or in the one that reconciles a killed run's save.
    @Test func aSleepTheJournalCannotRecordIsWokenAtOnce() throws {
        let f = try Fixture()
        try f.store.transaction { db in
            try db.execute(sql: """
                CREATE TRIGGER disk_full BEFORE INSERT ON journal WHEN NEW.kind = 'hibernate' AND NEW.step = 'done'
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END
                """)
        }
        _ = try f.plan(["web-01": 0..<6])
        let events = try f.executor().run(f.options(Self.now))
        #expect(events.map { "\($0.event) \($0.vm ?? "")" } == ["failed web-01"], "\(events.map(\.text))")
        #expect(events.first?.detail.contains("the journal cannot record its sleep") == true
                && events.first?.detail.hasSuffix("started again from its saved state (a sleep without a record would be owed no restore)") == true, "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running)
        #expect(try f.steps("web-01") == ["hibernate:intent", "hibernate:started", "hibernate:failed"])
        #expect(try f.store.read { try DueActions.owedRestores(now: Self.now + 60, in: $0) }.isEmpty)
        // A killed run's save that completed, reconciled while the journal still cannot record it: woken too.
        try f.executor().journal(JournalEntry(actionID: "lost/web-02", planID: nil, vm: "web-02", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        try f.connection.domain(named: "web-02").managedSave()
        let reconciled = try f.executor().run(f.options(Self.now + 120))
        let woken = try #require(reconciled.first { $0.vm == "web-02" })
        #expect(woken.event == "failed" && woken.detail.hasPrefix("reconciled: the interrupted save had completed; the VM was off with its saved state but the journal cannot record its sleep"),
                "\(reconciled.map(\.text))")
        #expect(try f.state("web-02") == .running)
        #expect(try f.steps("web-02") == ["hibernate:started", "hibernate:failed"])
        // A store that takes the small rows but neither the sleep's nor the failure's: woken, the action left `started`;
        // the same executor's next pass does not save the VM again (it would be saved and woken every pass).
        let g = try Fixture()
        try g.store.transaction { db in
            try db.execute(sql: """
                CREATE TRIGGER disk_full BEFORE INSERT ON journal WHEN NEW.kind = 'hibernate' AND NEW.step IN ('done', 'failed')
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END
                """)
        }
        _ = try g.plan(["web-01": 0..<6])
        let executor = g.executor()
        let first = try executor.run(g.options(Self.now))
        #expect(try first.map(\.event) == ["failed"] && g.state("web-01") == .running, "\(first.map(\.text))")
        #expect(try g.steps("web-01") == ["hibernate:intent", "hibernate:started"])
        let next = try executor.run(g.options(Self.now + 300))
        #expect(next.contains { $0.event == "skipped" && $0.vm == "web-01" && $0.detail.contains("not saved again by it") }, "\(next.map(\.text))")
        #expect(try !next.contains { $0.event == "hibernated" || $0.event == "failed" } && g.state("web-01") == .running, "\(next.map(\.text))")
        // A store held by another writer past the busy timeout passes: the sleep is left for the next run to record.
        #expect(Executor.passes(DatabaseError(resultCode: .SQLITE_BUSY)) && !Executor.passes(DatabaseError(resultCode: .SQLITE_FULL)))
    }

    /// The guardrails' reading of a host's domains serves seconds, not the whole run: a pass that copied images into
    /// the pool for minutes first counts partners as they are, not as another host's pass read them, and a partner a
    /// person shut down a minute ago is not counted running.
    @Test func partnersStatesAreReadAgainOnceTheyAreSecondsOld() throws {
        let f = try Fixture()
        let executor = f.executor()
        #expect(executor.partnerStatesServeFor <= 5)
        func web01() -> DomainState? { try? executor.domainStates(on: Self.host).get()["web-01"] }
        #expect(web01() == .running)
        try f.connection.domain(named: "web-01").destroy()
        executor.partnerStatesServeFor = 60
        #expect(web01() == .running, "read within what it serves for: served")
        executor.partnerStatesServeFor = 0
        #expect(web01() == .shutOff, "older than it serves for: read again")
    }

    /// The partners' states are read after the load sample, just before the guardrails' count: a partner a person
    /// stops while the VM's load is sampled is not counted running (read before the sample, it was, and the VM slept
    /// leaving its group without the one running VM `min_running` asks for).
    @Test func aPartnerStoppedWhileTheLoadIsSampledIsNotCountedRunning() throws {
        let f = try Fixture()
        try f.groupPlan(["web-01", "web-02"], idle: ["web-01"], host: { _ in Self.host }, guardrails: "{max_hibernated_share: 1, min_running: 1}")
        let events = try f.run(Self.now + 60, whileTheLoadIsRead: { try f.connection.domain(named: "web-02").destroy() })
        #expect(events.map(\.event) == ["skipped"] && events.first?.detail.hasPrefix("guardrail at the pre-flight") == true, "\(events.map(\.text))")
        #expect(try f.state("web-01") == .running)
    }

    /// A hibernation that failed and left its VM down (off and not started again, paused for a fault, booted afresh)
    /// is named by `check` for a day, or until torpor acts on the VM again: an outage torpor caused is not only a line
    /// in the event log.
    @Test func checkNamesAVMAFailedHibernationLeftDown() throws {
        let f = try Fixture()
        func failure(_ vm: String, _ detail: String, at: EpochSeconds) throws {
            try f.executor().journal(JournalEntry(actionID: "sleep/\(vm)", planID: nil, vm: vm, host: Self.host, kind: .hibernate, step: .failed,
                                                  at: at, detail: detail))
        }
        try failure("web-01", "save failed; " + Executor.vmLeftOff, at: Self.now)
        try failure("web-02", "save failed; the VM was started again", at: Self.now)
        try failure("db-01", "reconciled: the interrupted save left the VM paused (an I/O error): not resumed, " + Executor.forAPerson, at: Self.now)
        let told = try ExecutionCheck.problems(store: f.store, now: Self.now + 600, grace: 600).map(\.text)
        #expect(told.count == 2 && told.contains { $0.hasPrefix("web-01 on \(Self.host): DOWN after its hibernation sleep/web-01 failed at ") }
                && told.contains { $0.hasPrefix("db-01 on \(Self.host): DOWN") }, "\(told)")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 86_400 + 601, grace: 600).isEmpty, "named for a day")
        // A person wakes it through torpor: acted on again, no longer named.
        try f.executor().journal(JournalEntry(actionID: "wake/web-01", planID: nil, vm: "web-01", host: Self.host, kind: .restore, step: .done, at: Self.now + 900))
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1200, grace: 600).map(\.vm) == ["db-01"])
    }

    /// A writable disk that is not a file (LVM, a pool's volume, Ceph) shows torpor no change: a restore from the pool
    /// is refused for it, naming it; read-only media and file disks are compared as before.
    @Test func disksTorporCannotCheckRefuseARestoreFromThePool() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("torpor-disk-\(UUID().uuidString)").path
        try Data("disk".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        func domain(_ disks: String) -> String { "<domain><devices>\(disks)</devices></domain>" }
        let fileDisk = "<disk type='file' device='disk'><source file='\(file)'/><target dev='vda'/></disk>"
        let cdrom = "<disk type='block' device='cdrom'><source dev='/dev/sr0'/><readonly/></disk>"
        let lvm = "<disk type='block' device='disk'><source dev='/dev/vg0/web'/><target dev='vdb'/></disk>"
        let ceph = "<disk type='network' device='disk'><source protocol='rbd' name='pool/web'><host name='mon1'/></source></disk>"
        let plain = DiskIdentity.of(xml: domain(fileDisk + cdrom), withTimes: true)
        #expect(plain.hasPrefix(file + ":4 mtime=") && !plain.contains(",") && DiskIdentity.unconfirmable(plain) == nil, "\(plain)")
        let blocks = DiskIdentity.of(xml: domain(fileDisk + lvm + ceph), withTimes: true)
        let why = try #require(DiskIdentity.unconfirmable(blocks), "\(blocks)")
        #expect(why.hasPrefix("its disk dev='/dev/vg0/web', protocol='rbd' name='pool/web' is not a file"), "\(why)")
        // A file disk torpor cannot read the size and time of (a path on another host) would compare equal to itself.
        let gone = DiskIdentity.of(xml: domain(fileDisk.replacingOccurrences(of: file, with: file + ".gone") + cdrom), withTimes: true)
        #expect(DiskIdentity.unconfirmable(gone) == "its disk file='\(file).gone' cannot be read (No such file or directory): torpor cannot tell "
                + "whether it was written since an image was taken", "\(gone)")
        // A block volume over a file backing store, or a file disk mid-copy to a block device: the disk is its own
        // source, not the read-only base file (which never changes) nor the mirror's target.
        let overlay = "<disk type='block' device='disk'><source dev='/dev/vg0/top' index='2'/><backingStore type='file' index='1'><format type='qcow2'/>"
            + "<source file='\(file)'/><backingStore/></backingStore><target dev='vda'/></disk>"
        #expect(DiskIdentity.unconfirmable(DiskIdentity.of(xml: domain(overlay), withTimes: true))?.hasPrefix("its disk dev='/dev/vg0/top' index='2' is not a file") == true)
        let mirrored = "<disk type='file' device='disk'><source file='\(file)'/><mirror type='block' job='copy'><source dev='/dev/vg0/copy'/></mirror><target dev='vda'/></disk>"
        #expect(DiskIdentity.of(xml: domain(mirrored), withTimes: true).hasPrefix(file + ":4 mtime="))
    }

    /// An identity read again from itself (`DiskIdentity.reread`: a pool restore's check before it rebuilds the image)
    /// is the same while the disks are (a path with commas and colons included; an older identity without times read
    /// without them), differs once one is written, and is unknown when a file cannot be read (the check after the
    /// rebuild decides then).
    @Test func anIdentityIsReadAgainFromItsOwnPaths() throws {
        let dir = try ScratchDirectory.make("torpor-disks")
        let odd = dir + "/a,b:c,d.img", plain = dir + "/vda.img"
        for path in [odd, plain] { try Data("disk".utf8).write(to: URL(fileURLWithPath: path)) }
        let xml = "<domain><devices>" + [odd, plain].map { "<disk type='file' device='disk'><source file='\($0)'/></disk>" }.joined() + "</devices></domain>"
        let taken = DiskIdentity.of(xml: xml, withTimes: true), older = DiskIdentity.of(xml: xml, withTimes: false)
        #expect(DiskIdentity.reread(taken) == taken && DiskIdentity.reread(older) == older, "\(taken)")
        #expect(DiskIdentity.reread("no disks") == "no disks")
        #expect(DiskIdentity.reread("unconfirmable:dev='/dev/vg0/web'") == nil)
        let handle = try #require(FileHandle(forWritingAtPath: odd))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("written".utf8))
        try handle.close()
        #expect(DiskIdentity.reread(taken) != taken && DiskIdentity.reread(taken) == DiskIdentity.of(xml: xml, withTimes: true))
        try FileManager.default.removeItem(atPath: plain)
        #expect(DiskIdentity.reread(taken) == nil)
    }

    /// A Prometheus that takes connections but never answers (`--wake-on`) holds up no due restore: those start first;
    /// the first question it fails ends the asking for the pass, said once, instead of each sleeper waiting out the
    /// timeout in turn.
    @Test func aDemandSignalThatDoesNotAnswerHoldsUpNoDueRestore() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10, "web-02": 0..<10, "batch-01": 0..<10])
        #expect(try f.executor().run(f.options(Self.now)).count == 3)
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: "web-01", until: nil, pinnedBy: "ops", pinnedAt: Self.at(1)), in: $0) }
        // A listening socket nobody accepts from: the connection is made, the answer never comes.
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(server) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try #require(bind(server, $0, length) == 0 && listen(server, 8) == 0 && getsockname(server, $0, &length) == 0)
            }
        }
        var client = PrometheusClient(baseURL: URL(string: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))")!)
        client.timeout = 5   // the restore (two journal commits, each flushed) well within it on a busy machine
        let signal = PrometheusDemandSignal(client: client, rules: [.init(selector: "web-02", query: "up"), .init(selector: "batch-01", query: "up")])
        let executor = Executor(store: f.store, load: FixedLoad(), demand: signal, connect: { [connection = f.connection] _ in connection })
        let events = try executor.run(f.options(Self.at(1) + 60))
        // The due restore is done while the first question waits out its timeout (it came second before).
        #expect(events.map { "\($0.event) \($0.vm ?? "-")" } == ["restored web-01", "failed batch-01", "failed -"], "\(events.map(\.text))")
        #expect(events[1].detail.contains("Prometheus did not answer") && events[2].detail.contains("not asked for the 1 other sleepers this pass"))
        #expect(try f.state("web-01") == .running && f.state("web-02") == .shutOff)
    }

    /// A pin of a VM recorded running while another executor holds it (its save may be past its own look at the pins)
    /// says so: the pin holds, and should the VM sleep, the next pass wakes it.
    @Test func aPinWhileAnotherExecutorActsOnTheVMSaysSo() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10])
        try f.executor().run(f.options(Self.now))
        #expect(try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(1))).map(\.event) == ["restored"])
        try f.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: db, now: Self.now), hostURI: Self.host, labels: [:], in: db)
        }
        let locks = VMLocks(store: f.store.path)
        let pinning = Executor(store: f.store, load: FixedLoad(), locks: locks, connect: { [connection = f.connection] _ in connection })
        do {
            let held = try locks.take("web-01")
            let outcome = try pinning.pin(vm: "web-01", until: nil, by: "carol", options: f.options(Self.at(2)))
            #expect(outcome.warning?.contains("acts on web-01 now (a save may be under way)") == true, "\(String(describing: outcome.warning))")
            withExtendedLifetime(held) {}
        }
        let free = try pinning.pin(vm: "web-01", until: Self.at(5), by: "carol", options: f.options(Self.at(2)))
        #expect(free.warning == nil && free.pinned == "web-01 pinned awake until \(UTC.format(Self.at(5)))", "\(String(describing: free.warning))")
    }

    /// A VM libvirt holds saved without torpor's record of it (a `virsh managedsave` by hand, a store restored from an
    /// older backup) is owed no restore: check names it for a day from the inventory that found it so. Not one torpor put
    /// to sleep, nor one torpor acted on after the inventory looked (restored since).
    @Test func aVMSavedWithoutTorporsRecordIsNamed() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10])
        try f.executor().run(f.options(Self.now))   // web-01 asleep, torpor's doing
        try f.store.transaction { db in
            for vm in ["web-01", "web-02"] {
                let id = try VMRepository.id(of: vm, in: db, now: Self.now)
                try VMRepository.setHost(vm: id, hostURI: Self.host, in: db)
                try VMRepository.setSaved(vm: id, true, now: Self.now + 60, in: db)
            }
        }
        let told = try ExecutionCheck.problems(store: f.store, now: Self.now + 120, grace: 600)
        #expect(told.map(\.vm) == ["web-02"] && told[0].text.contains("SAVED WITHOUT TORPOR'S RECORD since") && told[0].text.contains("torpor-execute wake web-02"),
                "\(told.map(\.text))")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 60 + 86_400 + 1, grace: 600).filter { $0.vm == "web-02" }.isEmpty, "a day later")
        // Still listed, and counted, for as long as it lasts: no all-clear reads as if none were saved.
        #expect(try ExecutionCheck.savedWithoutRecord(store: f.store, now: Self.now + 60 + 86_400 + 1, replaying: false).map(\.vm) == ["web-02"])
        let status = try ExecutionStatus.render(store: f.store, now: Self.now + 60 + 86_400 + 1)
        #expect(status.contains("saved without torpor's record (nothing restores them: torpor-execute wake VM, or wake --all): 1\n  web-02 on \(Self.host): since "),
                "\(status)")
        // Woken by torpor after the inventory looked: its record says so, whatever the inventory saw.
        try f.store.transaction { try JournalRepository.setPower(PowerRecord(vm: "web-02", host: Self.host, state: .running, since: Self.now + 90, actionID: "w"), in: $0) }
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 120, grace: 600).isEmpty)
        #expect(try !ExecutionStatus.render(store: f.store, now: Self.now + 120).contains("saved without torpor's record"))
    }

    /// A person's wake while another executor acts on the VM (a run saving it) waits for it, saying who, then wakes the
    /// VM: the save done, it is asleep. Not waiting, it is refused as before.
    @Test func aWakeWaitsForTheExecutorActingOnTheVM() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<10])
        try f.executor().run(f.options(Self.now))
        #expect(try f.state("web-01") == .shutOff)
        let locks = VMLocks(store: f.store.path)
        let waking = Executor(store: f.store, load: FixedLoad(), locks: locks, connect: { [connection = f.connection] _ in connection })
        final class Holder: @unchecked Sendable { var lock: FileLock?; init(_ lock: FileLock) { self.lock = lock } }
        let saving = Holder(try locks.take("web-01"))   // another executor's run, saving it
        let refused = #expect(throws: ExecuteError.self) { try waking.wake(vm: "web-01", by: "bob", options: f.options(Self.at(1))) }
        #expect(refused?.description.contains("try again when it is done (or wait longer: --wait)") == true, "\(String(describing: refused))")
        var told: [String] = []
        let events = try waking.wake(vm: "web-01", by: "bob", options: f.options(Self.at(1)), patience: 60) {
            told.append($0)
            saving.lock = nil   // the save done
        }
        #expect(events.map(\.event) == ["restored"])
        #expect(try f.state("web-01") == .running)
        #expect(told.count == 1 && told[0].contains("pid \(getpid())) acts on web-01") && told[0].contains("waiting up to 1m"), "\(told)")
    }

    /// `wake --all`: every VM asleep with the labels asked, whatever the plans say, as a run restores them; a dry run
    /// wakes none; an unknown --host is refused, a label no VM has is said; a VM saved by hand (found so by the
    /// inventory, or by libvirt since) and one a killed run saved are woken too; a sleeper another executor holds is
    /// said and left, or waited for; libvirt says which did not come back; none asleep is nothing to do; a host that
    /// does not answer is named.
    @Test func wakeAllWakesEveryVMAsleepOfTheLabelsAsked() throws {
        let f = try Fixture()
        let vms = ["web-01", "web-02", "db-01"]
        try f.plan(Dictionary(uniqueKeysWithValues: vms.map { ($0, 0..<10) }))
        try f.executor().run(f.options(Self.now))
        #expect(try vms.map(f.state) == [.shutOff, .shutOff, .shutOff])
        try f.store.transaction { db in
            for vm in vms {
                try VMRepository.setPlacement(vm: try VMRepository.id(of: vm, in: db, now: Self.now), hostURI: Self.host,
                                              labels: ["group": String(vm.prefix(while: { $0 != "-" }))], in: db)
            }
        }
        // ci-runner-01 saved by hand, the store knowing nothing of it: no label of the store is its, so a labelled wake
        // leaves it.
        #expect(try !f.store.read { try VMRepository.all(in: $0) }.contains { $0.name == "ci-runner-01" })
        try f.connection.domain(named: "ci-runner-01").managedSave()
        let dry = try f.executor().wakeAll(labels: ["group": "web"], by: "bob", options: { var o = f.options(Self.at(1)); o.dryRun = true; return o }())
        #expect(dry.asleep == ["web-01", "web-02"] && dry.events.map(\.event) == ["would-restore", "would-restore"], "\(dry.events.map(\.text))")
        #expect(try vms.map(f.state) == [.shutOff, .shutOff, .shutOff], "a dry run wakes none")
        // A --host the store does not know (a mistyped URI) is refused, not taken for a host where nothing sleeps.
        let elsewhere = #expect(throws: ExecuteError.self) {
            try f.executor().wakeAll(by: "bob", options: { var o = f.options(Self.at(1)); o.hosts = ["qemu+ssh://other/system"]; return o }())
        }
        #expect(elsewhere?.kind == .badInput && elsewhere?.description.contains("--host qemu+ssh://other/system: no VM of the store is on this host") == true,
                "\(String(describing: elsewhere))")
        let unlabelled = #expect(throws: ExecuteError.self) { try f.executor().wakeAll(labels: ["group": "wbe"], by: "bob", options: f.options(Self.at(1))) }
        #expect(unlabelled?.kind == .nothingToDo && unlabelled?.description.contains("no VM labelled group=wbe is asleep (no VM of the store has those labels)") == true,
                "\(String(describing: unlabelled))")

        let web = try f.executor().wakeAll(labels: ["group": "web"], by: "bob", options: f.options(Self.at(1)))
        #expect(web.asleep == ["web-01", "web-02"] && web.events.map { "\($0.event) \($0.vm ?? "")" }.sorted() == ["restored web-01", "restored web-02"],
                "\(web.events.map(\.text))")
        #expect(web.notWoken.isEmpty, "libvirt says both run")
        #expect(web.events.allSatisfy { $0.detail.contains("woken by bob: every sleeping VM labelled group=web") }, "\(web.events.map(\.text))")
        #expect(try vms.map(f.state) == [.running, .running, .shutOff])
        #expect(try f.store.read { try JournalRepository.power(in: $0)["web-01"]?.wokenEarlyAt } != nil, "an operator's wake, before its planned restore")

        // api-01 saved by hand (the inventory found it so), and legacy-01 since the inventory looked (libvirt alone knows):
        // woken too, as `wake` would. db-01 held by another executor (a run saving it): said and left, or waited for.
        try f.connection.domain(named: "api-01").managedSave()
        try f.connection.domain(named: "legacy-01").managedSave()
        try f.store.transaction { db in
            let id = try VMRepository.id(of: "api-01", in: db, now: Self.now)
            try VMRepository.setPlacement(vm: id, hostURI: Self.host, labels: [:], in: db)
            try VMRepository.setSaved(vm: id, true, now: Self.at(2), in: db)
        }
        let locks = VMLocks(store: f.store.path)
        let waking = Executor(store: f.store, load: FixedLoad(), locks: locks, connect: { [connection = f.connection] _ in connection })
        final class Holder: @unchecked Sendable { var lock: FileLock?; init(_ lock: FileLock) { self.lock = lock } }
        let saving = Holder(try locks.take("db-01"))
        let held = try waking.wakeAll(by: "bob", options: f.options(Self.at(2)))
        #expect(held.asleep == ["api-01", "ci-runner-01", "db-01", "legacy-01"]
                && held.events.map { "\($0.event) \($0.vm ?? "")" } == ["skipped db-01", "restored api-01", "restored ci-runner-01", "restored legacy-01"],
                "\(held.events.map(\.text))")
        #expect(held.notWoken.map(\.vm) == ["db-01"] && held.notWoken.first?.state == "shutOff" && held.hostsStopped.isEmpty, "named, as libvirt has it")
        #expect(held.events[0].detail.contains("acts on db-01") && held.events[1...].allSatisfy { $0.detail.contains("woken by bob: every sleeping VM (saved without torpor's record)") },
                "\(held.events.map(\.text))")
        #expect(try f.state("db-01") == .shutOff && f.state("api-01") == .running && f.state("ci-runner-01") == .running && f.state("legacy-01") == .running)
        let waited = try waking.wakeAll(by: "bob", options: f.options(Self.at(2)), patience: 60) { _ in saving.lock = nil }   // the save done
        #expect(waited.asleep == ["db-01"] && waited.events.map(\.event) == ["restored"] && waited.notWoken.isEmpty, "\(waited.events.map(\.text))")
        #expect(try f.state("db-01") == .running)
        // A save a killed run completed, torpor's record still saying the VM runs: reconciled first, then woken.
        try f.connection.domain(named: "web-02").managedSave()
        try f.executor().journal(JournalEntry(actionID: "killed/web-02", planID: nil, vm: "web-02", host: Self.host, kind: .hibernate, step: .started, at: Self.at(3)))
        let listed = try f.executor().wakeAll(by: "bob", options: { var o = f.options(Self.at(3) + 60); o.dryRun = true; return o }())
        #expect(listed.asleep == ["web-02"] && listed.events.map(\.event) == ["would-restore"] && listed.events[0].detail.contains("an action under way or left open"),
                "a dry run, which reconciles nothing, lists it: \(listed.events.map(\.text))")
        let killed = try f.executor().wakeAll(by: "bob", options: f.options(Self.at(3) + 60))
        #expect(killed.asleep == ["web-02"] && killed.events.map(\.event) == ["reconciled", "restored"] && killed.notWoken.isEmpty, "\(killed.events.map(\.text))")
        #expect(try f.state("web-02") == .running)
        let none = #expect(throws: ExecuteError.self) { try f.executor().wakeAll(by: "bob", options: f.options(Self.at(4))) }
        #expect(none?.kind == .nothingToDo && none?.description.contains("no VM is asleep") == true)
        // A saved domain on another host of the name of a VM the store has here (a copy a migration left): said, not
        // started (an old memory over disks that moved on), and the VM's record left as it is.
        let other = try VirtConnection(uri: Self.host)   // a test driver of its own: the other host's domains
        try other.domain(named: "db-01").managedSave()
        try f.store.transaction { try VMRepository.setHost(vm: try VMRepository.id(of: "api-01", in: $0, now: Self.now), hostURI: "test:///other", in: $0) }
        let connection = f.connection
        let twoHosts = Executor(store: f.store, load: FixedLoad(otherwise: 1), connect: { uri in uri == "test:///other" ? other : connection })
        let copy = try twoHosts.wakeAll(by: "bob", options: f.options(Self.at(4)))
        #expect(copy.asleep == ["db-01 on test:///other"] && copy.notWoken.first?.state == "saved; the store has db-01 on \(Self.host): not woken"
                && copy.events.map { "\($0.event) \($0.vm ?? "") \($0.host ?? "")" } == ["skipped db-01 test:///other"]
                && copy.events[0].detail.contains("the store has db-01 on \(Self.host)"), "\(copy.events.map(\.text))")
        #expect(try other.domain(named: "db-01").info().state == .shutOff && f.state("db-01") == .running)
        #expect(try f.store.read { try JournalRepository.power(in: $0)["db-01"] }?.host == Self.host)
        // A host whose libvirt does not answer is named (what sleeps there is not known), not read as nothing asleep.
        try f.store.transaction { try VMRepository.setHost(vm: try VMRepository.id(of: "batch-01", in: $0, now: Self.now), hostURI: "test:///nowhere", in: $0) }
        let refusing = Executor(store: f.store, load: FixedLoad(otherwise: 1), connect: { uri in
            guard uri == Self.host else { throw ExecuteError(.runtime, "\(uri): no answer") }
            return connection
        })
        let unanswered = try refusing.wakeAll(by: "bob", options: { var o = f.options(Self.at(4)); o.hosts = [Self.host, "test:///nowhere"]; return o }())
        #expect(unanswered.hostsStopped == ["test:///nowhere"] && unanswered.asleep.isEmpty
                && unanswered.events.map(\.text).contains { $0.contains("test:///nowhere: which VMs libvirt holds saved is not known") && $0.contains("no answer") }, "\(unanswered.events.map(\.text))")
    }

    /// Why a restore from the pool finds no image of a sleep, as a person can act on it.
    @Test func whyASleepHasNoPoolImageIsSaid() {
        var sleep = PowerRecord(vm: "web-01", host: Self.host, state: .hibernated, since: Self.now, actionID: "a")
        #expect(Executor.whyNotPooled(sleep) == " (asleep since 2024-03-04T00:00:00Z; not in the pool: saved by a run without it, or its copy not made yet "
                + "(a pass with the pool makes it after the save))")
        sleep.poolFailures = 2
        sleep.poolRetryAt = Self.at(1)
        #expect(Executor.whyNotPooled(sleep) == " (asleep since 2024-03-04T00:00:00Z; its copy into the pool failed 2 times, tried again from 2024-03-04T01:00:00Z)")
        sleep.poolRefused = "the pool is smaller than the image"
        #expect(Executor.whyNotPooled(sleep) == " (asleep since 2024-03-04T00:00:00Z; the pool refused its image: the pool is smaller than the image)")
        sleep.state = .running
        #expect(Executor.whyNotPooled(sleep) == " (torpor has it running since 2024-03-04T00:00:00Z)")
    }

    /// `metrics`: what is asleep and due per host, what check names by kind (every kind, 0 when none), the last day's
    /// restores, hibernations and VM-seconds asleep, in a text Prometheus's own promtool accepts.
    @Test func metricsSayWhatIsAsleepAndWhatTheDayDid() throws {
        let f = try Fixture()
        let approved = try f.plan(["web-01": 0..<10, "web-02": 0..<10])
        try f.executor().run(f.options(Self.now))
        _ = try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.now + 1800))
        try ExecutorSettings.setPaused(true, by: "bob", now: Self.now + 1800, in: f.store)
        let at = Self.now + 3600
        let text = try ExecutionMetrics.render(store: f.store, now: at, problems: try ExecutionCheck.problems(store: f.store, now: at, grace: 600))
        let samples = Dictionary(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line -> (String, String) in
            let space = line.lastIndex(of: " ")!
            return (String(line[..<space]), String(line[line.index(after: space)...]))
        }, uniquingKeysWith: { a, _ in a })
        #expect(samples["torpor_vms_asleep{host=\"\(Self.host)\"}"] == "1", "web-02 sleeps on: \(text)")
        #expect(samples["torpor_restores_due{host=\"\(Self.host)\"}"] == "0")
        #expect(samples["torpor_hibernations_paused"] == "1" && samples["torpor_metrics_timestamp_seconds"] == "\(at)")
        #expect(samples["torpor_restores_last_day{outcome=\"unplanned\"}"] == "1" && samples["torpor_restores_last_day{outcome=\"on_time\"}"] == "0"
                && samples["torpor_restores_last_day{outcome=\"late\"}"] == "0", "bob's wake was no plan's")
        #expect(samples["torpor_hibernations_last_day{outcome=\"done\"}"] == "2" && samples["torpor_hibernations_last_day{outcome=\"failed\"}"] == "0")
        let slept = try #require(samples["torpor_vm_asleep_last_day_seconds"].flatMap(Int64.init))
        #expect((3600 + 1800 - 120...3600 + 1800).contains(slept), "web-01 for half an hour (its restore's seconds), web-02 for the hour: \(slept)")
        #expect(ExecutionCheck.Kind.allCases.allSatisfy { samples["torpor_problems{kind=\"\($0.rawValue)\"}"] == "0" }, "every kind, none now: \(text)")
        #expect(samples["torpor_approved_plan_valid_until_timestamp_seconds"] == "\(approved.validUntil.seconds)", "the plan the fixture approved")
        // Past web-02's deadline with no executor running: named by kind.
        let late = try #require(try f.store.read { try DueActions.owedRestores(now: at, in: $0) }.first).deadline + 3600
        let overdue = try ExecutionMetrics.render(store: f.store, now: late, problems: try ExecutionCheck.problems(store: f.store, now: late, grace: 600))
        #expect(overdue.contains("torpor_problems{kind=\"asleep_past_restore\"} 1\n") && overdue.contains("torpor_restores_due{host=\"\(Self.host)\"} 1\n"), "\(overdue)")
        // Restored then, after its deadline: a plan's restore, late.
        try f.executor().run(f.options(late))
        let after = try ExecutionMetrics.render(store: f.store, now: late + 60, problems: [])
        #expect(after.contains("torpor_restores_last_day{outcome=\"late\"} 1\n") && after.contains("torpor_vms_asleep{host=\"\(Self.host)\"} 0\n"), "\(after)")
        #expect(after.contains("torpor_restores_last_day{outcome=\"failed\"} 0\n") && after.contains("torpor_restores_last_day{outcome=\"retried\"} 0\n"), "\(after)")
        #expect(after.contains("torpor_vms_saved_without_record{host=\"\(Self.host)\"} 0\n"), "\(after)")
        // web-02's plan restore had failed once before it was done, and web-01's safety restore before bob's wake brought
        // it back (another action): both retried. db-01's failed and none is done since: failed.
        let restore = try #require(try f.store.read { try JournalRepository.recent(limit: 1, vm: "web-02", in: $0) }.first)
        try f.executor().journal(JournalEntry(actionID: restore.actionID, planID: restore.planID, vm: "web-02", host: Self.host, kind: .restore, step: .failed, at: late - 60))
        try f.executor().journal(JournalEntry(actionID: "safety:web-01:1", planID: nil, vm: "web-01", host: Self.host, kind: .restore, step: .failed, at: Self.now + 1700))
        try f.executor().journal(JournalEntry(actionID: "safety:db-01:1", planID: nil, vm: "db-01", host: Self.host, kind: .restore, step: .failed, at: late + 20))
        try f.executor().journal(JournalEntry(actionID: "safety:db-01:2", planID: nil, vm: "db-01", host: Self.host, kind: .restore, step: .failed, at: late + 30))
        // api-01 found saved by the inventory, torpor not having put it to sleep: counted for as long as it lasts.
        try f.store.transaction { db in
            let id = try VMRepository.id(of: "api-01", in: db, now: Self.now)
            try VMRepository.setPlacement(vm: id, hostURI: Self.host, labels: [:], in: db)
            try VMRepository.setSaved(vm: id, true, now: late - 3 * 86_400, in: db)
            try VMRepository.setSaved(vm: id, true, now: late, in: db)
        }
        let failures = try ExecutionMetrics.render(store: f.store, now: late + 60, problems: [])
        #expect(failures.contains("torpor_vms_saved_without_record{host=\"\(Self.host)\"} 1\n"), "three days on: \(failures)")
        #expect(failures.contains("torpor_restores_last_day{outcome=\"failed\"} 1\n") && failures.contains("torpor_restores_last_day{outcome=\"retried\"} 2\n"),
                "\(failures)")
        // Prometheus's own checker of the format (and of its naming rules), reading it from a file (a checker that stops
        // early cannot break a pipe under the test).
        let file = f.dir + "/torpor.prom"
        try Data(overdue.utf8).write(to: URL(fileURLWithPath: file))
        let promtool = Process(), output = Pipe()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        promtool.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0 && said.isEmpty, "promtool: \(said)")
    }

    /// A restore that could not remove libvirt's older image of the VM (a job running on it, an error) is named by
    /// `check` for a day or until torpor acts on the VM again: a start after the guest's next shutdown would load that
    /// image over newer disks.
    @Test func aVMRunningBesideAnOlderSavedImageIsNamed() throws {
        let f = try Fixture()
        let detail = "from the state pool; libvirt may hold an older saved image of it (busy): " + Executor.staleImageLeft + " before the VM next starts"
        try f.executor().journal(JournalEntry(actionID: "r1", planID: "p", vm: "web-01", host: Self.host, kind: .restore, step: .done, at: Self.now, detail: detail))
        let told = try ExecutionCheck.problems(store: f.store, now: Self.now + 60, grace: 600)
        #expect(told.map(\.vm) == ["web-01"] && told[0].text.contains("RUNS BESIDE AN OLDER SAVED IMAGE"), "\(told.map(\.text))")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 86_400 + 60, grace: 600).isEmpty, "a day later")
        try f.executor().journal(JournalEntry(actionID: "h2", planID: "p", vm: "web-01", host: Self.host, kind: .hibernate, step: .skipped, at: Self.now + 120))
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 180, grace: 600).isEmpty, "acted on again")
    }

    /// A VM torpor has running, off with a libvirt image the restore that brought it back could not remove (older than
    /// its memory), is not woken from it: the start would load that memory over disks written since. A person is told
    /// what to do; without that note (an image saved since: libvirt-guests' at a host's shutdown) it is woken as before.
    /// (The test driver's images have no file: the journal's note decides; a file's date would.)
    @Test func aWakeNeverStartsAnImageOlderThanTheRun() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        _ = try f.executor().run(f.options(Self.now))
        _ = try f.executor().run(f.options(Self.at(6)))
        #expect(try f.state("web-01") == .running && f.state("web-02") == .running)
        try f.store.transaction { db in   // as a restore from the pool that could not remove libvirt's image records it
            try db.execute(sql: "UPDATE journal SET detail = detail || ?2 WHERE vm = ?1 AND kind = 'restore' AND step = 'done'",
                           arguments: ["web-01", "; libvirt may hold an older saved image of it (busy): " + Executor.staleImageLeft + " before the VM next starts"])
        }
        for vm in ["web-01", "web-02"] { try f.connection.domain(named: vm).managedSave() }   // the guest shut down beside it; web-02: saved since
        // An image file written now says nothing of a replay's made-up times: the note stands.
        var options = f.options(Self.at(7))
        options.managedSaveDirectory = f.dir + "/save"
        try FileManager.default.createDirectory(atPath: options.managedSaveDirectory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: options.managedSaveDirectory + "/web-01.save", contents: Data("image".utf8)))
        let refused = #expect(throws: ExecuteError.self) { try f.executor().wake(vm: "web-01", by: "bob", options: options) }
        #expect(refused?.kind == .needsPerson && refused?.description.contains("left an image older than its memory") == true
                && refused?.description.contains("virsh managedsave-remove web-01") == true, "\(String(describing: refused))")
        #expect(try f.state("web-01") == .shutOff)
        // A save torpor journaled since the restore's note (its record not written: a run killed after the save): the
        // image is that save's, woken.
        _ = try f.store.transaction { try JournalRepository.append(JournalEntry(actionID: "h-since", planID: nil, vm: "web-01", host: Self.host, kind: .hibernate,
                                                                                 step: .done, at: Self.at(6) + 600), in: $0) }
        #expect(try f.store.read { try JournalRepository.power(of: "web-01", in: $0) }?.state == .running)
        #expect(try f.executor().wake(vm: "web-02", by: "bob", options: f.options(Self.at(7))).map(\.event) == ["restored"])
        #expect(try f.executor().wake(vm: "web-01", by: "bob", options: options).map(\.event) == ["restored"])
    }

    /// A restore from the state pool that a killed run left open, whose VM may have run from the pool's copy (its disks
    /// changed since the save) and shut down, is not finished from libvirt's own, older image; one killed before the VM
    /// ran (the disks as the save left them: a rebuild cut short) is, with no pool needed.
    @Test func anInterruptedPoolRestoreStartsLibvirtsImageOnlyOnUnchangedDisks() throws {
        let f = try Fixture()
        try f.plan(["web-01": 0..<6, "web-02": 0..<6])
        _ = try f.executor().run(f.options(Self.now))
        var disks: [String: String] = [:]
        for vm in ["web-01", "web-02"] {
            let disk = f.dir + "/\(vm).img"
            #expect(FileManager.default.createFile(atPath: disk, contents: Data(repeating: 1, count: 4096)))
            disks[vm] = disk
            let identity = DiskIdentity.of(xml: "<disk type='file' device='disk'><source file='\(disk)'/></disk>", withTimes: true)
            try f.store.transaction { try $0.execute(sql: "UPDATE power SET disk_identity = ? WHERE vm = ?", arguments: [identity, vm]) }
            let wake = UnplannedWake.wake.actionID(vm: vm, at: Self.at(1))
            for step in [JournalEntry.Step.intent, .started] {
                try f.executor().journal(JournalEntry(actionID: wake, planID: nil, vm: vm, host: Self.host, kind: .restore, step: step, at: Self.at(1),
                                                      detail: step == .intent ? "woken by carol from the state pool" : Executor.fromThePool + ", as asked",
                                                      deadline: Self.at(1)))
            }
        }
        let written = try FileHandle(forWritingTo: URL(fileURLWithPath: disks["web-01"]!))   // the guest ran from the pool's copy
        try written.seekToEnd()
        try written.write(contentsOf: Data("new".utf8))
        try written.close()
        let events = try f.executor().run(f.options(Self.at(1) + 300))
        let refused = events.first { $0.vm == "web-01" && $0.event == "failed" }
        #expect(refused?.detail.contains("its disks changed since the save") == true && refused?.detail.contains("virsh managedsave-remove web-01") == true,
                "\(events.map(\.text))")
        #expect(try f.state("web-01") == .shutOff && f.connection.domain(named: "web-01").hasManagedSaveImage())
        #expect(events.contains { $0.vm == "web-02" && $0.event == "restored" }, "\(events.map(\.text))")
        #expect(try f.state("web-02") == .running)
        // The refusal holds on the passes after it (its restore is owed again), and against a person's wake.
        let later = try f.executor().run(f.options(Self.at(7)))
        #expect(later.contains { $0.vm == "web-01" && $0.event == "failed" && $0.detail.contains("its disks changed since the save") }, "\(later.map(\.text))")
        let woken = try f.executor().wake(vm: "web-01", by: "bob", options: f.options(Self.at(7) + 60))
        #expect(woken.map(\.event) == ["failed"], "\(woken.map(\.text))")
        #expect(try f.state("web-01") == .shutOff)
    }

    /// A hibernation waiting at `intent` whose plan still starts it is not stuck (a pass may still do it), unless an
    /// executor holds its VM past the grace (a save that hangs) or its plan no longer starts it (no executor has run
    /// since). One left `started` past the grace is stuck at once: no pass has reconciled it, and its save may have
    /// completed with no restore owed.
    @Test func anOpenHibernationIsStuckOnlyWhenItsVMIsHeldOrItsPlanNoLongerStartsIt() throws {
        let f = try Fixture()
        let plan = try f.plan(["web-01": 0..<10])
        let sleep = try #require(plan.actions.first { $0.action == .hibernate })
        try f.executor().journal(JournalEntry(actionID: sleep.id, planID: plan.id, vm: "web-01", host: Self.host, kind: .hibernate, step: .started, at: Self.now))
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1200, grace: 600).map(\.vm) == ["web-01"], "started, unreconciled")
        try f.executor().journal(JournalEntry(actionID: sleep.id, planID: plan.id, vm: "web-01", host: Self.host, kind: .hibernate, step: .intent, at: Self.now + 60))
        let locks = VMLocks(store: f.store.path)
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1200, grace: 600, locks: locks).isEmpty)
        do {
            let held = try locks.take("web-01")
            #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1200, grace: 600, locks: locks).map(\.vm) == ["web-01"])
            withExtendedLifetime(held) {}
        }
        #expect(try ExecutionCheck.problems(store: f.store, now: plan.validUntil.seconds + 1, grace: 600, locks: locks).map(\.vm) == ["web-01"])
        // Its plan unreadable in the store (written by a newer torpor, or damaged): the check names the open hibernation,
        // it does not fail as a whole.
        try f.store.transaction { try $0.execute(sql: "UPDATE plan SET body = ? WHERE id = ?", arguments: [Data("{}".utf8), plan.id]) }
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.now + 1200, grace: 600, locks: locks).map(\.vm) == ["web-01"])
    }
}

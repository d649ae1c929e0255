import Foundation
import GRDB
import Testing
import TorporCore
@testable import TorporExecute
import TorporIngest
import TorporPlan
import TorporStatePool
import TorporStore
import TorporTestSupport
import TorporTrain
import TorporVirt

/// torpor-execute against the real libvirtd and the real guest, whose init keeps a counter in RAM: plans made by the
/// planner, approved, executed; after every restore the counter continues from where it was, it does not restart at 1.
/// Times are virtual (`now`); the guest and libvirt are real.
@Suite(.serialized) struct ExecutorIntegrationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let start = UTC.epoch(year: 2030, month: 1, day: 7)

    /// The pre-flight's load as a quiet guest gives it: a second's sample, taken again (a minute at most) while it
    /// reads busy. A guest that just booted or woke is busy a while, more so on a loaded machine, and one sample would
    /// hold a hibernation the test plans (`heldWhileBusy` runs the real pre-flight against such a guest).
    struct QuietGuestLoad: LoadSource {
        func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double {
            var load = 100.0
            for _ in 0..<60 where load >= 25 { load = try SampledLoad(interval: 1).demand(of: domain, at: now) }
            return load
        }
    }

    struct Fixture {
        let guest: RealGuest
        let dir: String
        let store: Store

        init() throws {
            guest = try RealGuest(persistent: true)
            try guest.waitForCounter(atLeast: 3)
            dir = try ScratchDirectory.make("torpor-it-exec")
            store = try Store(path: dir + "/torpor.db")
            try waitUntilQuiet()
        }

        /// Waits, while the guest runs, up to a minute for a quiet second of it, then goes on regardless: a guest that
        /// just booted or woke is busy a while, more so on a loaded machine, and the pre-flight's sample would hold its
        /// hibernation.
        func waitUntilQuiet() throws {
            if try guest.domain.info().state == .running { _ = try QuietGuestLoad().demand(of: guest.domain, at: 0) }
        }

        /// Plans the guest idle for `idleHours` from `now` (policy: sleep under 50 %, restore at 60 %, valid 2 h) and
        /// approves it (in the fixture's store, else `into`); returns the plan.
        func plan(now: EpochSeconds, idleHours: Int, into other: Store? = nil) throws -> Plan {
            let store = other ?? store
            let forecast = QuantileForecast(start: now, quantiles: [0.5, 0.9, 0.99],
                                            values: (0..<24).map { $0 < idleHours ? [1, 2, 3] : [70, 80, 90] }, source: "crafted")
            let policy = try Policy.parse("""
                defaults: {tier: silver, hibernate_below: 50, restore_above: 60, min_idle: 1h}
                tiers: {silver: {quantile: 0.9, priority: 2}}
                guardrails: {max_hibernated_share: 1, min_running: 0}
                """, source: "test")
            let vm = PlanningVM(name: guest.name, host: RealGuest.uri, vcpus: 1, memoryBytes: 128 << 20, knownHours: 720, forecast: forecast)
            let plan = Planner.plan(PlanningInput(now: now, vms: [vm], events: [], policy: policy, policySHA256: "t", model: "crafted", dataWatermark: now))
            let bytes = plan.encoded()
            try Approvals.record(plan, bytes: bytes, demandCalls: [:], in: store)
            _ = try Approvals.approve(plan, bytes: bytes, source: "plan", only: nil, except: [], by: "it", now: now, in: store)
            return plan
        }

        func options(_ now: EpochSeconds) -> ExecutionOptions {
            var o = ExecutionOptions(now: now)
            o.pool = (dir + "/pool", 1 << 30)
            return o
        }

        var executor: Executor { Executor(store: store, load: QuietGuestLoad()) }

        /// Plans the guest asleep for 8 h from `now` and hibernates it without the state pool (libvirt's image only);
        /// returns the options it ran with.
        func hibernatedWithoutPool(now: EpochSeconds) throws -> ExecutionOptions {
            _ = try plan(now: now, idleHours: 8)
            var withoutPool = options(now)
            withoutPool.pool = nil
            #expect(try executor.run(withoutPool).map(\.event) == ["hibernated"])
            return withoutPool
        }

        /// Marks libvirt's saved image of the guest as a save that stopped, as a host's crash in the save leaves it (its
        /// header's magic); returns its path.
        func markSaveStopped(_ options: ExecutionOptions) throws -> String {
            let image = options.managedSaveDirectory + "/\(guest.name).save"
            let file = try #require(FileHandle(forWritingAtPath: image))
            try file.write(contentsOf: Data("LibvirtQemudPart".utf8))
            try file.close()
            return image
        }

        /// Asserts the guest is off with a saved state, and remembers its last counter.
        func assertAsleep(_ comment: Comment) throws -> Int {
            #expect(try guest.domain.info().state == .shutOff, comment)
            #expect(try guest.domain.hasManagedSaveImage(), comment)
            #expect(try store.read { try JournalRepository.power(in: $0)[guest.name]?.state } == .hibernated, comment)
            return try #require(guest.counter)
        }

        /// Asserts the guest runs and counts on from `before` (its RAM survived), not from 1, as the fixture's store (else
        /// `recordedIn`) says.
        func assertContinues(from before: Int, _ comment: Comment, recordedIn other: Store? = nil) throws {
            let store = other ?? store
            #expect(try guest.domain.info().state == .running, comment)
            try guest.waitForCounter(atLeast: before + 2)
            let printed = guest.counters
            let next = printed[printed.lastIndex(of: before)! + 1]
            #expect(next == before + 1, "\(comment): the counter continues from RAM (\(before) → \(next))")
            #expect(try store.read { try JournalRepository.power(in: $0)[guest.name]?.state } == .running, comment)
        }

        /// The journal's steps of one action.
        func steps(_ actionID: String) throws -> [JournalEntry.Step] {
            try store.read { try JournalRepository.recent(limit: 1000, vm: guest.name, in: $0) }.reversed().filter { $0.actionID == actionID }.map(\.step)
        }
    }

    @Test func hibernateThenRestoreAfterThePlanExpiredAndTheCounterContinues() throws {
        let f = try Fixture()
        let plan = try f.plan(now: Self.start, idleHours: 5)
        let restore = try #require(plan.actions.first { $0.action == .restore })
        #expect(restore.at.seconds > plan.validUntil.seconds, "the sleep outlasts the plan's validity")
        let events = try f.executor.run(f.options(Self.start))
        #expect(events.map(\.event) == ["hibernated", "pooled"], "\(events.map(\.text))")
        #expect(events.last?.detail.contains("state pool image") == true)
        let before = try f.assertAsleep("after the hibernation")
        // Before its restore is due nothing happens, then the restore runs although the plan has expired.
        #expect(try f.executor.run(f.options(restore.at.seconds - 600)).isEmpty)
        #expect(try f.executor.run(f.options(restore.at.seconds)).map(\.event) == ["restored"])
        try f.assertContinues(from: before, "restored after expiry")
    }

    @Test func wakeRestoresAtOnce() throws {
        let f = try Fixture()
        _ = try f.plan(now: Self.start, idleHours: 8)
        try f.executor.run(f.options(Self.start))
        let before = try f.assertAsleep("hibernated")
        #expect(try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(Self.start + 60)).map(\.event) == ["restored"])
        try f.assertContinues(from: before, "woken")
    }

    /// A full disk under the store (hibernated VMs' images fill disks) keeps no VM asleep: a wake opens the store by
    /// giving back the room kept beside it, and brings the guest back with its memory. Meanwhile the collector records
    /// nothing, a run starts no hibernation, and check names the filesystem until room is freed.
    @Test func aFullDiskUnderTheStoreStopsNoWake() throws {
        let f = try Fixture()
        _ = try f.hibernatedWithoutPool(now: Self.start)
        let before = try f.assertAsleep("hibernated")
        let disk = try SmallFilesystem(megabytes: 64)
        let path = disk.path + "/torpor.db"
        try f.store.pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [path]) }   // the store, moved there
        func at(_ seconds: EpochSeconds) -> [String] { ["--db", path, "--now", UTC.format(Self.start + seconds)] }
        let collector = ["libvirt", "--uri", RealGuest.uri, "--replay"] + at(60)
        #expect(try runTool("torpor-ingest", collector).status == 0)
        #expect(StoreReserve(store: path).isHeld, "made by a stage")
        try disk.fill()
        let collected = try runTool("torpor-ingest", collector)
        #expect(collected.status == 1 && collected.stderr.contains("this stage records nothing until room is freed there"), "\(collected)")
        let woken = try runTool("torpor-execute", ["wake", f.guest.name, "--by", "it", "--replay"] + at(120))
        #expect(woken.status == 0 && woken.stderr.contains("is given back so that restores and wakes go on"), "\(woken)")
        // Switching the standing approval off is never refused: no new plan is approved by it.
        #expect(try runTool("torpor-plan", ["standing", "off", "--by", "it"] + at(150)).status == 0)
        let moved = try Store(path: path)
        try f.assertContinues(from: before, "woken on a full disk", recordedIn: moved)
        // The next plan's hibernation is held: its journal might not be written.
        _ = try f.plan(now: Self.start + 7200, idleHours: 8, into: moved)
        let run = try runTool("torpor-execute", ["run", "--replay", "--load-interval", "0.5"] + at(7200))
        #expect(run.status == 0 && run.stderr.contains("skipped \(f.guest.name): the store's filesystem has") && run.stderr.contains("no new hibernation may start"), "\(run)")
        #expect(try f.guest.domain.info().state == .running)
        let full = try runTool("torpor-execute", ["check"] + at(7200))
        #expect(full.status == 4 && full.stdout.contains("\(path): FILESYSTEM FULL"), "\(full)")
        disk.empty()
        let freed = try runTool("torpor-execute", ["check"] + at(7200))
        #expect(!freed.stdout.contains("FILESYSTEM FULL") && StoreReserve(store: path).isHeld, "made again: \(freed)")
    }

    /// A VM saved by hand (`virsh managedsave`), without torpor's record of it, is owed no restore: check names it once
    /// the inventory has found it, and a wake of every VM asleep brings it back with its memory, after which check is quiet.
    @Test func aVMSavedByHandIsNamedThenWoken() throws {
        let f = try Fixture()
        let at = ["--db", f.store.path, "--now", UTC.format(Self.start + 60)]
        try f.guest.domain.managedSave()
        let before = try #require(f.guest.counter)
        #expect(try runTool("torpor-ingest", ["inventory", "--uri", RealGuest.uri, "--replay"] + at).status == 0)
        let told = try runTool("torpor-execute", ["check"] + at)
        #expect(told.status == 4 && told.stdout.contains("\(f.guest.name) on \(RealGuest.uri): SAVED WITHOUT TORPOR'S RECORD"), "\(told)")
        // Every VM asleep of a label only this guest has: the libvirtd is shared with the other suites' guests, which the
        // inventory may have found saved in their own tests.
        try f.store.transaction { try VMRepository.setPlacement(vm: try VMRepository.id(of: f.guest.name, in: $0, now: Self.start), hostURI: RealGuest.uri,
                                                                 labels: ["test": f.guest.name], in: $0) }
        let only = ["--label", "test=\(f.guest.name)"]
        let listed = try runTool("torpor-execute", ["wake", "--all", "--dry-run", "--host", RealGuest.uri] + only + at)
        #expect(listed.status == 0 && listed.stderr.contains("would-restore \(f.guest.name): woken by"), "\(listed)")
        #expect(try f.guest.domain.info().state == .shutOff, "a dry run wakes none")
        let woken = try runTool("torpor-execute", ["wake", "--all", "--by", "it", "--replay"] + only + at)
        #expect(woken.status == 0 && woken.stderr.contains("woke 1 of 1 asleep")
                && woken.stderr.contains("woken by it: every sleeping VM labelled test=\(f.guest.name) (saved without torpor's record)"), "\(woken)")
        try f.assertContinues(from: before, "woken after a save by hand")
        // A minute later: the wake's records are timed on its own clock (`--now` and the seconds it took), and a check
        // at the wake's `--now` read them as not yet made when the wake took a second or more (a loaded machine).
        let quiet = try runTool("torpor-execute", ["check", "--db", f.store.path, "--now", UTC.format(Self.start + 120)])
        #expect(!quiet.stdout.contains("\(f.guest.name) on \(RealGuest.uri): SAVED WITHOUT TORPOR'S RECORD"), "\(quiet)")
    }

    @Test func restoreFromThePoolWhenAsked() throws {
        let f = try Fixture()
        _ = try f.plan(now: Self.start, idleHours: 8)
        let events = try f.executor.run(f.options(Self.start))
        #expect(events.map(\.event) == ["hibernated", "pooled"], "\(events.map(\.text))")
        let before = try f.assertAsleep("hibernated into the pool")
        #expect(try f.store.read { try JournalRepository.power(in: $0)[f.guest.name]?.manifestID } != nil, "the sleep knows its pool image")
        // The pool's filesystem cannot take the rebuilt image (here a directory is in the way of its name; a full or
        // read-only filesystem alike): it is rebuilt beside libvirt's own images instead, and removed once restored.
        let options = f.options(Self.start + 60)
        let blocked = try #require(options.pool).directory + "/\(f.guest.name)" + StatePool.restoreImageSuffix
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        let woken = try f.executor.wake(vm: f.guest.name, by: "it", fromPool: true, options: options)
        #expect(woken.map(\.event) == ["restored"], "\(woken.map(\.text))")
        #expect(!FileManager.default.fileExists(atPath: options.managedSaveDirectory + "/\(f.guest.name)" + StatePool.restoreImageSuffix))
        let journaled = try f.store.read { try JournalRepository.recent(limit: 1, vm: f.guest.name, in: $0) }
        #expect(journaled.first?.step == .done, "restored, the image rebuilt beside libvirt's")
        // The rebuild that could not be moved into place left no partial image beside it, nor beside libvirt's.
        for directory in [try #require(options.pool).directory, options.managedSaveDirectory] {
            #expect(try !FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasSuffix(StatePool.partialSuffix) }, "\(directory)")
        }
        try FileManager.default.removeItem(atPath: blocked)
        try f.assertContinues(from: before, "restored from the pool")
        #expect(try !f.guest.domain.hasManagedSaveImage(), "libvirt's older image is gone once the pool's copy runs")
        let journal = try f.store.read { try JournalRepository.recent(limit: 2, vm: f.guest.name, in: $0) }
        #expect(journal.last?.detail == "from the state pool, as asked")
        // Asleep again with its image in libvirt only: the pool's image is of the earlier sleep, whose memory would not
        // match the disks now. Refused; the VM keeps its saved state, and wakes from it.
        _ = try f.plan(now: Self.start + 3600, idleHours: 8)
        var withoutPool = f.options(Self.start + 3600)
        withoutPool.pool = nil
        #expect(try f.executor.run(withoutPool).map(\.event) == ["hibernated"])
        let again = try f.assertAsleep("asleep again, libvirt's image only")
        let refused = try f.executor.wake(vm: f.guest.name, by: "it", fromPool: true, options: f.options(Self.start + 3700))
        #expect(refused.map(\.event) == ["failed"] && refused.first?.detail.contains("no image of \(f.guest.name)'s current sleep") == true
                && refused.first?.detail.contains("not in the pool: saved by a run without it") == true
                && refused.first?.detail.contains("`torpor-execute wake \(f.guest.name)` restores it from libvirt's own image") == true, "\(refused.map(\.text))")
        #expect(try f.guest.domain.info().state == .shutOff && f.guest.domain.hasManagedSaveImage())
        #expect(try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(Self.start + 3800)).map(\.event) == ["restored"])
        try f.assertContinues(from: again, "woken from libvirt's image")
    }

    /// A disk plugged into the running guest alone (`virsh attach-disk --live`: its definition does not list it, nor
    /// does libvirt's answer for it once it is off) is in the saved image, which a restore opens: the pool's image is
    /// taken with it in the disks' identity (from the managed-save image's definition), and a restore from the pool after
    /// a write to it is refused; libvirt's own image, of the same sleep, still wakes the VM with its memory.
    @Test func aDiskPluggedIntoTheRunningVMIsCheckedBeforeAPoolRestore() throws {
        let f = try Fixture()
        let disk = f.dir + "/plugged.img"
        #expect(FileManager.default.createFile(atPath: disk, contents: Data(count: 1 << 20)))
        let attach = Process()
        attach.executableURL = URL(fileURLWithPath: "/usr/bin/virsh")
        attach.arguments = ["-c", RealGuest.uri, "attach-disk", f.guest.name, disk, "sdb", "--live", "--targetbus", "usb"]
        try attach.run()
        attach.waitUntilExit()
        #expect(attach.terminationStatus == 0, "virsh attach-disk")
        #expect(try f.guest.domain.xmlDescription().contains(disk))
        _ = try f.plan(now: Self.start, idleHours: 8)
        #expect(try f.executor.run(f.options(Self.start)).map(\.event) == ["hibernated", "pooled"])
        let before = try f.assertAsleep("hibernated into the pool with the plugged disk")
        #expect(try !f.guest.domain.xmlDescription().contains(disk), "the definition of the VM off does not list it")
        let recorded = try #require(try f.store.read { try JournalRepository.power(in: $0)[f.guest.name]?.diskIdentity })
        #expect(recorded.hasPrefix(disk + ":\(1 << 20) mtime="), "\(recorded)")
        // Written while the VM sleeps (by hand, or another VM sharing it): its memory would not match it.
        let handle = try #require(FileHandle(forWritingAtPath: disk))
        try handle.write(contentsOf: Data("written".utf8))
        try handle.close()
        let refused = try f.executor.wake(vm: f.guest.name, by: "it", fromPool: true, options: f.options(Self.start + 60))
        #expect(refused.map(\.event) == ["failed"] && refused.first?.detail.contains("its disks changed since the image") == true, "\(refused.map(\.text))")
        #expect(try f.guest.domain.info().state == .shutOff && f.guest.domain.hasManagedSaveImage(), "nothing lost")
        #expect(try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(Self.start + 120)).map(\.event) == ["restored"])
        try f.assertContinues(from: before, "woken from libvirt's image")
    }

    /// A VM asleep on a host gone for good, defined again on another (here the same libvirtd under another name, the
    /// host it slept on made to answer nothing): `restore --from-pool --onto` brings it back there with its memory,
    /// once the old host is known not to have it; refused while the old host still has the domain (two copies would
    /// run), or cannot say without `hostGone`.
    @Test func aSleepIsRestoredFromThePoolOntoAnotherHost() throws {
        let f = try Fixture()
        try f.store.transaction { try VMRepository.setPlacement(vm: try VMRepository.id(of: f.guest.name, in: $0, now: Self.start), hostURI: RealGuest.uri, labels: [:], in: $0) }
        _ = try f.plan(now: Self.start, idleHours: 8)
        #expect(try f.executor.run(f.options(Self.start)).map(\.event) == ["hibernated", "pooled"])
        let before = try f.assertAsleep("hibernated into the pool")
        let newHost = "qemu+ssh://torpor-new-host.invalid/system"
        let twice = #expect(throws: ExecuteError.self) {
            try f.executor.wake(vm: f.guest.name, by: "it", fromPool: true, onto: newHost, hostGone: true, options: f.options(Self.start + 60))
        }
        #expect(twice?.kind == .badInput && twice?.message.contains("libvirt on \(RealGuest.uri) still has \(f.guest.name) (shutOff)") == true
                && twice?.message.contains("nothing restored") == true, "\(String(describing: twice))")
        // The host it slept on is gone: it answers nothing; its saved image went with it.
        try f.guest.domain.removeManagedSaveImage()
        struct Gone: Error {}
        let afterTheLoss = Executor(store: f.store, load: QuietGuestLoad(), connect: { uri in
            guard uri == newHost else { throw Gone() }
            return try VirtConnection.open(uri: RealGuest.uri)
        })
        let unsure = #expect(throws: ExecuteError.self) {
            try afterTheLoss.wake(vm: f.guest.name, by: "it", fromPool: true, onto: newHost, options: f.options(Self.start + 120))
        }
        #expect(unsure?.kind == .runtime && unsure?.message.contains("cannot say whether \(f.guest.name) is there") == true, "\(String(describing: unsure))")
        #expect(try f.store.read { try JournalRepository.power(in: $0)[f.guest.name] }?.state == .hibernated, "nothing restored")
        let woken = try afterTheLoss.wake(vm: f.guest.name, by: "it", fromPool: true, onto: newHost, hostGone: true, options: f.options(Self.start + 180))
        #expect(woken.map(\.event) == ["restored"] && woken[0].host == newHost
                && woken[0].detail.contains("woken by it from the state pool onto \(newHost): \(RealGuest.uri) is gone for good, said it"), "\(woken.map(\.text))")
        try f.assertContinues(from: before, "restored onto the new host from the pool")
        let power = try #require(try f.store.read { try JournalRepository.power(in: $0)[f.guest.name] })
        #expect(power.state == .running && power.host == newHost)
        let done = try f.store.read { try JournalRepository.recent(limit: 1, vm: f.guest.name, in: $0) }.first
        #expect(done?.step == .done && done?.host == newHost && done?.detail == "from the state pool (libvirt's image is gone)", "\(String(describing: done))")
        // The store places it on the new host (the old one, back with a stale copy, would hold a name placed elsewhere);
        // a later pass owes it nothing, and nothing about it needs a person.
        #expect(try f.store.read { try VMRepository.all(in: $0) }.first { $0.name == f.guest.name }?.hostURI == newHost)
        #expect(try afterTheLoss.run(f.options(Self.start + 240)).allSatisfy { $0.vm != f.guest.name })
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.start + 300, grace: 600).allSatisfy { $0.vm != f.guest.name })
    }

    /// libvirt's own saved image damaged after the sleep reached the pool (a storage fault, a cut copy): libvirt's start
    /// fails, and the pool's copy of the same sleep brings the VM back with its memory; the damaged image is removed
    /// (a later start would try it again), and the restore says what happened.
    @Test func aSleepWhoseLibvirtImageWillNotStartIsRestoredFromThePool() throws {
        let f = try Fixture()
        _ = try f.plan(now: Self.start, idleHours: 8)
        let events = try f.executor.run(f.options(Self.start))
        #expect(events.map(\.event) == ["hibernated", "pooled"], "\(events.map(\.text))")
        let before = try f.assertAsleep("hibernated into the pool")
        let image = f.options(Self.start).managedSaveDirectory + "/\(f.guest.name).save"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: image)[.size] as? Int)
        #expect(truncate(image, off_t(size / 2)) == 0, "libvirt's image cut in half")
        let woken = try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(Self.start + 60))
        #expect(woken.map(\.event) == ["restored"], "\(woken.map(\.text))")
        #expect(woken.first?.detail.hasPrefix("libvirt's saved image did not start (") == true
                && woken.first?.detail.contains("restored from the state pool; libvirt's older saved image of it removed") == true, "\(woken.map(\.text))")
        #expect(woken.first?.detail.contains("\n") == false && woken.first?.detail.contains(": qemu unexpectedly closed the monitor: qemu-system-x86_64: ") == true,
                "QEMU's lines of error, passed on by libvirt, read as one line without their changing timestamps")
        try f.assertContinues(from: before, "restored from the pool's copy")
        #expect(try !f.guest.domain.hasManagedSaveImage())
        let journal = try f.store.read { try JournalRepository.recent(limit: 1, vm: f.guest.name, in: $0) }
        #expect(journal.first?.step == .done && journal.first?.detail.hasPrefix("from the state pool (libvirt's saved image did not start: ") == true,
                "\(journal)")
    }

    /// libvirt's image of a pooled sleep left incomplete (a save the host's crash stopped: libvirt's header says so) or
    /// gone: libvirt's start would boot the VM afresh, its memory lost, and call that a success. The pool's copy brings
    /// it back instead, with its memory.
    @Test func aPooledSleepWhoseLibvirtImageIsIncompleteIsRestoredFromThePool() throws {
        let f = try Fixture()
        _ = try f.plan(now: Self.start, idleHours: 8)
        #expect(try f.executor.run(f.options(Self.start)).map(\.event) == ["hibernated", "pooled"])
        let before = try f.assertAsleep("hibernated into the pool")
        let image = try f.markSaveStopped(f.options(Self.start))
        let woken = try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(Self.start + 60))
        #expect(woken.map(\.event) == ["restored"], "\(woken.map(\.text))")
        try f.assertContinues(from: before, "restored from the pool's copy, not booted afresh")
        let journal = try f.store.read { try JournalRepository.recent(limit: 1, vm: f.guest.name, in: $0) }
        #expect(journal.first?.detail.hasPrefix("from the state pool (libvirt's saved image at \(image) is incomplete (a save that stopped))") == true,
                "\(journal)")
        #expect(try !f.guest.domain.hasManagedSaveImage())
    }

    /// `wake --all` without the store leaves a sleep whose image was cut behind libvirt's back (libvirt's flag still
    /// says saved): started, libvirt would boot it afresh, writing its disks, and the pool's copy of its memory, if any,
    /// could never be restored. The image whole again, the same wake brings it back with its memory.
    @Test func aWakeWithoutTheStoreLeavesASleepWhoseImageLibvirtCannotRead() throws {
        let f = try Fixture()
        let labelled = Process()
        labelled.executableURL = URL(fileURLWithPath: "/usr/bin/virsh")
        labelled.arguments = ["-c", RealGuest.uri, "metadata", f.guest.name, InventoryIngester.labelsNamespace, "--key", "torpor",
                              "--set", "<labels>test=\(f.guest.name)</labels>", "--config"]
        try labelled.run()
        labelled.waitUntilExit()
        #expect(labelled.terminationStatus == 0, "virsh metadata")
        let withoutPool = try f.hibernatedWithoutPool(now: Self.start)
        let before = try f.assertAsleep("hibernated, libvirt's image only")
        let image = withoutPool.managedSaveDirectory + "/\(f.guest.name).save"
        let whole = try Data(contentsOf: URL(fileURLWithPath: image))
        _ = try f.markSaveStopped(withoutPool)
        #expect(try f.guest.domain.hasManagedSaveImage(), "libvirt's flag still says saved")
        let wake = ["wake", "--all", "--db", f.dir + "/gone/torpor.db", "--host", RealGuest.uri, "--label", "test=\(f.guest.name)"]
        let left = try runTool("torpor-execute", wake)
        #expect(left.status == 1 && left.stderr.contains("\(f.guest.name) on \(RealGuest.uri): libvirt cannot use its saved image (")
                && left.stderr.contains("save image is incomplete") && left.stderr.contains("not started (libvirt boots a VM whose image is gone or cut afresh"),
                "\(left)")
        #expect(try f.guest.domain.info().state == .shutOff)
        try whole.write(to: URL(fileURLWithPath: image))
        let woken = try runTool("torpor-execute", wake)
        #expect(woken.status == 0 && woken.stderr.contains("woke \(f.guest.name) on \(RealGuest.uri)"), "\(woken)")
        try f.guest.waitForCounter(atLeast: before + 2)
        let printed = f.guest.counters
        #expect(printed[printed.lastIndex(of: before)! + 1] == before + 1, "the counter continues from RAM")
    }

    /// A save the host's crash cut short (libvirt's header still says the save stopped), the run that started it gone:
    /// the next run reconciles it as a failed hibernation, not a sleep (the memory is lost: a restore at the planned
    /// hour would only boot it then). The VM runs again at once (booted afresh), no restore is owed, and `check` names it.
    @Test func aSaveCutShortIsReconciledAsAFailedHibernationAndTheVMRunsAgain() throws {
        let f = try Fixture()
        let withoutPool = try f.hibernatedWithoutPool(now: Self.start)
        // As the killed run left it: the hibernation `started`, the VM off with an image whose header says the save stopped.
        try f.store.transaction { db in
            try db.execute(sql: "DELETE FROM journal WHERE vm = ? AND kind = 'hibernate' AND step = 'done'", arguments: [f.guest.name])
            try db.execute(sql: "INSERT INTO journal_open (action_id, id) SELECT action_id, id FROM journal WHERE vm = ? AND kind = 'hibernate' AND step = 'started'",
                           arguments: [f.guest.name])
            try db.execute(sql: "DELETE FROM power WHERE vm = ?", arguments: [f.guest.name])
        }
        let image = try f.markSaveStopped(withoutPool)
        var later = withoutPool
        later.now = Self.start + 120
        let events = try f.executor.run(later)
        let failed = events.filter { $0.event == "failed" }
        #expect(failed.count == 1 && failed[0].detail.contains("left libvirt's saved image at \(image) is incomplete (a save that stopped): the VM's memory is lost; BOOTED AFRESH"),
                "\(events.map(\.text))")
        #expect(try f.guest.domain.info().state == .running)
        #expect(try f.store.read { try DueActions.owedRestores(now: later.now + 86_400, replaying: false, in: $0) }.isEmpty, "no restore owed")
        let told = try ExecutionCheck.problems(store: f.store, now: later.now + 600, grace: 600).map(\.text)
        #expect(told.count == 1 && told[0].hasPrefix("\(f.guest.name) on \(RealGuest.uri): DOWN after its hibernation "), "\(told)")
    }

    /// Without the pool's copy, a restore that libvirt turns into a boot (its image gone while it still records one) is
    /// not a quiet success: the event log has a failure, and `check` names the VM for a day.
    @Test func aRestoreLibvirtBootedAfreshIsToldAsMemoryLost() throws {
        let f = try Fixture()
        let withoutPool = try f.hibernatedWithoutPool(now: Self.start)
        _ = try f.assertAsleep("hibernated, libvirt's image only")
        try FileManager.default.removeItem(atPath: withoutPool.managedSaveDirectory + "/\(f.guest.name).save")
        #expect(try f.guest.domain.hasManagedSaveImage(), "libvirt still records the image it no longer has")
        // A person's wake, as an operator runs it: the VM is back, but without its memory, which needs a person (exit 4).
        let woken = try runTool("torpor-execute", ["wake", f.guest.name, "--by", "it", "--db", f.store.path, "--now", UTC.format(Self.start + 60), "--replay"])
        #expect(woken.status == 4 && woken.stderr.contains("warning: restore: BOOTED AFRESH: libvirt found no complete saved image"), "\(woken)")
        #expect(try f.guest.domain.info().state == .running)
        let told = try ExecutionCheck.problems(store: f.store, now: Self.start + 3600, grace: 600).map(\.text)
        #expect(told.count == 1 && told[0].contains("\(f.guest.name) on \(RealGuest.uri): BOOTED AFRESH by its restore at "), "\(told)")
        #expect(try ExecutionCheck.problems(store: f.store, now: Self.start + 2 * 86_400, grace: 600).isEmpty, "named for a day")
        // The same through a pin, which wakes a sleeper: pinned, back, and told as memory lost (exit 4).
        var later = withoutPool
        later.now = Self.start + 3 * 86_400
        _ = try f.plan(now: later.now, idleHours: 8)
        // The guest booted a moment ago and is busy a while (the pre-flight holds its hibernation until it is quiet).
        var slept = false
        for _ in 0..<60 where !slept {
            slept = try f.executor.run(later).contains { $0.event == "hibernated" }
            if !slept { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(slept)
        try FileManager.default.removeItem(atPath: later.managedSaveDirectory + "/\(f.guest.name).save")
        try f.store.transaction { db in   // known to the store, as the collector makes it (pin refuses a VM it does not know)
            try VMRepository.setPlacement(vm: try VMRepository.id(of: f.guest.name, in: db, now: later.now), hostURI: RealGuest.uri, labels: [:], in: db)
        }
        let pinned = try runTool("torpor-execute", ["pin", f.guest.name, "--by", "it", "--db", f.store.path, "--now", UTC.format(later.now + 60), "--replay"])
        #expect(pinned.status == 4 && pinned.stdout.contains("pinned awake") && pinned.stderr.contains("warning: restore: BOOTED AFRESH"), "\(pinned)")
        #expect(try f.guest.domain.info().state == .running)
        // Once more with a store that refuses the pin: not pinned, awake, and the lost memory still told (exit 4).
        #expect(try runTool("torpor-execute", ["unpin", f.guest.name, "--db", f.store.path, "--now", UTC.format(later.now + 120)]).status == 0)
        later.now += 86_400
        _ = try f.plan(now: later.now, idleHours: 8)
        slept = false
        for _ in 0..<60 where !slept {
            slept = try f.executor.run(later).contains { $0.event == "hibernated" }
            if !slept { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(slept)
        try FileManager.default.removeItem(atPath: later.managedSaveDirectory + "/\(f.guest.name).save")
        try f.store.transaction { try $0.execute(sql: "CREATE TRIGGER refuse_pins BEFORE INSERT ON pin BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END") }
        let unpinned = try runTool("torpor-execute", ["pin", f.guest.name, "--by", "it", "--db", f.store.path, "--now", UTC.format(later.now + 60), "--replay"])
        #expect(unpinned.status == 4 && unpinned.stderr.contains("could not be pinned (") && unpinned.stderr.contains("it is awake, without its memory (restore: BOOTED AFRESH"),
                "\(unpinned)")
        #expect(try f.guest.domain.info().state == .running)
    }

    /// When the pool cannot restore the sleep either (here: its directory gone), the restore fails keeping the saved
    /// state, and the passes of the next 15 min do not rebuild the image again (a start failing for another cause would
    /// fail from the pool too), nor does a restore of another kind (a pin's); a pass after them tries the pool again,
    /// and after a second failure the wait doubles; a person's plain `wake` tries the pool at once.
    @Test func aPoolThatCannotRestoreEitherIsTriedAgainLessAndLessOften() throws {
        let f = try Fixture()
        let plan = try f.plan(now: Self.start, idleHours: 5)
        let restore = try #require(plan.actions.first { $0.action == .restore })
        #expect(try f.executor.run(f.options(Self.start)).map(\.event) == ["hibernated", "pooled"])
        let before = try f.assertAsleep("hibernated into the pool")
        let image = f.options(Self.start).managedSaveDirectory + "/\(f.guest.name).save"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: image)[.size] as? Int)
        #expect(truncate(image, off_t(size / 2)) == 0, "libvirt's image cut in half")
        let pool = f.dir + "/pool"
        try FileManager.default.moveItem(atPath: pool, toPath: pool + ".away")
        let t = restore.at.seconds
        let first = try f.executor.run(f.options(t))
        #expect(first.map(\.event) == ["failed"] && first[0].detail.contains("did not start (") && first[0].detail.contains("nor could the state pool restore it"),
                "\(first.map(\.text))")
        // When the pool's latest failure was journaled (the executor's clock runs on from `now` while it works).
        func latestPoolFailure() throws -> EpochSeconds {
            try #require(try f.store.read { try JournalRepository.recent(limit: 50, vm: f.guest.name, in: $0) }
                .first { $0.detail.contains("nor could the state pool restore it") }).at
        }
        let second = try f.executor.run(f.options(t + 120))
        let firstRetry = UTC.format(try latestPoolFailure() + 900)
        #expect(second.map(\.event) == ["failed"]
                && second[0].detail.contains("the state pool failed too for this sleep, once; tried again from \(firstRetry)"),
                "\(second.map(\.text))")
        try f.store.transaction { try JournalRepository.pin(PinRecord(vm: f.guest.name, until: nil, pinnedBy: "carol", pinnedAt: t + 150), in: $0) }
        let pinned = try f.executor.run(f.options(t + 180))
        #expect(pinned.map(\.event) == ["failed"] && pinned[0].detail.contains("the state pool failed too for this sleep"), "\(pinned.map(\.text))")
        let again = try f.executor.run(f.options(try latestPoolFailure() + 900))
        #expect(again.map(\.event) == ["failed"] && again[0].detail.contains("nor could the state pool restore it"), "\(again.map(\.text))")
        let held = try f.executor.run(f.options(try latestPoolFailure() + 1700))
        let secondRetry = UTC.format(try latestPoolFailure() + 1800)
        #expect(held.map(\.event) == ["failed"] && held[0].detail.contains("2 times; tried again from \(secondRetry)"),
                "\(held.map(\.text))")
        #expect(try f.guest.domain.info().state == .shutOff && f.guest.domain.hasManagedSaveImage(), "the saved state is kept")
        try? FileManager.default.removeItem(atPath: pool)
        try FileManager.default.moveItem(atPath: pool + ".away", toPath: pool)
        let woken = try f.executor.wake(vm: f.guest.name, by: "it", options: f.options(try latestPoolFailure() + 1750))
        #expect(woken.map(\.event) == ["restored"] && woken[0].detail.contains("restored from the state pool"), "\(woken.map(\.text))")
        try f.assertContinues(from: before, "restored from the pool by a person")
    }

    /// A VM held up for good: the guest's QEMU stopped (SIGSTOP), so libvirtd still answers keepalives but its save
    /// waits on QEMU for ever, which no timeout ends. The run held there serves the other host (libvirt's test driver)
    /// all the same; the next run restores a second real guest on the same host and skips only the held VM; once QEMU
    /// answers, the save completes as usual.
    @Test func aVMWhoseQEMUStopsAnsweringHoldsUpOnlyItself() throws {
        let f = try Fixture()
        let testHost = "test://" + Self.repository + "/sample-data/fleet.xml"
        let test = try VirtConnection(uri: testHost)
        try test.domain(named: "web-01").managedSave()
        try f.store.transaction { try JournalRepository.setPower(PowerRecord(vm: "web-01", host: testHost, state: .hibernated, since: Self.start, actionID: "by-hand"), in: $0) }
        let plan = try f.plan(now: Self.start, idleHours: 5)
        let neighbour = try RealGuest(persistent: true)
        try neighbour.waitForCounter(atLeast: 2)
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/\(f.guest.name).pid", encoding: .utf8)
        let qemu = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(qemu, SIGSTOP)
        defer { kill(qemu, SIGCONT) }
        let locks = VMLocks(store: f.store.path)
        let connect: @Sendable (String) throws -> VirtConnection = { $0 == testHost ? test : try VirtConnection.open(uri: $0) }
        final class Outcome: @unchecked Sendable { var events: [ExecutionEvent] = []; var error: Error? }
        let outcome = Outcome(), done = DispatchSemaphore(value: 0)
        let held = Executor(store: f.store, load: QuietGuestLoad(), locks: locks, connect: connect)
        let options = f.options(Self.start)
        Thread.detachNewThread {
            do { outcome.events = try held.run(options) } catch { outcome.error = error }
            done.signal()
        }
        // web-01, on the other host, comes back while the run is held up on the guest's.
        let deadline = Date().addingTimeInterval(30)
        while try test.domain(named: "web-01").info().state != .running, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try test.domain(named: "web-01").info().state == .running)
        #expect(done.wait(timeout: .now() + 3) == .timedOut, "the run is held up on the guest's save")
        // Meanwhile the neighbour, on the same host, is put to sleep by hand (its restore owed at once): the next cron
        // run restores it, leaves the held VM alone naming the holder, and ends.
        let counted = try #require(neighbour.counter)
        try neighbour.domain.managedSave()
        try f.store.transaction { try JournalRepository.setPower(PowerRecord(vm: neighbour.name, host: RealGuest.uri, state: .hibernated, since: Self.start, actionID: "by-hand"), in: $0) }
        let next = try Executor(store: f.store, load: QuietGuestLoad(), locks: locks, connect: connect).run(f.options(Self.start + 120))
        #expect(Set(next.map { "\($0.event) \($0.vm ?? "")" }) == ["skipped \(f.guest.name)", "restored \(neighbour.name)"] && next.count == 2,
                "\(next.map(\.text))")   // side by side: in either order
        #expect(next.first { $0.vm == f.guest.name }?.detail.contains("pid \(ProcessInfo.processInfo.processIdentifier)") == true)
        #expect(try neighbour.domain.info().state == .running)
        try neighbour.waitForCounter(atLeast: counted + 2)
        // QEMU answers again: the held save completes, the guest sleeps with its state and comes back counting on.
        kill(qemu, SIGCONT)
        #expect(done.wait(timeout: .now() + 180) == .success, "the held run ends once QEMU answers")
        #expect(outcome.error == nil && outcome.events.map(\.event).contains("hibernated"), "\(outcome.events.map(\.text))")
        let before = try f.assertAsleep("saved once QEMU answered")
        let restore = try #require(plan.actions.first { $0.action == .restore })
        #expect(try f.executor.run(f.options(restore.at.seconds)).map(\.event) == ["restored"])
        try f.assertContinues(from: before, "restored after the held save")
    }

    /// A pool restore killed after its VM came back but before libvirt's own image was removed leaves the VM running
    /// beside an image older than its memory (a start after a shutdown would load it over newer disks): the pass that
    /// finishes the restore removes it.
    @Test func aStaleLibvirtImageBesideARunningVMIsRemoved() throws {
        let f = try Fixture()
        _ = try f.plan(now: Self.start, idleHours: 8)
        #expect(try f.executor.run(f.options(Self.start)).map(\.event) == ["hibernated", "pooled"])
        let before = try f.assertAsleep("hibernated")
        let copy = f.dir + "/copy.save"
        try FileManager.default.copyItem(atPath: f.options(Self.start).managedSaveDirectory + "/\(f.guest.name).save", toPath: copy)
        try VirtConnection(uri: RealGuest.uri).restore(from: copy)   // as the pool restore does, from its rebuilt image
        #expect(try f.guest.domain.info().state == .running && f.guest.domain.hasManagedSaveImage(), "running beside libvirt's image")
        let wake = UnplannedWake.wake.actionID(vm: f.guest.name, at: Self.start + 60)
        for step in [JournalEntry.Step.intent, .started] {
            try f.executor.journal(JournalEntry(actionID: wake, planID: nil, vm: f.guest.name, host: RealGuest.uri, kind: .restore, step: step,
                                                at: Self.start + 60, detail: "from the state pool, as asked", deadline: Self.start + 60))
        }
        let finished = try f.executor.run(f.options(Self.start + 120))
        #expect(finished.contains { $0.event == "reconciled" && $0.detail.contains("older saved image of it removed") }, "\(finished.map(\.text))")
        #expect(try !f.guest.domain.hasManagedSaveImage())
        try f.assertContinues(from: before, "restored from the copy")
    }

    /// The executor binary killed with SIGKILL at each journal step of a hibernation and of a restore in turn (and in
    /// the middle of libvirt's save and restore), then run again: the VM is hibernated once, restored once, never
    /// left off without its saved state, and its memory survives every time.
    /// systemd's stop of a follower while it saves the real guest: the save is not cut off. The follower says it stops,
    /// finishes the save (the guest off with its saved state, the hibernation journaled done), and exits 0.
    @Test func aFollowerAskedToStopWhileItSavesFinishesTheSave() throws {
        let f = try Fixture()
        let binary = try #require(Bundle.main.executableURL).deletingLastPathComponent().path + "/torpor-execute"
        let plan = try f.plan(now: Self.start, idleHours: 3)
        let hibernate = try #require(plan.actions.first { $0.action == .hibernate })
        try f.waitUntilQuiet()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // A pass every 5 simulated (and real) seconds: a guest that reads busy is tried again soon.
        process.arguments = ["run", "--replay", "--follow", "--interval", "5", "--db", f.store.path, "--now", UTC.format(Self.start), "--load-interval", "0.5"]
        let log = f.dir + "/follow.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The save under way: libvirt's job on the guest (it pauses the guest and writes its memory).
        let deadline = Date().addingTimeInterval(120)
        var saving = false
        while Date() < deadline && !saving {
            saving = (try? f.guest.domain.job().active) == true || (try? f.guest.domain.info().state) == .paused
            if !saving { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(saving, "the follower began the guest's save within two minutes: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        process.terminate()
        let asked = Date()
        while process.isRunning && Date().timeIntervalSince(asked) < 120 { Thread.sleep(forTimeInterval: 0.1) }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!process.isRunning && process.terminationReason == .exit && process.terminationStatus == 0, "\(said)")
        #expect(said.contains("stopping (signal 15)") && said.contains("stopped (asked to): no save or restore under way"), "\(said)")
        _ = try f.assertAsleep("stopped during its save: the save finished")
        #expect(try f.steps(hibernate.id) == [.intent, .started, .done], "\(said)")
    }

    @Test func killedAtEveryStepAndRunAgainEveryInvariantHolds() throws {
        let f = try Fixture()
        // Built with these tests, beside the test bundle (whatever the configuration).
        let binary = try #require(Bundle.main.executableURL).deletingLastPathComponent().path + "/torpor-execute"
        func execute(now: EpochSeconds, kill: (String, String)?) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run", "--replay", "--db", f.store.path, "--now", UTC.format(now), "--load-interval", "0.5",
                                 "--pool", f.dir + "/pool", "--pool-capacity", "1GiB"]
            var environment = ProcessInfo.processInfo.environment
            if let kill { environment[kill.0] = kill.1 }
            process.environment = environment
            let log = f.dir + "/execute.log"
            if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            handle.write(Data("--- run at \(UTC.format(now)) \(kill.map { "\($0.0)=\($0.1)" } ?? "")\n".utf8))
            process.standardError = handle
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
            return process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
        }
        /// The invariant right after a kill: the VM is not shut off, or it is with its saved state. A save or restore the
        /// dead run started may still be running in libvirtd (the guest paused meanwhile): it is waited for first.
        func neverOffWithoutSavedState(_ label: String) throws {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, try f.guest.domain.info().state != .shutOff, try f.guest.domain.job().active {
                Thread.sleep(forTimeInterval: 0.2)
            }
            let state = try f.guest.domain.info().state
            #expect(try state != .shutOff || f.guest.domain.hasManagedSaveImage(), "\(label): \(state) without a saved state")
        }
        /// Runs `run`, and again (up to five times, each once the guest is quiet) only while a busy pre-flight held the
        /// hibernation `id`: on a loaded machine the guest can read busy. Held means: the run ended well, left the
        /// hibernation's journal as it was and the guest running, and said it was busy (once per hold: since the first try).
        func heldWhileBusy(_ id: String, _ run: () throws -> Int32) throws -> Int32 {
            let logPath = f.dir + "/execute.log", stepsBefore = try f.steps(id)
            let logBefore = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").count
            var status: Int32 = 0
            for _ in 0..<5 {
                try f.waitUntilQuiet()
                status = try run()
                let said = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").dropFirst(logBefore)
                guard status == 0, try f.steps(id) == stepsBefore, try f.guest.domain.info().state == .running,
                      said.contains("busy now:") && said.contains("(pre-flight)") else { break }
            }
            return status
        }
        let crashes: [(String, String)] = [("TORPOR_EXECUTE_KILL_AFTER_STEP", "1"), ("TORPOR_EXECUTE_KILL_AFTER_STEP", "2"),
                                           ("TORPOR_EXECUTE_KILL_DURING_LIBVIRT_MS", "300"), ("TORPOR_EXECUTE_KILL_AFTER_STEP", "3")]
        for (i, crash) in crashes.enumerated() {
            let now = Self.start + Int64(i) * 86_400
            let plan = try f.plan(now: now, idleHours: 3)
            let hibernate = plan.actions.first { $0.action == .hibernate }!, restore = plan.actions.first { $0.action == .restore }!
            let label = "\(crash.0)=\(crash.1)"
            #expect(try heldWhileBusy(hibernate.id) { try execute(now: now, kill: crash) } == -SIGKILL, "\(label): killed during the hibernation")
            try neverOffWithoutSavedState("\(label), killed during the hibernation")
            #expect(try heldWhileBusy(hibernate.id) { try execute(now: now, kill: nil) } == 0, "\(label): the rerun")
            let before = try f.assertAsleep("\(label): hibernated after the rerun")
            let hibernateSteps = try f.steps(hibernate.id)
            #expect(hibernateSteps.filter { $0 == .done }.count == 1, "\(label): hibernated exactly once: \(hibernateSteps)")
            #expect(try execute(now: now + 600, kill: nil) == 0)
            #expect(try f.steps(hibernate.id).filter { $0 == .done }.count == 1, "\(label): a later run does not hibernate it again")

            #expect(try execute(now: restore.at.seconds, kill: crash) == -SIGKILL, "\(label): killed during the restore")
            try neverOffWithoutSavedState("\(label), killed during the restore")
            #expect(try execute(now: restore.at.seconds, kill: nil) == 0, "\(label): the rerun")
            try f.assertContinues(from: before, "\(label): restored after the rerun")
            let restoreSteps = try f.steps(restore.id)
            #expect(restoreSteps.filter { $0 == .done }.count == 1, "\(label): restored exactly once: \(restoreSteps)")
        }
    }
}

import Foundation
import Testing
import TorporCore
import TorporHash
import TorporPlan
import TorporStore
import TorporTestSupport
import TorporTrain

/// The planner's decisions on crafted forecasts (hourly, from `now`): windows, events, guardrails, restore order and
/// capacity. Forecasts give q0.5 = half, q0.9 = the value, q0.99 = the value + 1 (percent).
@Suite struct PlannerTests {
    static let now = UTC.epoch(year: 2024, month: 3, day: 4)   // a Monday, 00:00 UTC
    static let host = "test:///default"

    /// 24 hours: `idle` (0.5 %) over `idleHours`, busy (40 %) elsewhere.
    static func hours(idle idleHours: Range<Int>, busy: Float = 40) -> [Float] {
        (0..<24).map { idleHours.contains($0) ? 0.5 : busy }
    }

    static func vm(_ name: String, _ q90: [Float], labels: [String: String] = [:], memory: Int64 = 1 << 30, host: String? = host,
                   hibernatedSince: EpochSeconds? = nil, save: Int64? = nil, restore: Int64? = nil) -> PlanningVM {
        let forecast = QuantileForecast(start: now, quantiles: [0.5, 0.9, 0.99], values: q90.map { [$0 / 2, $0, $0 + 1] }, source: "crafted")
        return PlanningVM(name: name, host: host, labels: labels, vcpus: 2, memoryBytes: memory, knownHours: 24 * 30, forecast: forecast,
                          hibernatedSince: hibernatedSince, saveSeconds: save, restoreSeconds: restore)
    }

    static func policy(_ yaml: String = "", guardrails: String = "{max_hibernated_share: 1, min_running: 0}") throws -> Policy {
        try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers:
              gold: {quantile: 0.99, priority: 1}
              silver: {quantile: 0.9, priority: 2}
              bronze: {quantile: 0.5, priority: 3}
            guardrails: \(guardrails)
            \(yaml)
            """, source: "test policy")
    }

    static func plan(_ vms: [PlanningVM], events: [EventRecord] = [], policy: Policy? = nil, now: EpochSeconds = now) throws -> Plan {
        Planner.plan(PlanningInput(now: now, vms: vms, events: events, policy: try policy ?? Self.policy(), policySHA256: "test",
                                   model: "crafted", dataWatermark: now))
    }

    static func at(_ hour: Int) -> EpochSeconds { now + Int64(hour) * 3600 }

    @Test func aLongIdleStretchBecomesAHibernationAndARestoreByTheOnset() throws {
        let plan = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<9))])
        let h = try #require(plan.actions.first { $0.action == .hibernate })
        let r = try #require(plan.actions.first { $0.action == .restore })
        #expect(h.at.seconds == Self.at(2))
        #expect(r.deadline?.seconds == Self.at(9))
        #expect(r.at.seconds == Self.at(9) - 30 - 120)   // the default restore time and execute_every before the onset
        #expect(h.pairedWith == r.id && r.pairedWith == h.id)
        #expect(h.rationale.risk == "low" && h.rationale.forecastPeak == 0.5 && h.rationale.worstCase == 1.5)
        #expect(abs(r.rationale.expectedVMHoursSaved - (7 - 210.0 / 3600)) < 0.01)
        #expect(r.rationale.text.contains("demand returns at 2024-03-04T09:00:00Z"))
    }

    /// A tier between two forecast quantiles decides by their linear interpolation, which the plan's record shows: at
    /// q0.7, 16 % at q0.9 (8 % at the median) is 12 %, under restore_above (the grey zone: the sleep goes on); at q0.9
    /// it is not.
    @Test func aTierBetweenTwoForecastQuantilesDecidesByTheirInterpolation() throws {
        var values = Self.hours(idle: 2..<9)
        for h in 9..<12 { values[h] = 16 }
        let vm = Self.vm("web-01", values)
        let silver = try Self.plan([vm])
        #expect(silver.actions.first { $0.action == .restore }?.deadline?.seconds == Self.at(9))
        var policy = try Self.policy()
        policy.tiers["silver"]!.quantile = 0.7
        let bold = try Self.plan([vm], policy: policy)
        let restore = try #require(bold.actions.first { $0.action == .restore })
        #expect(restore.deadline?.seconds == Self.at(12) && restore.rationale.text.contains("q0.7"), "\(restore.rationale.text)")
        let record = try #require(bold.forecasts.first)
        #expect(record.quantiles == [0.5, 0.7, 0.9, 0.99] && record.tierQuantile == 0.7 && record.values[9][1] == 12, "\(record.quantiles) \(record.values[9])")
        #expect(record.source == "crafted, q0.7 interpolated")
    }

    @Test func idleShorterThanMinIdleIsLeftRunning() throws {
        let plan = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<5))])
        #expect(plan.actions.isEmpty)
        #expect(plan.skipped.first?.reason.contains("idle at most 3h, under min_idle 4h") == true)
    }

    /// An idle stretch too short for min_idle does not hide a long one after it in the same calm hours.
    @Test func aLongIdleStretchAfterAShortOneIsPlanned() throws {
        var q = Self.hours(idle: 1..<2)   // idle 1 h, calm (10 %) 2 h, idle 8 h, busy
        for h in 2..<4 { q[h] = 10 }
        for h in 4..<12 { q[h] = 0.5 }
        let plan = try Self.plan([Self.vm("web-01", q)])
        #expect(plan.actions.filter { $0.action == .hibernate }.map(\.at.seconds) == [Self.at(4)])
        #expect(plan.actions.first { $0.action == .restore }?.deadline?.seconds == Self.at(12))
    }

    @Test func theGreyZoneExtendsASleepButNeverStartsOne() throws {
        // Under 5 % for 4 h, then 10 % (under restore_above 15) for 3 h: asleep 7 h; 10 % alone starts nothing.
        var q = Self.hours(idle: 2..<6)
        for h in 6..<9 { q[h] = 10 }
        let plan = try Self.plan([Self.vm("web-01", q)])
        #expect(plan.actions.first { $0.action == .restore }?.deadline?.seconds == Self.at(9))
        let grey = try Self.plan([Self.vm("web-02", (0..<24).map { $0 < 12 ? 10 : 40 })])
        #expect(grey.actions.isEmpty)
    }

    @Test func aWindowShorterThanTheBreakEvenIsLeftRunning() throws {
        // Measured: save 1 h + restore 1 h; factor 2 → 4 h needed, from the sleep's start to its restore's end: a 5 h
        // window with the default min_idle passes (a 4 h one would end 2 min short: its restore starts execute_every
        // early), the same with a 3 h min_idle and 3 h idle does not.
        let ok = try Self.plan([Self.vm("a", Self.hours(idle: 2..<7), save: 3600, restore: 3600)])
        #expect(ok.actions.count == 2)
        let atBreakEven = try Self.plan([Self.vm("a", Self.hours(idle: 2..<6), save: 3600, restore: 3600)])
        #expect(atBreakEven.actions.isEmpty && atBreakEven.skipped.first?.reason.contains("leaves too little time asleep") == true)
        let policy = try Self.policy("vms: {b: {min_idle: 3h}}")
        let short = try Self.plan([Self.vm("b", Self.hours(idle: 2..<5), save: 3600, restore: 3600)], policy: policy)
        #expect(short.actions.isEmpty)
        #expect(short.skipped.first?.reason.contains("break-even 4h") == true)
    }

    @Test func keepAwakeAndFreezeEventsAreNeverSleptThrough() throws {
        let keepAwake = EventRecord(uid: "backup", summary: "nightly backup", category: .keepAwake, start: Self.at(5), end: Self.at(6) + 1800,
                                    targets: ["db-01"], selector: nil)
        let freeze = EventRecord(uid: "freeze", summary: "quarter close", category: .freeze, start: Self.at(0), end: Self.at(24),
                                 targets: [], selector: "group=finance")
        let vms = [Self.vm("db-01", Self.hours(idle: 0..<16)), Self.vm("ledger", Self.hours(idle: 0..<16), labels: ["group": "finance"]),
                   Self.vm("web-01", Self.hours(idle: 0..<16), labels: ["group": "web"])]
        let plan = try Self.plan(vms, events: [keepAwake, freeze])
        // db-01: 00-05 (5 h) then 07-16 (9 h) around the backup, which it is awake for.
        let db = plan.actions.filter { $0.vm == "db-01" && $0.action == .restore }.compactMap(\.deadline?.seconds)
        #expect(db == [Self.at(5), Self.at(16)])
        let dbSleeps = plan.actions.filter { $0.vm == "db-01" && $0.action == .hibernate }.map(\.at.seconds)
        #expect(dbSleeps == [Self.at(0), Self.at(7)])
        #expect(plan.actions.first { $0.vm == "db-01" && $0.deadline?.seconds == Self.at(5) }?.rationale.text.contains("keep-awake event 'nightly backup'") == true)
        // An event without duration ("backup at 10:00", a DTSTART alone) keeps its hour awake too.
        let point = EventRecord(uid: "dump", summary: "db dump", category: .keepAwake, start: Self.at(10), end: Self.at(10), targets: ["db-01"], selector: nil)
        let withPoint = try Self.plan(vms, events: [keepAwake, freeze, point])
        // (07-10 is then 3 h, under min_idle: db-01 sleeps 00-05 and 11-16.)
        #expect(withPoint.actions.filter { $0.vm == "db-01" && $0.action == .hibernate }.map(\.at.seconds) == [Self.at(0), Self.at(11)])
        // The freeze holds the finance group all day; the web VM (not in the selector) sleeps.
        #expect(!plan.actions.contains { $0.vm == "ledger" })
        #expect(plan.skipped.first { $0.vm == "ledger" }?.reason.contains("freeze event 'quarter close'") == true)
        #expect(plan.actions.contains { $0.vm == "web-01" })
    }

    @Test func guardrailsLimitTheShareOfAGroupAsleepAndKeepSomeRunning() throws {
        let policy = try Self.policy(guardrails: "{max_hibernated_share: 0.5, min_running: 1}")
        let web = (1...4).map { Self.vm("web-0\($0)", Self.hours(idle: 0..<12), labels: ["group": "web"]) }
        let plan = try Self.plan(web, policy: policy)
        #expect(plan.actions.filter { $0.action == .hibernate }.count == 2)
        #expect(plan.skipped.count == 2 && plan.skipped.allSatisfy { $0.reason.contains("guardrail: group group=web may have 2 of 4 asleep") })
        // min_running wins over the share: of 3 with 2 running, only 1 may sleep.
        let strict = try Self.plan(Array(web.prefix(3)), policy: try Self.policy(guardrails: "{max_hibernated_share: 1, min_running: 2}"))
        #expect(strict.actions.filter { $0.action == .hibernate }.count == 1)
        // Windows that do not overlap in time share the allowance.
        let apart = [Self.vm("a", Self.hours(idle: 0..<6), labels: ["group": "g"]), Self.vm("b", Self.hours(idle: 10..<16), labels: ["group": "g"])]
        #expect(try Self.plan(apart, policy: policy).actions.filter { $0.action == .hibernate }.count == 2)
    }

    /// The guardrails count the VMs known to run (fresh data) or asleep: a VM without data (shut off, gone) is not one
    /// of a group's running VMs.
    @Test func guardrailsDoNotCountVMsWithoutData() throws {
        let policy = try Self.policy(guardrails: "{max_hibernated_share: 1, min_running: 1}")
        let live = ["a", "b"].map { Self.vm($0, Self.hours(idle: 0..<12), labels: ["group": "x"]) }
        let ghosts = ["old-1", "old-2"].map { name -> PlanningVM in
            var vm = Self.vm(name, [], labels: ["group": "x"])
            vm.forecast = nil
            vm.knownHours = 0
            vm.staleSince = Self.now - 30 * 86_400
            return vm
        }
        let plan = try Self.plan(live + ghosts, policy: policy)
        #expect(plan.actions.filter { $0.action == .hibernate }.count == 1, "one of the two live VMs keeps running")
        #expect(plan.skipped.contains { $0.reason.contains("may have 1 of 2 asleep") })
    }

    /// A VM libvirt holds saved without torpor's record (a `virsh managedsave` by hand) is asleep for the guardrails, as
    /// the executor's pre-flight counts it: of four, two saved by hand, the share of 0.5 lets none of the others sleep
    /// (counted as neither, the group had been two running VMs, one allowed to sleep, and the pre-flight refused it).
    @Test func aVMSavedByHandIsAsleepForTheGuardrails() throws {
        let policy = try Self.policy(guardrails: "{max_hibernated_share: 0.5, min_running: 0}")
        let live = ["a", "b"].map { Self.vm($0, Self.hours(idle: 0..<12), labels: ["group": "x"]) }
        let byHand = ["c", "d"].map { name -> PlanningVM in
            var vm = Self.vm(name, Self.hours(idle: 0..<12), labels: ["group": "x"])
            vm.notRunningSince = Self.now - 3600
            vm.savedWithoutRecord = true
            return vm
        }
        let plan = try Self.plan(live + byHand, policy: policy)
        #expect(plan.actions.isEmpty, "\(plan.actions.map(\.id))")
        #expect(plan.skipped.filter { $0.reason.contains("may have 2 of 4 asleep at once") }.map(\.vm) == ["a", "b"], "\(plan.skipped)")
        #expect(plan.inputs.guardrails?.counted == ["a", "b", "c", "d"], "the pre-flight counts its partners as the plan did")
        // Saved by hand before the collector has seen it not running (two collections): not planned either (counted
        // asleep, its own sleep would count twice).
        var fresh = byHand[0]
        fresh.notRunningSince = nil
        let early = try Self.plan([fresh], policy: policy)
        #expect(early.actions.isEmpty && early.skipped.first?.reason == "libvirt holds it saved without torpor's record (as the inventory found it): nothing to hibernate",
                "\(early.skipped)")
    }

    /// A restore needs the host's memory and vCPUs back, at the horizon's end too.
    @Test func hostMemoryAndVCPUsHoldAtEveryRestore() throws {
        let vms = ["a", "b"].map { Self.vm($0, Self.hours(idle: 0..<24)) }   // asleep to the horizon's end; 1 GiB, 2 vCPUs each
        let memory = try Self.plan(vms, policy: try Self.policy(#"hosts: {"test:///default": {memory: 1536MiB}}"#))
        #expect(memory.actions.isEmpty && memory.skipped.allSatisfy { $0.reason.contains("memory: at the restore") })
        let vcpus = try Self.plan(vms, policy: try Self.policy(#"hosts: {"test:///default": {vcpus: 3}}"#))
        #expect(vcpus.actions.isEmpty && vcpus.skipped.allSatisfy { $0.reason.contains("vCPUs: at the restore") })
        #expect(try Self.plan(vms, policy: try Self.policy(#"hosts: {"test:///default": {memory: 2GiB, vcpus: 4}}"#)).actions.count == 4)
        // A VM whose size is not known counts as none of it: no sleep on a host whose limit it could break.
        var unsized = Self.vm("c", Self.hours(idle: 12..<24))
        unsized.memoryBytes = nil
        unsized.vcpus = nil
        let limits = try Self.policy(#"hosts: {"test:///default": {memory: 64GiB, vcpus: 64, state_pool: 1TiB}}"#)
        let unknown = try Self.plan(vms + [unsized], policy: limits)
        #expect(unknown.actions.isEmpty, "\(unknown.actions.map(\.id))")
        #expect(unknown.skipped.first { $0.vm == "a" }?.reason.contains("host test:///default memory (64.0 GiB): memory of c unknown: the restore could not be guaranteed") == true,
                "\(unknown.skipped)")
        #expect(unknown.skipped.first { $0.vm == "c" }?.reason.contains("state pool of test:///default (1.0 TiB): the saved state's size of c unknown") == true,
                "\(unknown.skipped)")
        let vcpusOnly = try Self.plan(vms + [unsized], policy: try Self.policy(#"hosts: {"test:///default": {vcpus: 64}}"#))
        #expect(vcpusOnly.skipped.first { $0.vm == "a" }?.reason.contains("vCPUs (64): vCPUs of c unknown") == true, "\(vcpusOnly.skipped)")
        #expect(try Self.plan(vms + [unsized]).actions.count == 6, "no limit: nothing to check")
    }

    /// A new hibernation whose restore would queue a sleeping VM's restore past its deadline is refused.
    @Test func aNewSleepNeverMakesASleepersRestoreLate() throws {
        let policy = try Self.policy("""
            hosts: {"test:///default": {concurrent_restores: 1}}
            vms: {asleep: {tier: gold}, new: {tier: bronze, min_idle: 2h}}
            """)
        // Both are due back by 03:00 on one restore lane: the sleeper's 2 h restore fits alone, not after the new VM's 1 h.
        let sleeper = Self.vm("asleep", Self.hours(idle: 0..<3), hibernatedSince: Self.now - 3600, restore: 2 * 3600)
        let plan = try Self.plan([sleeper, Self.vm("new", Self.hours(idle: 0..<3), restore: 3600)], policy: policy)
        #expect(plan.actions.map(\.vm) == ["asleep"], "\(plan.actions.map { "\($0.vm) \($0.action)" })")
        #expect(plan.actions.allSatisfy { $0.hostConcurrentRestores == 1 }, "the lanes the queue assumed, for the executor")
        // Queued behind the sleeper's restore, which starts now, the new VM's would end after its own deadline.
        #expect(plan.skipped.first { $0.vm == "new" }?.reason.contains("its restore would end after its deadline, queued on test:///default") == true)
        // The window refused is the one whose restore queues the sleeper, not one due back hours later (less priority,
        // shorter: refused before, in vain).
        let twoNew = try Self.plan([sleeper, Self.vm("new", Self.hours(idle: 0..<3), restore: 3600), Self.vm("later", Self.hours(idle: 8..<14), restore: 600)],
                                   policy: try Self.policy("""
                                       hosts: {"test:///default": {concurrent_restores: 1}}
                                       vms: {asleep: {tier: gold}, new: {tier: silver, min_idle: 2h}, later: {tier: bronze, min_idle: 2h}}
                                       """))
        #expect(Set(twoNew.actions.map(\.vm)) == ["asleep", "later"], "\(twoNew.actions.map { "\($0.vm) \($0.action)" }) \(twoNew.skipped)")
        #expect(twoNew.skipped.first { $0.vm == "new" }?.reason.contains("its restore would end after its deadline") == true)
        // A sleeper late already alone (its 4 h restore due by 03:00) is not made later still.
        let late = Self.vm("asleep", Self.hours(idle: 0..<3), hibernatedSince: Self.now - 3600, restore: 4 * 3600)
        let lateAlone = try Self.plan([late], policy: policy)
        #expect(lateAlone.actions.first?.rationale.text.contains("the restore queue may finish it after its deadline") == true)
        let withNew = try Self.plan([late, Self.vm("new", Self.hours(idle: 0..<3), restore: 3600)], policy: policy)
        #expect(withNew.actions.map(\.vm) == ["asleep"], "\(withNew.actions.map { "\($0.vm) \($0.action)" })")
        // Nor is a new window placed after it on the lane taken for free: the late sleeper holds the lane from now until
        // 04:00, so the new VM's 1 h restore, placed to end by its 04:00 deadline, would wait until 04:00 and end late.
        let behindLate = try Self.plan([late, Self.vm("new", Self.hours(idle: 0..<4), restore: 3600)], policy: policy)
        #expect(behindLate.actions.map(\.vm) == ["asleep"], "\(behindLate.actions.map { "\($0.vm) \($0.action) \(UTC.format($0.at.seconds))" })")
        #expect(behindLate.skipped.first { $0.vm == "new" }?.reason.contains("its restore would end after its deadline, queued on test:///default") == true,
                "\(behindLate.skipped)")
        // A new restore on time itself can still push a sleeper's later: the first sleeper's 3 h restore, late, holds the
        // lane until 03:00; the new VM's 30 min restore, placed at 02:28, then runs 03:00–03:30 (its deadline is 09:58)
        // and the second sleeper's 9 h restore, due by 11:58 and late by 2 min behind the first alone, would end at 12:30.
        // (The new restore, placed at 02:28, waits for the lane until 03:00.)
        let first = Self.vm("first", Self.hours(idle: 0..<2), hibernatedSince: Self.now - 3600, restore: 3 * 3600)
        let second = Self.vm("second", Self.hours(idle: 0..<12), hibernatedSince: Self.now - 3600, restore: 9 * 3600)
        let pushes = try Self.plan([first, second, Self.vm("new", Self.hours(idle: 0..<10), restore: 1800)],
                                   policy: try Self.policy(#"hosts: {"test:///default": {concurrent_restores: 1}}"#))
        #expect(pushes.actions.map(\.vm).sorted() == ["first", "second"], "\(pushes.actions.map { "\($0.vm) \($0.action) \(UTC.format($0.at.seconds))" })")
        #expect(pushes.skipped.first { $0.vm == "new" }?.reason.contains("would make the restore of second, asleep now, late") == true, "\(pushes.skipped)")
    }

    /// A restore that cannot start as placed (a sleeper due back sooner than its restore takes) holds its lane until it
    /// ends: the restores after it on that lane wait for it, and are late if they then end after their deadlines (their
    /// planned starts stay: the executor starts each when due and a lane is free).
    @Test func aLateRestoreDelaysTheRestoresQueuedAfterIt() {
        let slots = RestoreScheduler.schedule([
            .init(id: "late", deadline: 1000, seconds: 2400, priority: 1, earliest: 1000),
            .init(id: "next", deadline: 4000, seconds: 1200, priority: 1, earliest: 1000),
            .init(id: "after", deadline: 9000, seconds: 600, priority: 1, earliest: 1000),
        ], concurrent: 1)
        let run = { (id: String) in slots[id].map { [$0.start, $0.end, $0.late ? 1 : 0] } }
        #expect(run("late") == [1000, 3400, 1])
        #expect(run("next") == [2800, 4600, 1], "placed at 2800, it waits for the late one")
        #expect(run("after") == [8400, 9000, 0], "its place is free again")
        let two = RestoreScheduler.schedule([
            .init(id: "late", deadline: 1000, seconds: 2400, priority: 1, earliest: 1000),
            .init(id: "next", deadline: 4000, seconds: 1200, priority: 1, earliest: 1000),
        ], concurrent: 2)
        #expect(two["next"]?.late == false && two["next"]?.start == 2800, "a lane of its own")
    }

    /// A window whose restore cannot start as placed (its save ends too late) fails its break-even on its own: it is
    /// dropped first, and the window queued behind it, late only while it waits for it, is planned.
    @Test func aWindowDroppedOnItsOwnDoesNotTakeTheOnesBehindItWithIt() throws {
        let policy = try Self.policy("""
            hosts: {"test:///default": {concurrent_restores: 1}}
            vms: {short: {min_idle: 2h}}
            """)
        // long: asleep from now, its 3 h restore placed 08:58–11:58. short: asleep from 08:00, its save ends at 08:40,
        // its 30 min restore placed at 08:28, so it would restore 08:40–09:10 (70 min asleep, under its 140 min
        // break-even) and hold long's restore to 12:10, past its deadline.
        let plan = try Self.plan([Self.vm("long", Self.hours(idle: 0..<12), restore: 3 * 3600),
                                  Self.vm("short", Self.hours(idle: 8..<11), save: 40 * 60, restore: 1800)], policy: policy)
        #expect(plan.actions.map(\.vm) == ["long", "long"], "\(plan.actions.map { "\($0.vm) \($0.action) \(UTC.format($0.at.seconds))" }) \(plan.skipped)")
        #expect(plan.skipped.first { $0.vm == "short" }?.reason.contains("leaves too little time asleep") == true, "\(plan.skipped)")
        #expect(!plan.skipped.contains { $0.vm == "long" })
    }

    @Test func aGoldRestoreGoesFirstAndMeetsItsDeadlineUnderAHostLimit() throws {
        let policy = try Self.policy("""
            hosts: {"test:///default": {concurrent_restores: 1}}
            vms: {gold-vm: {tier: gold}, bronze-vm: {tier: bronze}}
            """)
        let q = Self.hours(idle: 1..<10)
        let plan = try Self.plan([Self.vm("bronze-vm", q, restore: 600), Self.vm("gold-vm", q, restore: 600)], policy: policy)
        let gold = try #require(plan.actions.first { $0.vm == "gold-vm" && $0.action == .restore })
        let bronze = try #require(plan.actions.first { $0.vm == "bronze-vm" && $0.action == .restore })
        #expect(gold.deadline == bronze.deadline)
        #expect(gold.at.seconds + 600 <= bronze.at.seconds)           // one at a time, gold first
        #expect(bronze.at.seconds + 600 <= bronze.deadline!.seconds)   // both finish by the deadline
        #expect(gold.at.seconds == Self.at(10) - 1200 - 120)
        #expect(gold.rationale.text.contains("starts 10m earlier for the restore queue"))
    }

    @Test func aHibernationThatDoesNotFitTheStatePoolIsLeftRunning() throws {
        let policy = try Self.policy(#"hosts: {"test:///default": {state_pool: 1GiB}}"#)
        let vms = [Self.vm("a", Self.hours(idle: 0..<12), memory: 768 << 20), Self.vm("b", Self.hours(idle: 0..<12), memory: 768 << 20)]
        let plan = try Self.plan(vms, policy: policy)
        #expect(plan.actions.filter { $0.action == .hibernate }.count == 1)
        let refused = try #require(plan.skipped.first)
        #expect(refused.reason.contains("state pool of test:///default full"))
        #expect(plan.actions.first { $0.action == .hibernate }?.reservations.statePoolBytes == 768 << 20)
    }

    @Test func aVMAlreadyAsleepAlwaysGetsARestore() throws {
        let since = Self.now - 7200
        // Idle all horizon: restored at its end at the latest.
        let idle = try Self.plan([Self.vm("a", Self.hours(idle: 0..<24), hibernatedSince: since)])
        #expect(idle.actions.map(\.action) == [.restore])
        #expect(idle.actions[0].deadline?.seconds == Self.at(24) && idle.actions[0].pairedWith == nil)
        // No forecast at all (missing is not idle): restored now.
        var unknown = Self.vm("b", [], hibernatedSince: since)
        unknown.forecast = nil
        let now = try Self.plan([unknown])
        #expect(now.actions.map(\.action) == [.restore])
        #expect(now.actions[0].at.seconds == Self.now && now.actions[0].deadline?.seconds == Self.now)
        // Excluded since it fell asleep: restored at once, whatever its forecast says.
        let excluded = try Self.plan([Self.vm("c", Self.hours(idle: 0..<3), hibernatedSince: since)], policy: try Self.policy("vms: {c: {exclude: true}}"))
        // Due now, by when the executor's next pass can have it back (restore 30 s + execute_every 2m): not a violation.
        #expect(excluded.actions.map(\.action) == [.restore] && excluded.actions[0].at.seconds == Self.now
                && excluded.actions[0].deadline?.seconds == Self.now + 150 && excluded.actions[0].deadlineCause == "excluded", "\(excluded.actions)")
        // Marked not predictable by a training run since it fell asleep: its forecast keeps it asleep no longer (it
        // would start no sleep), unless the idle timeout, which sleeps on measured quiet, keeps it.
        var unpredictable = Self.vm("d", Self.hours(idle: 0..<3), hibernatedSince: since)
        unpredictable.notPredictable = "no skill"
        let doubted = try Self.plan([unpredictable])
        #expect(doubted.actions.map(\.action) == [.restore] && doubted.actions[0].at.seconds == Self.now
                && doubted.actions[0].deadlineCause == "missing", "\(doubted.actions)")
        #expect(try Self.plan([unpredictable], policy: try Self.policy("vms: {d: {idle_timeout: true}}")).actions.first?.deadline?.seconds ?? 0 > Self.now)
    }

    @Test func aVMTheTrainingRunMarkedNotPredictableIsLeftRunning() throws {
        var vm = Self.vm("new-vm", Self.hours(idle: 0..<12))
        vm.notPredictable = "too little history (20 known hours)"
        let plan = try Self.plan([vm])
        #expect(plan.actions.isEmpty)
        #expect(plan.skipped.first?.reason == "not predictable (training run): too little history (20 known hours)")
    }

    @Test func theIdleTimeoutSleepsInCalmHoursOnlyOnceMeasuredDemandHasStayedLow() throws {
        // 10 % (calm, not idle) for 8 h, then 0.5 % for 5 h, then busy: without the idle timeout one forecast window
        // (8-13); with it, also the calm hours before it as an idle-timeout window (its measured demand decides),
        // restored when the forecast window takes over (a newer plan keeps it asleep into that window).
        var q = Self.hours(idle: 8..<13)
        for h in 0..<8 { q[h] = 10 }
        let off = try Self.plan([Self.vm("web-01", q)])
        #expect(off.actions.filter { $0.action == .hibernate }.map(\.at.seconds) == [Self.at(8)])
        #expect(off.actions.allSatisfy { $0.afterIdleSeconds == nil })
        let plan = try Self.plan([Self.vm("web-01", q)], policy: Self.policy("vms: {web-01: {idle_timeout: true}}"))
        let hibernations = plan.actions.filter { $0.action == .hibernate }
        #expect(hibernations.map(\.at.seconds) == [Self.at(0), Self.at(8)])
        #expect(hibernations.map(\.afterIdleSeconds) == [4 * 3600, nil])
        let restore = try #require(plan.action(hibernations[0].pairedWith!))
        #expect(restore.deadline?.seconds == Self.at(8) && restore.deadlineCause == "window")
        #expect(hibernations[0].rationale.text.hasPrefix("idle timeout: once measured demand has stayed under 5.0 % for 4h; q0.9 under 15.0 %"))
        // Busy hours are never an idle-timeout window.
        let busy = try Self.plan([Self.vm("web-02", (0..<24).map { _ in 40 })], policy: Self.policy("vms: {web-02: {idle_timeout: true}}"))
        #expect(busy.actions.isEmpty)
    }

    @Test func underTheIdleTimeoutAVMWhoseMeasuredQuietAlreadyMakesMinIdleWaitsAnHourSinceItWoke() throws {
        // Calm (10 %) until 08:00, then forecast idle: the idle-timeout window from now, min_idle 4h.
        var q = Self.hours(idle: 8..<13)
        for h in 0..<8 { q[h] = 10 }
        var vm = Self.vm("web-01", q)
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        func wait(_ vm: PlanningVM) throws -> (Int64?, String) {
            let h = try #require(try Self.plan([vm], policy: policy).actions.first { $0.action == .hibernate && $0.at.seconds == Self.now })
            let onceBusy: Int64? = h.afterIdleSeconds == Planner.idleCarriedWait ? 4 * 3600 : nil   // min_idle, with a carried wait only
            #expect(h.afterIdleOnceBusySeconds == onceBusy)
            return (h.afterIdleSeconds, h.rationale.text)
        }
        // 3 known hours under hibernate_below since its last demand: it waits min_idle since it woke.
        vm.idleHours = 3
        #expect(try wait(vm).0 == 4 * 3600)
        // 4 of them (its sleeps in between not counted), say before the sleep a forecast restore woke it from: an hour.
        vm.idleHours = 4
        let (carried, text) = try wait(vm)
        #expect(carried == Planner.idleCarriedWait && carried == 3600)
        #expect(text.hasPrefix("idle timeout: once measured demand has stayed under 5.0 % for 1h since it last woke (4 h of its data under it "
                               + "since it was last over it, its sleeps not counted, make min_idle 4h; once over it again before it sleeps, for 4h); q0.9 under 15.0 %"),
                "\(text)")
        // Woken early within the day (its demand woke it, in an hour the history misses): min_idle again.
        vm.wokenEarlyAt = Self.now - 1800
        #expect(try wait(vm).0 == 4 * 3600)
        // Without the idle timeout nothing waits.
        vm.wokenEarlyAt = nil
        #expect(try Self.plan([vm]).actions.allSatisfy { $0.afterIdleSeconds == nil })
    }

    @Test func aCarriedWaitEndsAtABusySampleFromTheHourBeforeThePlansOrARecentWake() throws {
        var vm = Self.vm("web-01", (0..<24).map { $0 < 8 ? 10 : 0.25 })
        vm.idleHours = 5
        let h = try #require(try Self.plan([vm], policy: try Self.policy("vms: {web-01: {idle_timeout: true}}")).actions.first { $0.action == .hibernate })
        #expect(h.idleWait(busy: false) == 3600 && h.idleWait(busy: true) == 4 * 3600)
        // Not woken lately: from the hour before the plan's. Woken 90 min before it: from then (the history leaves
        // that hour out). Woken 5 h before it (more than min_idle), or since: from the hour before again.
        #expect(h.busyCheckStart(planHour: Self.now, wokeAt: nil) == Self.now - 3600)
        #expect(h.busyCheckStart(planHour: Self.now, wokeAt: Self.now - 5400) == Self.now - 5400)
        #expect(h.busyCheckStart(planHour: Self.now, wokeAt: Self.now - 5 * 3600) == Self.now - 3600)
        #expect(h.busyCheckStart(planHour: Self.now, wokeAt: Self.now - 600) == Self.now - 3600)
        // Woken on the hour 4 h before (min_idle): the history leaves that hour out, so only 3 whole hours are known since.
        #expect(h.busyCheckStart(planHour: Self.now, wokeAt: Self.now - 4 * 3600) == Self.now - 4 * 3600)
    }

    @Test func aVMWithoutForecastSkillSleepsOnlyUnderTheIdleTimeoutAndNotByItsForecast() throws {
        var vm = Self.vm("batch-01", (0..<24).map { _ in 40 })   // its forecast, without skill, says busy all day
        vm.notPredictable = "no skill"
        let off = try Self.plan([vm])
        #expect(off.actions.isEmpty && off.skipped.first?.reason == "not predictable (training run): no skill")
        let policy = try Self.policy("vms: {batch-01: {idle_timeout: true}}")
        let plan = try Self.plan([vm], policy: policy)
        let hibernation = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(plan.actions.count == 2 && hibernation.afterIdleSeconds == 4 * 3600 && hibernation.at.seconds == Self.now)
        #expect(hibernation.rationale.text.contains("not predictable (training run): no skill: its forecast is not used, a demand signal"))
        #expect(hibernation.rationale.risk == "high")
        let restore = try #require(plan.action(hibernation.pairedWith!))
        #expect(restore.deadline?.seconds == Self.at(24) && restore.deadlineCause == "horizon-end")
        // What must run still ends its sleep: a keep-awake event from 10:00 to 12:00.
        let backup = EventRecord(uid: "b", summary: "backup", category: .keepAwake, start: Self.at(10), end: Self.at(12), targets: ["batch-01"], selector: nil)
        let around = try Self.plan([vm], events: [backup], policy: policy)
        #expect(around.actions.filter { $0.action == .restore }.map { [$0.deadline!.seconds, $0.deadlineCause == "event" ? 1 : 0] }
                == [[Self.at(10), 1], [Self.at(24), 0]])
        // Asleep already: its restore is at the horizon's end too (each hourly plan carries it forward).
        vm.hibernatedSince = Self.now - 3600
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(24)])
    }

    @Test func aVMWokenBeforeItsPlannedRestoreSleepsAgainOnlyAfterMinIdleOfMeasuredQuiet() throws {
        // The forecast calls 02:00-09:00 idle again; the VM came back at 23:30 because a demand signal (or an
        // operator) woke it: its forecast was wrong then, so the executor hibernates it only once its measured
        // demand has stayed under hibernate_below for min_idle since it came back.
        var vm = Self.vm("web-01", Self.hours(idle: 2..<9))
        let trusted = try #require(try Self.plan([vm]).actions.first { $0.action == .hibernate })
        #expect(trusted.afterIdleSeconds == nil && trusted.what == "hibernate")
        vm.wokenEarlyAt = Self.now - 1800
        let plan = try Self.plan([vm])
        let h = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(h.at.seconds == Self.at(2) && h.afterIdleSeconds == 4 * 3600 && h.what == "hibernate after 4h idle")
        #expect(h.rationale.text.hasPrefix("woken before its planned restore, running since 2024-03-03T23:30:00Z (its forecast was wrong then): "
                                           + "only once measured demand has stayed under 5.0 % for 4h since; q0.9 under 5.0 % for 7h from 2024-03-04T02:00:00Z"))
        // Its restore is the forecast's, and the savings count from min_idle into the window.
        let r = try #require(plan.action(h.pairedWith!))
        #expect(r.deadline?.seconds == Self.at(9) && r.deadlineCause == "demand")
        #expect(abs(r.rationale.expectedVMHoursSaved - (3 - 210.0 / 3600)) < 0.01)
        // A day after the wake the forecast, which has seen that day, is trusted again.
        vm.wokenEarlyAt = Self.now - 86_400
        let later = try #require(try Self.plan([vm]).actions.first { $0.action == .hibernate })
        #expect(later.afterIdleSeconds == nil && later.rationale.text == trusted.rationale.text)
    }

    @Test func anApprovalBeforeThePlanWasMadeIsRefused() throws {
        let dir = try ScratchDirectory.make("torpor-approve")
        let store = try Store(path: dir + "/torpor.db")
        let plan = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<9))])
        try Approvals.record(plan, bytes: plan.encoded(), demandCalls: [:], in: store)
        let early = #expect(throws: PlanError.self) {
            try Approvals.approve(plan, bytes: plan.encoded(), source: "plan", only: nil, except: [], by: "alice", now: Self.now - 3600, in: store)
        }
        #expect(early?.kind == .badInput && early?.message.contains("before the plan was made") == true)
        #expect(try store.read { try PlanRepository.approvals(of: plan.id, in: $0) }.isEmpty)
        #expect(try !Approvals.approve(plan, bytes: plan.encoded(), source: "plan", only: nil, except: [], by: "alice", now: Self.now, in: store).actions.isEmpty)
    }

    /// A plan a newer one has replaced (which knows newer data, events and pins) is approved only when asked.
    @Test func approvingASupersededPlanIsRefusedUnlessAsked() throws {
        let dir = try ScratchDirectory.make("torpor-superseded")
        let store = try Store(path: dir + "/torpor.db")
        let old = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<9))])
        let newer = try Self.plan([Self.vm("web-01", Self.hours(idle: 3..<9))], now: Self.now + 3600)
        for p in [old, newer] { try Approvals.record(p, bytes: p.encoded(), demandCalls: [:], in: store) }
        let refused = #expect(throws: PlanError.self) {
            try Approvals.approve(old, bytes: old.encoded(), source: "old.json", only: nil, except: [], by: "alice", now: Self.now + 5400, in: store)
        }
        #expect(refused?.message.contains("plan \(newer.id.prefix(12)) was made since (2024-03-04T01:00:00Z)") == true)
        #expect(try store.read { try PlanRepository.approvals(of: old.id, in: $0) }.isEmpty)
        // Superseded and expired: said expired (3), not told to pass --superseded, which would only be refused next.
        let expired = #expect(throws: PlanError.self) {
            try Approvals.approve(old, bytes: old.encoded(), source: "old.json", only: nil, except: [], by: "alice", now: old.validUntil.seconds + 1, in: store)
        }
        #expect(expired?.kind == .nothingToDo && expired?.message.contains("the plan expired at") == true
                && expired?.message.contains("torpor-plan make") == true, "\(String(describing: expired))")
        // The newest is approved; the older one too when asked for.
        #expect(try !Approvals.approve(newer, bytes: newer.encoded(), source: "n", only: nil, except: [], by: "alice", now: Self.now + 5400, in: store).actions.isEmpty)
        #expect(try !Approvals.approve(old, bytes: old.encoded(), source: "old.json", only: nil, except: [], by: "alice", now: Self.now + 5400,
                                       evenIfSuperseded: true, in: store).actions.isEmpty)
    }

    /// Two plans made in the same hour (two policies tried): the executor follows the one approved last, whichever
    /// sorts first, for hibernations and for the restores it owes.
    @Test func ofTwoPlansMadeAtOnceTheOneApprovedLastIsFollowed() throws {
        let dir = try ScratchDirectory.make("torpor-same-hour")
        let store = try Store(path: dir + "/torpor.db")
        let a = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<9))]), b = try Self.plan([Self.vm("web-01", Self.hours(idle: 3..<9))])
        #expect(a.createdAt == b.createdAt && a.id != b.id)
        for p in [a, b] { try Approvals.record(p, bytes: p.encoded(), demandCalls: [:], in: store) }
        for (first, last) in [(a, b), (b, a)] {
            for (p, minute) in [(first, Int64(60)), (last, 120)] {
                // Which of two made in one second is the newer cannot be told: each is approved as superseded.
                #expect(throws: PlanError.self) { try Approvals.approve(p, bytes: p.encoded(), source: "p", only: nil, except: [], by: "alice", now: Self.now + minute, in: store) }
                _ = try Approvals.approve(p, bytes: p.encoded(), source: "p", only: nil, except: [], by: "alice", now: Self.now + minute,
                                          evenIfSuperseded: true, in: store)
            }
            #expect(try store.read { try Approvals.latestHibernating(upTo: Self.now + 180, in: $0) }?.id == last.id)
            // The search for a sleeping VM's owed restore reads them in the same order.
            #expect(try store.read { try PlanRepository.headers(upTo: Self.now + 180, in: $0) }.first?.id == last.id)
            try store.transaction { try $0.execute(sql: "DELETE FROM approval") }
        }
    }

    @Test func aStandingApprovalCarriesAnIdleTimeoutWindowOnlyIfItStartsNoEarlier() throws {
        let dir = try ScratchDirectory.make("torpor-carry")
        let store = try Store(path: dir + "/torpor.db")
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        func plan(calmFrom first: Int, at hour: Int) throws -> (Plan, carried: Bool) {
            let plan = try Self.plan([Self.vm("web-01", (0..<24).map { (first..<8).contains($0) ? 10 : 40 })], policy: policy, now: Self.at(hour))
            return (plan, try Approvals.record(plan, bytes: plan.encoded(), demandCalls: [:], in: store) != nil)
        }
        let (approved, _) = try plan(calmFrom: 3, at: 0)
        #expect(approved.actions.first?.afterIdleSeconds == 4 * 3600 && approved.actions.first?.at.seconds == Self.at(3))
        _ = try Approvals.approve(approved, bytes: approved.encoded(), source: "plan", only: nil, except: [], by: "alice", now: Self.at(0), in: store)
        try Approvals.setStanding(true, by: "alice", now: Self.at(0), in: store)
        // An hour later the same window, now starting at 03:00 still: carried. Then one that starts earlier (01:00): a
        // wider permission than approved, so it waits for a person.
        #expect(try plan(calmFrom: 3, at: 1).carried)
        #expect(try !plan(calmFrom: 1, at: 1).carried)
    }

    /// Two approved sleeps (02-06 and 09-13) do not carry one sleep from 02:00 to 13:00: the hours between were
    /// approved awake.
    @Test func aStandingApprovalCarriesOnlyASleepApprovedAsOne() throws {
        let dir = try ScratchDirectory.make("torpor-pairs")
        let store = try Store(path: dir + "/torpor.db")
        let two = try Self.plan([Self.vm("web-01", (0..<24).map { (2..<6).contains($0) || (9..<13).contains($0) ? 0.5 : 40 })])
        #expect(two.actions.filter { $0.action == .hibernate }.count == 2)
        try Approvals.record(two, bytes: two.encoded(), demandCalls: [:], in: store)
        _ = try Approvals.approve(two, bytes: two.encoded(), source: "plan", only: nil, except: [], by: "alice", now: Self.now, in: store)
        try Approvals.setStanding(true, by: "alice", now: Self.now, in: store)
        let one = try Self.plan([Self.vm("web-01", Self.hours(idle: 2..<13))], now: Self.now + 60)
        #expect(one.actions.first { $0.action == .hibernate }?.at.seconds == Self.at(2))
        #expect(try Approvals.record(one, bytes: one.encoded(), demandCalls: [:], in: store) == nil, "waits for a person")
        let same = try Self.plan([Self.vm("web-01", (0..<24).map { (2..<6).contains($0) || (9..<13).contains($0) ? 0.5 : 40 })], now: Self.now + 120)
        #expect(try Approvals.record(same, bytes: same.encoded(), demandCalls: [:], in: store)?.actions.count == 4, "the same two sleeps carry")
        // A sleeping VM's restore still at the horizon's end is carried (its sleep goes on as approved); one the
        // forecast now puts elsewhere waits for a person.
        let idle = [Float](repeating: 0.5, count: 48)
        let allDay = try Self.plan([Self.vm("db-01", idle)], now: Self.now + 180)
        try Approvals.record(allDay, bytes: allDay.encoded(), demandCalls: [:], in: store)
        _ = try Approvals.approve(allDay, bytes: allDay.encoded(), source: "plan", only: nil, except: [], by: "alice", now: Self.now + 180, in: store)
        let asleep = try Self.plan([Self.vm("db-01", idle, hibernatedSince: Self.now + 180)], now: Self.now + 3600)
        #expect(asleep.actions.map(\.deadlineCause) == ["horizon-end"])
        #expect(try Approvals.record(asleep, bytes: asleep.encoded(), demandCalls: [:], in: store)?.actions == asleep.actions.map(\.id))
        let woken = try Self.plan([Self.vm("db-01", Self.hours(idle: 0..<10), hibernatedSince: Self.now + 180)], now: Self.now + 7200)
        #expect(try Approvals.record(woken, bytes: woken.encoded(), demandCalls: [:], in: store) == nil)
    }

    @Test func missingForecastHoursAreNotIdle() throws {
        var q = Self.hours(idle: 0..<12)
        for h in 4..<6 { q[h] = .nan }
        let plan = try Self.plan([Self.vm("a", q)])
        // 0-4 is 4 h (the minimum); the NaN hours end it; 6-12 is a second window.
        let deadlines = plan.actions.filter { $0.action == .restore }.compactMap(\.deadline?.seconds)
        #expect(deadlines == [Self.at(4), Self.at(12)])
        #expect(plan.actions.first { $0.deadline?.seconds == Self.at(4) }?.rationale.text.contains("missing is not idle") == true)
    }

    @Test func underTheIdleTimeoutHoursTheForecastDoesNotKnowAreSleptOnlyOnMeasuredQuietAndNeverEndASleep() throws {
        // Idle 0-6, unknown 6-10 (say the VM slept through those hours last week), busy from 10.
        var q = Self.hours(idle: 0..<6)
        for h in 6..<10 { q[h] = .nan }
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        // Without the idle timeout the unknown hours end the sleep (missing is not idle).
        let off = try Self.plan([Self.vm("web-01", q)])
        #expect(off.actions.filter { $0.action == .restore }.map { [$0.deadline!.seconds, $0.deadlineCause == "missing" ? 1 : 0] } == [[Self.at(6), 1]])
        // With it the forecast window sleeps on through them to the forecast demand, at high risk, and says why.
        let on = try Self.plan([Self.vm("web-01", q)], policy: policy)
        let h = try #require(on.actions.first { $0.action == .hibernate })
        let r = try #require(on.action(h.pairedWith!))
        #expect(h.at.seconds == Self.now && h.afterIdleSeconds == nil && r.deadline?.seconds == Self.at(10) && r.deadlineCause == "demand")
        #expect(h.rationale.risk == "high")
        #expect(h.rationale.text.contains("the forecast does not know 4 h of it (missing is not idle: asleep there only as the idle timeout is"))
        // Hours it does not know at all: an idle-timeout window (measured quiet first), never a forecast window.
        let unknown = (0..<24).map { $0 < 8 ? Float.nan : 40 }
        #expect(try Self.plan([Self.vm("web-02", unknown)]).actions.isEmpty)
        let timeout = try Self.plan([Self.vm("web-02", unknown)], policy: Self.policy("vms: {web-02: {idle_timeout: true}}"))
        let t = try #require(timeout.actions.first { $0.action == .hibernate })
        #expect(t.afterIdleSeconds == 4 * 3600 && t.at.seconds == Self.now && timeout.action(t.pairedWith!)?.deadline?.seconds == Self.at(8))
        // Asleep already: kept asleep through them, restored for the forecast demand.
        var asleep = Self.vm("web-02", unknown)
        asleep.hibernatedSince = Self.now - 3600
        #expect(try Self.plan([asleep]).actions.map(\.deadline?.seconds) == [Self.now])
        #expect(try Self.plan([asleep], policy: Self.policy("vms: {web-02: {idle_timeout: true}}")).actions.map(\.deadline?.seconds) == [Self.at(8)])
    }

    @Test func maxSleepRestoresAVMWhateverItsForecastSays() throws {
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true, max_sleep: 7d}}")
        let unknown = (0..<24).map { _ in Float.nan }   // nothing known, so nothing would end the sleep but a signal
        var vm = Self.vm("web-01", unknown)
        vm.hibernatedSince = Self.now - 7 * 86_400 + 2 * 3600
        #expect(try Self.plan([vm], policy: Self.policy("vms: {web-01: {idle_timeout: true}}")).actions.map(\.deadlineCause) == ["horizon-end"])
        let restore = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(restore.deadline?.seconds == Self.at(2) && restore.deadlineCause == "max-sleep")
        #expect(restore.rationale.text.hasPrefix("asleep; max_sleep 1w reached at 2024-03-04T02:00:00Z (asleep from 2024-02-26T02:00:00Z)"))
        // Past it already: restored now, by when the executor's next pass can have it back (30 s + 2m), not late.
        vm.hibernatedSince = Self.now - 8 * 86_400
        let past = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(past.at.seconds == Self.now && past.deadline?.seconds == Self.now + 150 && past.deadlineCause == "max-sleep")
        // A new sleep is held to it too: idle 0-12, max_sleep 6h.
        let short = try Self.plan([Self.vm("web-02", Self.hours(idle: 0..<12))], policy: Self.policy("vms: {web-02: {max_sleep: 6h}}"))
        let r = try #require(short.actions.first { $0.action == .restore })
        #expect(r.deadline?.seconds == Self.at(6) && r.deadlineCause == "max-sleep")
    }

    @Test func aVMNewerThanMinHistorySleepsOnlyUnderTheIdleTimeoutAndNotByItsForecast() throws {
        var vm = Self.vm("new-01", Self.hours(idle: 0..<12))   // its forecast, from 20 hours of history, calls it idle
        vm.knownHours = 20
        let off = try Self.plan([vm])
        #expect(off.actions.isEmpty && off.skipped.first?.reason == "not predictable: 20 h of known history, 72 h needed")
        let plan = try Self.plan([vm], policy: Self.policy("vms: {new-01: {idle_timeout: true}}"))
        let h = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(h.afterIdleSeconds == 4 * 3600 && h.rationale.risk == "high")
        #expect(h.rationale.text.contains("not predictable: 20 h of known history, 72 h needed: its forecast is not used"))
        #expect(plan.action(h.pairedWith!)?.deadlineCause == "horizon-end")
    }

    @Test func underTheIdleTimeoutAVMWhoseForecastDemandDidNotComeSleepsByTheIdleTimeoutAndForADayOnlyDemandEndsThatSleep() throws {
        // Its forecast says demand from 06:00 on all day (q0.9 40 %): the forecast that called for demand, and was wrong.
        var vm = Self.vm("web-01", Self.hours(idle: 0..<6))
        vm.unmetDemandAt = Self.now   // the evidence: the whole horizon is within the day
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        // Awake: the forecast is not used; it sleeps once measured demand has stayed under hibernate_below for
        // min_idle, as the idle timeout does, and only a demand signal, an event or an operator ends that sleep.
        let plan = try Self.plan([vm], policy: policy)
        let h = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(h.at.seconds == Self.now && h.afterIdleSeconds == 4 * 3600 && h.what == "hibernate after 4h idle")
        #expect(h.rationale.risk == "high" && h.signature == "web-01|\(Self.host)|hibernate-after-idle|14400")
        #expect(h.rationale.text.hasPrefix("idle timeout: once measured demand has stayed under 5.0 % for 4h; forecast demand did not come "
                                           + "(measured demand under 15.0 % for 4h from an hour its forecast called for demand in, until "
                                           + "2024-03-04T00:00:00Z, and not over it since; its forecast is trusted again from 2024-03-05T00:00:00Z): "
                                           + "its forecast is not used"), "\(h.rationale.text)")
        #expect(plan.action(h.pairedWith!)?.deadlineCause == "horizon-end")
        // Asleep: kept asleep through the forecast demand, and the restore says why.
        vm.hibernatedSince = Self.now - 3600
        let asleep = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(asleep.deadlineCause == "horizon-end" && asleep.rationale.text.hasPrefix("asleep; forecast demand did not come"))
        // A day after that evidence the forecast decides again, from the hour the day is over: restored for its demand
        // at 08:00 (evidence from 08:00 yesterday), not at 06:00 (the trusted forecast) nor at the horizon's end.
        vm.unmetDemandAt = Self.at(8) - Planner.distrustPeriod
        let expiring = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(expiring.deadline?.seconds == Self.at(8) && expiring.deadlineCause == "demand")
        // The hour the day ends in is the forecast's: evidence from 08:30 yesterday, restored for its demand at 08:00.
        vm.unmetDemandAt = Self.at(8) + 1800 - Planner.distrustPeriod
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(8)])
        vm.unmetDemandAt = Self.now - Planner.distrustPeriod
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        // Awake a day after the evidence: trusted, its forecast window again.
        vm.hibernatedSince = nil
        let awake = try #require(try Self.plan([vm], policy: policy).actions.first { $0.action == .hibernate })
        #expect(awake.afterIdleSeconds == nil && awake.at.seconds == Self.now)
        // Not predictable as well: never trusted again, and the text says both.
        vm.unmetDemandAt = Self.now - 1800
        vm.notPredictable = "no skill"
        let both = try #require(try Self.plan([vm], policy: policy).actions.first { $0.action == .hibernate })
        #expect(both.afterIdleSeconds == 4 * 3600 && both.rationale.text.contains("and not over it since; and not predictable (training run): no skill)"))
        #expect(try Self.plan([vm], policy: policy).action(both.pairedWith!)?.deadlineCause == "horizon-end")
        vm.notPredictable = nil
        vm.unmetDemandAt = Self.now
        vm.hibernatedSince = Self.now - 3600
        // Without that evidence the forecast restores it for 06:00, and sleeps it by its forecast window.
        var trusted = vm
        trusted.unmetDemandAt = nil
        #expect(try Self.plan([trusted], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        trusted.hibernatedSince = nil
        let normal = try #require(try Self.plan([trusted], policy: policy).actions.first { $0.action == .hibernate })
        #expect(normal.afterIdleSeconds == nil)
        // Without the idle timeout the evidence changes nothing: the forecast decides.
        vm.hibernatedSince = nil
        #expect(try Self.plan([vm]) == Self.plan([trusted]))
        // The hourly job names the VMs whose forecast is set aside, and until when; not those without the idle timeout,
        // nor evidence a day old.
        func setAside(_ vms: [PlanningVM], _ policy: Policy) -> [String] {
            Planner.forecastsSetAside(PlanningInput(now: Self.now, vms: vms, events: [], policy: policy, policySHA256: "x", model: "m", dataWatermark: nil))
                .map { "\($0.vm) \(UTC.format($0.until))" }
        }
        var old = vm
        old.name = "web-02"
        old.unmetDemandAt = Self.now - Planner.distrustPeriod
        #expect(setAside([vm, trusted, old], try Self.policy("vms: {web-01: {idle_timeout: true}, web-02: {idle_timeout: true}}")) == ["web-01 2024-03-05T00:00:00Z"])
        #expect(setAside([vm], try Self.policy()).isEmpty)
    }

    @Test func underTheIdleTimeoutADormantVMIsSleptThroughItsForecastDemandButStillByItsForecastIdle() throws {
        // Its forecast says idle until 06:00, then demand all day (q0.9 40 %); its data measured while it ran has had no
        // demand for the dormancy period.
        var vm = Self.vm("web-01", Self.hours(idle: 0..<6))
        vm.quietHours = Planner.dormancyHours(quantile: 0.9)
        #expect(vm.quietHours == 192 && Planner.dormancyHours(quantile: 0.99) == 300)
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        // Awake: the forecast's idle still starts a sleep at once (no wait for measured quiet), but its demand ends none:
        // restored at the horizon's end (each hourly plan carries it on), the risk high.
        let plan = try Self.plan([vm], policy: policy)
        let h = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(h.at.seconds == Self.now && h.afterIdleSeconds == nil && h.rationale.risk == "high")
        #expect(h.rationale.text.contains("dormant (no measured demand over 15.0 % in its last 192 h of data): the forecast's demand ends no sleep "
                                          + "until demand returns, a demand signal or an operator wakes it; "), "\(h.rationale.text)")
        #expect(h.rationale.text.contains(", then asleep through its forecast's demand (dormant) for 18h (peak 40.0 %)"), "\(h.rationale.text)")
        // Its restore has a cause of its own: a standing approval of a sleep until the horizon's end does not carry it.
        let restore = try #require(plan.action(h.pairedWith!))
        #expect(restore.deadlineCause == "dormant" && restore.signature == "web-01|\(Self.host)|restore|dormant")
        #expect(restore.rationale.text.contains("restore at the horizon's end unless a newer approved plan carries it forward (dormant"))
        // Asleep: not restored for the forecast demand at 06:00.
        vm.hibernatedSince = Self.now - 3600
        let asleep = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(asleep.deadline?.seconds == Self.at(24) && asleep.rationale.text.hasPrefix("asleep; dormant (no measured demand"))
        #expect(asleep.deadlineCause == "dormant")
        // Woken before its planned restore within the day (its demand, in an hour the history misses): not dormant.
        vm.wokenEarlyAt = Self.now - 1800
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        vm.wokenEarlyAt = nil
        // An hour of data less, or measured demand since, and the forecast restores it for 06:00 again.
        vm.quietHours -= 1
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        // What must run still ends its sleep: a keep-awake event from 10:00.
        vm.quietHours += 1
        let backup = EventRecord(uid: "b", summary: "backup", category: .keepAwake, start: Self.at(10), end: Self.at(12), targets: ["web-01"], selector: nil)
        #expect(try Self.plan([vm], events: [backup], policy: policy).actions.map(\.deadlineCause) == ["event"])
        // Without the idle timeout (no demand signal assumed), the forecast decides whatever the quiet.
        var trusted = vm
        trusted.quietHours = 0
        #expect(try Self.plan([vm]) == Self.plan([trusted]))
        // The hourly job names the dormant VMs (they need a demand signal); not those without the idle timeout.
        func dormant(_ vms: [PlanningVM], _ policy: Policy) -> [String] {
            Planner.dormantVMs(PlanningInput(now: Self.now, vms: vms, events: [], policy: policy, policySHA256: "x", model: "m", dataWatermark: nil))
        }
        trusted.name = "web-02"
        #expect(dormant([vm, trusted], try Self.policy("vms: {web-01: {idle_timeout: true}, web-02: {idle_timeout: true}}")) == ["web-01"])
        #expect(dormant([vm], try Self.policy()).isEmpty)
        // Nor those whose forecast is not used at all (not predictable: listed as such), nor those not planned (no fresh data).
        var unpredictable = vm, stale = vm
        unpredictable.notPredictable = "no skill"
        stale.hibernatedSince = nil
        stale.staleSince = Self.now - 86_400
        #expect(dormant([unpredictable], policy).isEmpty && dormant([stale], policy).isEmpty)
        // A cautious tier believes its forecast longer: q0.99 after 300 quiet hours, not 192.
        let gold = try Self.policy("vms: {web-01: {idle_timeout: true, tier: gold}}")
        #expect(dormant([vm], gold).isEmpty)
        vm.quietHours = 300
        #expect(dormant([vm], gold) == ["web-01"])
    }

    @Test func quietHoursCountTheKnownHoursSinceTheNewestDemandOrGapOnly() {
        let nan = Float.nan, start = Self.now - 6 * 3600
        func quiet(_ values: [Float], _ threshold: Double, sleeps: [ClosedRange<EpochSeconds>] = [], wake: EpochSeconds? = nil) -> Int {
            MeasuredHistory(values: values, start: start, sleeps: sleeps, lastUnplannedWake: wake, clock: .utc).quietHours(threshold: threshold)
        }
        // Missing hours it slept in are not quiet: only the known ones count.
        let asleep2and3 = [(start + 2 * 3600 + 600)...(start + 3 * 3600 + 1200)]
        #expect(quiet([20, 3, nan, nan, 4, 1], 15, sleeps: asleep2and3) == 3)
        #expect(quiet([3, 15], 15) == 0)
        #expect(quiet([], 15) == 0)
        // Any other missing hour (a gap in the data) ends the count: missing is not idle. A sleep marks every hour it
        // spends time in: one that ends as hour 4 begins does not mark hour 4.
        let gapped: [Float] = [1, 1, .nan, 1, .nan, 1]
        #expect(quiet(gapped, 5) == 1)
        #expect(quiet(gapped, 5, sleeps: [(start + 4 * 3600 + 600)...(start + 4 * 3600 + 1200)]) == 2)
        #expect(quiet(gapped, 5, sleeps: [(start + 2 * 3600 + 1800)...(start + 4 * 3600 + 1)]) == 4)
        #expect(quiet(gapped, 5, sleeps: [(start + 2 * 3600 + 1800)...(start + 4 * 3600), (start + 4 * 3600 + 1200)...(start + 4 * 3600 + 1800)]) == 4)
        #expect(quiet(gapped, 5, sleeps: [(start + 2 * 3600 + 1800)...(start + 4 * 3600)]) == 1)
        #expect(quiet([3, nan, 4], 15) == 1)
        // Something woke it before its plan's restore (a demand signal, an operator) in hour 3: the quiet begins after
        // that hour, whose demand came while it slept or restored, even once it sleeps again; in the hour that holds
        // now, there is no quiet yet. A wake before the history is not in it.
        let woken: [Float] = [1, 1, nan, nan, 1, 1]
        let asleep2and3Again = [(start + 2 * 3600)...(start + 3 * 3600 + 600), (start + 5 * 3600 + 900)...(start + 6 * 3600)]
        #expect(quiet(woken, 15, sleeps: asleep2and3Again) == 4)
        #expect(quiet(woken, 15, sleeps: asleep2and3Again, wake: start + 3 * 3600 + 600) == 2)
        #expect(quiet(woken, 15, sleeps: asleep2and3Again, wake: start + 4 * 3600) == 2, "back on the hour: its demand came in hour 3")
        #expect(quiet(woken, 15, sleeps: asleep2and3Again, wake: start + 6 * 3600 + 60) == 0)
        #expect(quiet(woken, 15, sleeps: asleep2and3Again, wake: start - 60) == 4)
    }

    @Test func underTheIdleTimeoutAVMWhoseForecastCalledForDemandInVainThreeTimesItsOddsIsDormant() throws {
        // Its forecast says idle until 06:00, then demand all day (q0.9 40 %); measured demand 48 known hours ago, and its
        // forecast called for demand in 30 of those hours (a call at q0.9 expects demand one time in ten at least).
        var vm = Self.vm("web-01", Self.hours(idle: 0..<6), hibernatedSince: Self.now - 3600)
        vm.quietHours = 48
        vm.falseAlarms = FalseAlarms(hours: Planner.falseAlarmLimit(quantile: 0.9), days: 3)
        #expect(vm.falseAlarms.hours == 30 && Planner.falseAlarmLimit(quantile: 0.5) == 6 && Planner.falseAlarmLimit(quantile: 0.99) == 300)
        let policy = try Self.policy("vms: {web-01: {idle_timeout: true}}")
        let asleep = try #require(try Self.plan([vm], policy: policy).actions.first)
        #expect(asleep.deadline?.seconds == Self.at(24) && asleep.deadlineCause == "dormant")
        #expect(asleep.rationale.text.contains("dormant (no measured demand over 15.0 % in 30 h of data its forecast called for it in at q0.9, "
                                               + "on 3 whole days without it): "),
                "\(asleep.rationale.text)")
        // One call fewer, the calls on two days (one holiday, say), or a gold VM (q0.99: 300 calls), and the forecast
        // restores it for 06:00.
        vm.falseAlarms.hours -= 1
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        vm.falseAlarms = FalseAlarms(hours: 48, days: 2)
        #expect(try Self.plan([vm], policy: policy).actions.map(\.deadline?.seconds) == [Self.at(6)])
        vm.falseAlarms = FalseAlarms(hours: 30, days: 3)
        #expect(try Self.plan([vm], policy: try Self.policy("vms: {web-01: {idle_timeout: true, tier: gold}}")).actions.map(\.deadline?.seconds) == [Self.at(6)])
        // Without the idle timeout (no demand signal assumed), the forecast decides whatever its calls.
        #expect(try Self.plan([vm]).actions.map(\.deadline?.seconds) == [Self.at(6)])
        #expect(Planner.dormantVMs(PlanningInput(now: Self.now, vms: [vm], events: [], policy: policy, policySHA256: "x", model: "m", dataWatermark: nil)) == ["web-01"])
    }

    @Test func falseAlarmsCountTheKnownHoursSinceTheNewestDemandTheForecastCalledForDemandIn() {
        let start = Self.now - 10 * 3600
        func call(_ h: Int, _ q: Float = 0.9, _ forecast: Float = 40) -> DemandCall { DemandCall(hour: start + Int64(h) * 3600, quantile: q, forecast: forecast) }
        // Calls before the history, before and in the hour of its demand (2), in 3, in 4 twice (median and tier: one
        // hour), in an hour it slept (6), at q0.99 (7: claims less than q0.9 does), under restore_above (8), in 9, and in
        // the hour that holds now (10: not known yet).
        let calls = [call(-1), call(1), call(2), call(3), call(4, 0.5, 20), call(4), call(6), call(7, 0.99, 41), call(8, 0.9, 10), call(9), call(10)]
        let history: [Float] = [1, 1, 20, 1, 1, 1, .nan, 1, 1, 1]
        func alarms(_ quantile: Float, _ history: [Float]) -> Int {
            MeasuredHistory(values: history, start: start, sleeps: [(start + 6 * 3600)...(start + 6 * 3600 + 600)], lastUnplannedWake: nil, clock: .utc)
                .falseAlarms(calls: calls, quantile: quantile, threshold: 15).hours
        }
        #expect(alarms(0.9, history) == 3)
        #expect(alarms(0.99, history) == 4)
        var quiet = history
        quiet[2] = 1
        #expect(alarms(0.9, quiet) == 5)
        #expect(alarms(0.5, quiet) == 1)
        // A gap in the data (missing in an hour it did not sleep in: 5) may have held demand: the calls before it are not counted.
        var gapped = quiet
        gapped[5] = .nan
        #expect(alarms(0.9, gapped) == 1)
    }

    @Test func falseAlarmsCountTheWholeLocalDaysWithoutDemandTheirHoursFallOn() throws {
        // Office hours 09–17 on weekdays in Los Angeles (17:00–01:00 UTC), its forecast calling for them: demand on
        // Wednesday 25 November 2026 at 10:00, none on Thanksgiving and the Friday after, and the plan of Monday 30th
        // at 09:00.
        let la = try #require(WeekClock(zone: "America/Los_Angeles"))
        let start = UTC.epoch(year: 2026, month: 11, day: 25, hour: 8)   // Wednesday 00:00 PST
        let now = UTC.epoch(year: 2026, month: 11, day: 30, hour: 17)   // Monday 09:00 PST
        let hours = Int((now - start) / 3600)
        let office = (0..<hours).filter { [0, 1, 2, 5].contains($0 / 24) && (9..<17).contains($0 % 24) }
        var values = [Float](repeating: 1, count: hours)
        values[10] = 40
        let calls = office.map { DemandCall(hour: start + Int64($0) * 3600, quantile: 0.5, forecast: 40) }
        func alarms(_ clock: WeekClock, _ values: [Float], _ calls: [DemandCall]) -> FalseAlarms {
            MeasuredHistory(values: values, start: start, sleeps: [], lastUnplannedWake: nil, clock: clock).falseAlarms(calls: calls, quantile: 0.5, threshold: 15)
        }
        // On Los Angeles' clock Thursday and Friday are the whole days without demand its forecast called through: two,
        // not dormant. On UTC's the same calls fall on Thursday, Friday and Saturday after Wednesday: three.
        #expect(alarms(la, values, calls) == FalseAlarms(hours: 22, days: 2))
        #expect(alarms(.utc, values, calls) == FalseAlarms(hours: 22, days: 3))
        // A call on Monday morning is not a whole day yet: the day that holds now is not counted.
        let monday = calls + [DemandCall(hour: now - 3600, quantile: 0.5, forecast: 40)]
        #expect(alarms(la, values, monday) == FalseAlarms(hours: 23, days: 2))
        // Demand on Thursday at 16:00 (a working day that ended early): only Friday is a whole day without it.
        values[24 + 16] = 40
        #expect(alarms(la, values, calls) == FalseAlarms(hours: 8, days: 1))
        // A zone half an hour off (Adelaide, +10:30 in summer): demand in the hour that holds local midnight keeps the
        // day it came on from counting.
        let adelaide = try #require(WeekClock(zone: "Australia/Adelaide"))
        let night = UTC.epoch(year: 2026, month: 11, day: 24, hour: 13)   // 23:30 local, the 24th
        var quiet = [Float](repeating: 1, count: 4 * 24)
        quiet[0] = 40   // 23:30–00:30 local: its demand came after midnight, on the 25th
        let daily = (1..<quiet.count).filter { $0 % 24 == 12 }.map { DemandCall(hour: night + Int64($0) * 3600, quantile: 0.5, forecast: 40) }
        #expect(MeasuredHistory(values: quiet, start: night, sleeps: [], lastUnplannedWake: nil, clock: adelaide).falseAlarms(calls: daily, quantile: 0.5, threshold: 15)
                == FalseAlarms(hours: 4, days: 2))   // the 26th and 27th; the 25th held demand, the 28th holds now
    }

    @Test func aPlanCallsForDemandForTheRunningVMsWhoseForecastExpectsItAtTheMedianAndAtTheirTiersQuantile() throws {
        // The hour that holds now: busy (q0.5 20 %, q0.9 40 %), idle (q0.5 0.25 %), unknown, asleep, or excluded.
        let busy = Self.vm("busy", Self.hours(idle: 3..<6)), idle = Self.vm("idle", Self.hours(idle: 0..<6))
        var asleep = Self.vm("asleep", Self.hours(idle: 3..<6))
        asleep.hibernatedSince = Self.now - 3600
        var unknown = Self.vm("unknown", Self.hours(idle: 3..<6))
        unknown.forecast = nil
        let vms = [busy, idle, asleep, unknown, Self.vm("excluded", Self.hours(idle: 3..<6))]
        // Per VM that called, the quantiles it called at.
        func calls(_ vms: [PlanningVM], _ policy: Policy, now: EpochSeconds = Self.now) -> [String: [Float]] {
            Planner.demandCalls(PlanningInput(now: now, vms: vms, events: [], policy: policy, policySHA256: "x", model: "m", dataWatermark: nil))
                .mapValues { $0.map(\.quantile) }
        }
        #expect(calls(vms, try Self.policy("vms: {excluded: {exclude: true}}"), now: Self.now + 1800) == ["busy": [0.5, 0.9]])
        // Each call says what it claimed: the quantile and its forecast for the hour; the median's and the tier's (silver q0.9).
        #expect(Planner.demandCalls(PlanningInput(now: Self.now + 1800, vms: [busy], events: [], policy: try Self.policy(), policySHA256: "x", model: "m",
                                                  dataWatermark: nil))
                == ["busy": [DemandCall(hour: Self.now, quantile: 0.5, forecast: 20), DemandCall(hour: Self.now, quantile: 0.9, forecast: 40)]])
        // At restore_above exactly a call; over the median, only the cautious tier's quantile calls (silver q0.9 40 %,
        // gold q0.99 41 %), and over that, nothing.
        #expect(calls([busy], try Self.policy("vms: {busy: {restore_above: 20}}")) == ["busy": [0.5, 0.9]])
        #expect(calls([busy], try Self.policy("vms: {busy: {restore_above: 30}}")) == ["busy": [0.9]])
        #expect(calls([busy], try Self.policy("vms: {busy: {restore_above: 30, tier: gold}}")) == ["busy": [0.99]])
        #expect(calls([busy], try Self.policy("vms: {busy: {restore_above: 45}}")).isEmpty)
        // A bold tier's own quantile is both when it is under the median: q0.1 10 % is no call at 15 %.
        var bold = busy
        bold.forecast = QuantileForecast(start: Self.now, quantiles: [0.1, 0.5, 0.9], values: (0..<24).map { _ in [10, 20, 40] }, source: "crafted")
        let boldTier = try Policy.parse("""
            defaults: {tier: bold, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers: {bold: {quantile: 0.1, priority: 1}}
            """, source: "test policy")
        #expect(calls([bold], boldTier).isEmpty)
        #expect(calls([bold], try Self.policy()) == ["busy": [0.5, 0.9]])
        // A tier between two forecast quantiles calls at its own, interpolated (q0.75: 20 + 0.625 × 20 = 32.5 %); its
        // false alarms are then judged at that quantile (3 / (1 − 0.75) = 12 of them make a VM under the idle timeout dormant).
        var between = try Self.policy()
        between.tiers["silver"]!.quantile = 0.75
        #expect(Planner.demandCalls(PlanningInput(now: Self.now, vms: [busy], events: [], policy: between, policySHA256: "x", model: "m", dataWatermark: nil))
                == ["busy": [DemandCall(hour: Self.now, quantile: 0.5, forecast: 20), DemandCall(hour: Self.now, quantile: 0.75, forecast: 32.5)]])
        #expect(Planner.falseAlarmLimit(quantile: 0.75) == 12 && Planner.falseAlarmLimit(quantile: 0.95) == 60)
    }

    @Test func forecastDemandThatDidNotComeIsJudgedFromTheFirstCallItsSamplesProve() throws {
        let settings = try Self.policy("vms: {web-01: {idle_timeout: true}}").settings(vm: "web-01", labels: [:])   // min_idle 4h
        func samples(_ values: [(Int, Double)]) -> DemandSamples {   // 5-minute samples from `now`, by minute
            DemandSamples(values.map { (time: Self.now + Int64($0.0) * 60, value: $0.1) })
        }
        func quiet(_ minutes: StrideTo<Int>, _ value: Double = 12) -> [(Int, Double)] { minutes.map { ($0, value) } }
        func unmet(_ calls: [Int], _ s: DemandSamples, hours now: Int, asleepSince: Int? = nil, claim: (Float, Float) = (0.5, 20)) -> EpochSeconds? {
            PlanningInputs.unmetDemand(calls: calls.map { DemandCall(hour: Self.at($0), quantile: claim.0, forecast: claim.1) }, asleepSince: asleepSince.map(Self.at),
                                       now: Self.at(now), settings: settings, callQuantile: 0.5) { _, _ in s }
        }
        // Called for 00:00 and 01:00, 12 % since: proven four hours after the first call, once the sample that closes
        // those hours is in.
        let calm = samples(quiet(stride(from: 0, to: 600, by: 5)))
        #expect(unmet([0, 1], calm, hours: 4) == nil)
        #expect(unmet([0, 1], calm, hours: 5) == Self.at(4))
        // Judged up to the hour that holds now: a call of that hour (its plan made at 04:02) is not judged within it,
        // even where its samples already prove it (min_idle 30 min), so a plan made again at 04:45 is the plan made at
        // 04:02; nor is an earlier call on the samples since 04:00 (the 03:00 call's evidence at 04:04, with min_idle 1 h).
        let short = try Self.policy("vms: {web-01: {idle_timeout: true, min_idle: 30m}}").settings(vm: "web-01", labels: [:])
        func unmetShort(now: EpochSeconds) -> EpochSeconds? {
            PlanningInputs.unmetDemand(calls: [DemandCall(hour: Self.at(4), quantile: 0.5, forecast: 20)], asleepSince: nil, now: now,
                                       settings: short, callQuantile: 0.5) { _, _ in calm }
        }
        #expect(unmetShort(now: Self.at(4) + 45 * 60) == nil && unmetShort(now: Self.at(5)) == Self.at(4) + 30 * 60)
        var hour = settings
        hour.minIdle = 3600
        let offBeat = samples(quiet(stride(from: 4, to: 600, by: 5)))   // at 03:04, 03:09, …: the evidence at 04:04
        func unmetEarlier(now: EpochSeconds) -> EpochSeconds? {
            PlanningInputs.unmetDemand(calls: [DemandCall(hour: Self.at(3), quantile: 0.5, forecast: 20)], asleepSince: nil, now: now,
                                       settings: hour, callQuantile: 0.5) { _, _ in offBeat }
        }
        #expect(unmetEarlier(now: Self.at(4) + 2 * 60) == nil && unmetEarlier(now: Self.at(4) + 45 * 60) == nil)
        #expect(unmetEarlier(now: Self.at(5)) == Self.at(4) + 4 * 60)
        // Calls that claimed less than this policy's do (a trial policy's): under restore_above, or at a higher
        // quantile than the median, are not judged; the median at restore_above exactly is.
        #expect(unmet([0, 1], calm, hours: 5, claim: (0.5, 14)) == nil && unmet([0, 1], calm, hours: 5, claim: (0.9, 40)) == nil)
        #expect(unmet([0, 1], calm, hours: 5, claim: (0.5, 15)) == Self.at(4) && unmet([0, 1], calm, hours: 5, claim: (0.1, 15)) == Self.at(4))
        // Among mixed calls, judging starts from the first that claims: a weak call at 00:00, a trial's, does not count;
        // the call at 01:00 proves it an hour later.
        let mixed = [DemandCall(hour: Self.at(0), quantile: 0.5, forecast: 12), DemandCall(hour: Self.at(1), quantile: 0.9, forecast: 40),
                     DemandCall(hour: Self.at(1), quantile: 0.5, forecast: 20)]
        func unmetMixed(hours now: Int) -> EpochSeconds? {
            PlanningInputs.unmetDemand(calls: mixed, asleepSince: nil, now: Self.at(now), settings: settings, callQuantile: 0.5) { _, _ in calm }
        }
        #expect(unmetMixed(hours: 5) == nil && unmetMixed(hours: 6) == Self.at(5))
        var excluded = settings
        excluded.excluded = "never"
        #expect(PlanningInputs.unmetDemand(calls: mixed, asleepSince: nil, now: Self.at(6), settings: excluded, callQuantile: 0.5) { _, _ in calm } == nil)
        // Demand at 00:30 undoes the first call; the second proves it an hour later.
        let busyOnce = samples(quiet(stride(from: 0, to: 600, by: 5)).map { $0.0 == 30 ? (30, 20) : $0 })
        #expect(unmet([0, 1], busyOnce, hours: 5) == nil)
        #expect(unmet([0, 1], busyOnce, hours: 6) == Self.at(5))
        // A gap after the first call: the count does not bridge it, a call after it does.
        let gap = samples(quiet(stride(from: 0, to: 60, by: 5)) + quiet(stride(from: 120, to: 600, by: 5)))
        #expect(unmet([0], gap, hours: 8) == nil)
        #expect(unmet([0, 2], gap, hours: 8) == Self.at(6))
        // Demand since the evidence undoes it; asleep, only what came before the sleep counts.
        let later = samples(quiet(stride(from: 0, to: 420, by: 5)) + [(420, 30)])
        #expect(unmet([0], later, hours: 8) == nil)
        #expect(unmet([0], later, hours: 8, asleepSince: 5) == Self.at(4))
        // A call made while it slept (none: calls are made while it runs) or after the sleep began is not judged.
        #expect(unmet([6], later, hours: 8, asleepSince: 5) == nil)
        // Evidence a day old is set aside, and the next call's, still in use, stands in; without the idle timeout
        // nothing is judged.
        #expect(unmet([0], calm, hours: 28) == nil && unmet([0], calm, hours: 27) == Self.at(4))
        #expect(unmet([0, 1], calm, hours: 28) == Self.at(5))
        let off = try Self.policy().settings(vm: "web-01", labels: [:])
        #expect(PlanningInputs.unmetDemand(calls: [DemandCall(hour: Self.now, quantile: 0.5, forecast: 20)], asleepSince: nil, now: Self.at(5),
                                           settings: off, callQuantile: 0.5) { _, _ in calm } == nil)
    }

    /// A VM in its second week (past min_history, 3 days): however sure its forecast (the profile's lone value per hour
    /// makes q0.1 = q0.99), its sleeps are high risk, said why, so that a standing approval never carries them and a
    /// reviewer sees it; from two weeks on, its forecast decides, however few of those hours are known (a VM torpor keeps
    /// asleep most of the time).
    @Test func aSleepOfAVMSeenForUnderTwoWeeksIsHighRisk() throws {
        var young = Self.vm("young", Self.hours(idle: 2..<9))
        young.knownHours = 10 * 24
        young.historyHours = 10 * 24
        let plan = try Self.plan([young])
        let hibernate = try #require(plan.actions.first { $0.action == .hibernate })
        #expect(hibernate.rationale.risk == "high" && hibernate.rationale.text.contains("seen for 240 h, under two weeks"), "\(hibernate.rationale)")
        young.historyHours = 14 * 24
        #expect(try Self.plan([young]).actions.first { $0.action == .hibernate }?.rationale.risk == "low", "seen for two weeks, 240 h of them known")
    }

    /// A VM the plan hibernates whose other window was refused is not a VM left running: the count and the review
    /// list only VMs without an action, and the refused window apart.
    @Test func aRefusedWindowOfAVMThePlanActsOnIsNotAVMLeftRunning() throws {
        var plan = try Self.plan([Self.vm("a", Self.hours(idle: 2..<9))])
        #expect(plan.actions.contains { $0.vm == "a" && $0.action == .hibernate })
        plan.skipped = [.init(vm: "a", reason: "window from 2013-09-30T14:00:00Z refused: guardrail"), .init(vm: "b", reason: "busy")]
        #expect(plan.leftRunning == [.init(vm: "b", reason: "busy")])
        #expect(plan.windowsNotTaken == [.init(vm: "a", reason: "window from 2013-09-30T14:00:00Z refused: guardrail")])
        let text = PlanReport.text(plan, standing: ApprovalStanding())
        #expect(text.hasSuffix("left running:\n  b: busy\n\nwindows not taken:\n  a: window from 2013-09-30T14:00:00Z refused: guardrail"), "\(text)")
        let page = PlanPage.html(plan, standing: ApprovalStanding(), history: [:], historyStart: Self.now)
        #expect(page.contains("<li>window not taken: window from 2013-09-30T14:00:00Z refused: guardrail</li>") && page.contains("<li>b: busy</li>")
                && !page.contains("<li>a: window"), "a's refused window under a, b among those left running")
    }

    @Test func thePlanIsDeterministicAndTamperingIsDetected() throws {
        let vms = [Self.vm("a", Self.hours(idle: 2..<9)), Self.vm("b", Self.hours(idle: 0..<3))]
        let one = try Self.plan(vms), two = try Self.plan(vms)
        #expect(one.encoded() == two.encoded())
        #expect(try Plan.decode(one.encoded(), source: "p.json") == one)
        let tampered = String(decoding: one.encoded(), as: UTF8.self).replacingOccurrences(of: "2024-03-04T02:00:00Z", with: "2024-03-04T01:00:00Z")
        #expect(throws: PlanError.self) { try Plan.decode(Data(tampered.utf8), source: "p.json") }
        let other = try Self.plan(vms, now: Self.now + 60)
        #expect(other.id != one.id)
        // A plan an earlier torpor wrote with a field this one no longer has (`quietBelow`, removed): its id holds over
        // its bytes, so an upgraded store's approved plans are not called modified; one edited since still is.
        let unsealed = String(decoding: one.encoded(), as: UTF8.self).replacingOccurrences(of: "\n  \"id\" : \"\(one.id)\"", with: "\n  \"id\" : \"\"")
            .replacingOccurrences(of: "{\n  \"actions\"", with: "{\n  \"quietBelow\" : 5,\n  \"actions\"")
        #expect(unsealed.contains("quietBelow") && !unsealed.contains(one.id))
        let older = unsealed.replacingOccurrences(of: "\n  \"id\" : \"\"", with: "\n  \"id\" : \"\(SHA256.hexDigest(of: Data(unsealed.utf8)))\"")
        let read = try Plan.decode(Data(older.utf8), source: "older.json")
        #expect(read.actions == one.actions && read.id != one.id)
        #expect(throws: PlanError.self) { try Plan.decode(Data(older.replacingOccurrences(of: "2024-03-04T02:00:00Z", with: "2024-03-04T01:00:00Z").utf8), source: "p.json") }
    }

    @Test func restoreSchedulerPlacesBackwardsFromDeadlines() {
        let slots = RestoreScheduler.schedule([
            .init(id: "bronze", deadline: 10_000, seconds: 100, priority: 3, earliest: 0),
            .init(id: "gold", deadline: 10_000, seconds: 100, priority: 1, earliest: 0),
            .init(id: "silver", deadline: 10_050, seconds: 100, priority: 2, earliest: 0),
            .init(id: "late", deadline: 500, seconds: 100, priority: 1, earliest: 450),
        ], concurrent: 1)
        #expect(slots["silver"]?.start == 9950)
        #expect(slots["bronze"]?.start == 9850)   // behind silver's slot
        #expect(slots["gold"]?.start == 9750)
        #expect(slots["gold"]?.queueingDelay == 150)
        #expect(slots["late"]?.late == true && slots["late"]?.start == 450)
        // As many lanes as restores at most: a host allowed more at once schedules them as one allowed exactly that many.
        let requests: [RestoreScheduler.Request] = [.init(id: "a", deadline: 10_000, seconds: 100, priority: 1, earliest: 0),
                                                    .init(id: "b", deadline: 10_000, seconds: 100, priority: 2, earliest: 0)]
        #expect(RestoreScheduler.schedule(requests, concurrent: .max) == RestoreScheduler.schedule(requests, concurrent: 2))
        #expect(RestoreScheduler.schedule(requests, concurrent: 2)["b"]?.start == 9900)
    }
}

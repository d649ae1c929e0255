import Foundation
import GRDB
import Testing
@testable import TorporBacktest
import TorporCore
import TorporIngest
import TorporPlan
import TorporStore
import TorporTestSupport
import TorporTrain

/// Replays of crafted series with known answers (hourly samples here; the real traces in the bench are 5-minute).
@Suite struct BacktestTests {
    static let start = UTC.epoch(year: 2024, month: 1, day: 1)   // a Monday
    static let replayFrom = start + 28 * 86_400
    static let days = 35

    /// A store with three VMs over 35 days: `periodic` (50 % from 08:00 to 18:00 UTC every day, 1 % otherwise),
    /// `noise` (uniformly 0–60 % every hour, seeded), `absent` (periodic, but no data on days 30–32) and `burst`
    /// (periodic, plus demand at 02:00 on day 30), `grey` (periodic by day; its nights alternate between 1 % and 12 %,
    /// so that its forecast calls them calm but never idle) and `retired` (50 % from 08:00 to 18:00 on Wednesdays and
    /// Thursdays until day 18, 1 % otherwise; then 1 % but for demand at 17:00 on day 30, a Wednesday).
    static func store() throws -> Store {
        let dir = try ScratchDirectory.make("torpor-bt")
        let store = try Store(path: dir + "/torpor.db")
        var seed: UInt64 = 42
        func noise() -> Double {   // a small LCG: the same series every run
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Double(seed >> 33) / Double(1 << 31) * 60
        }
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            for name in ["periodic", "noise", "absent", "burst", "grey", "retired"] {
                let vm = try VMRepository.id(of: name, in: db, now: start)
                try VMRepository.setPlacement(vm: vm, hostURI: "test:///default", labels: [:], in: db)
                for h in 0..<days * 24 {
                    let t = start + Int64(h) * 3600, hour = h % 24, day = h / 24
                    if name == "absent" && (30...32).contains(day) { continue }
                    var value = name == "noise" ? noise() : (8..<18).contains(hour) ? 50 : 1
                    if name == "burst" && day == 30 && hour == 2 { value = 50 }   // demand no forecast foresaw
                    if name == "grey" && value == 1 && (hour >= 18 ? day : day - 1) % 2 == 0 { value = 12 }   // night by its evening
                    if name == "retired" { value = day > 18 ? (day == 30 && hour == 17 ? 50 : 1) : [2, 3].contains(day % 7) && (8..<18).contains(hour) ? 50 : 1 }
                    _ = try writer.add(vm: vm, metric: cpu, time: t, value: value)
                }
            }
            try writer.finish()
        }
        return store
    }

    static let policy = try! Policy.parse("""
        defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
        tiers: {silver: {quantile: 0.9, priority: 2}}
        guardrails: {max_hibernated_share: 1, min_running: 0}
        """, source: "test")

    @Test func knownAnswers() throws {
        let report = try Backtest(store: try Self.store(), policy: Self.policy, from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400).run()
        print(BacktestTable.render(report))
        let periodic = try #require(report.vms["periodic"])
        let torpor = try #require(periodic["torpor"]), oracle = try #require(periodic["oracle"])
        // A perfectly periodic VM: torpor captures (nearly) what perfect foresight does, with no violation.
        #expect(oracle.capturedHours >= 7 * 13)
        #expect(torpor.capturedHours >= 0.9 * oracle.capturedHours, "\(torpor.capturedHours) of \(oracle.capturedHours)")
        #expect(torpor.violatedIntervals == 0 && torpor.missedEpisodes == 0 && torpor.missedDemandMinutes == 0)
        #expect(torpor.proactiveEpisodes == torpor.episodes && torpor.episodes == 7)
        // The reactive policy pays for every return of demand: it misses each episode, for the default restore time.
        let reactive = try #require(periodic["reactive"])
        #expect(reactive.missedEpisodes == 7 && reactive.violatedIntervals == 7)
        #expect(abs(reactive.missedDemandMinutes - 7 * 0.5) < 1e-9, "\(reactive.missedDemandMinutes)")
        // Seasonal naive reads the latest known day at each hour: a night it slept through (missing in what it has
        // seen) does not keep it awake the next night, so it sleeps every night, like torpor, not every other one.
        let naive = try #require(periodic["seasonal-naive"])
        #expect(naive.capturedHours >= 0.9 * oracle.capturedHours, "\(naive.capturedHours) of \(oracle.capturedHours)")
        #expect(naive.violatedIntervals == 0 && naive.hibernations == torpor.hibernations, "\(naive.hibernations) vs \(torpor.hibernations)")
        // The per-VM table: every VM once, furthest short of the oracle first, each with its own scores.
        let rows = BacktestTable.perVM(report).split(separator: "\n").dropFirst(2)
        let shortfall = { (vm: String) in report.vms[vm]!["oracle"]!.capturedHours - report.vms[vm]!["torpor"]!.capturedHours }
        #expect(rows.map { String($0.prefix { $0 != " " }) } == report.vms.keys.sorted { shortfall($0) != shortfall($1) ? shortfall($0) > shortfall($1) : $0 < $1 })
        let periodicRow = try #require(rows.first { $0.hasPrefix("periodic ") })
        #expect(periodicRow.contains(String(format: "%6.0f %5d %4d", torpor.capturedHours, 0, 0))
                && periodicRow.contains(String(format: "%6.0f %5d %4d", reactive.capturedHours, 7, 7)), "\(periodicRow)")
        // A noisy VM: torpor hibernates little.
        let noise = try #require(report.vms["noise"]?["torpor"])
        #expect(noise.capturedHours < 0.05 * noise.knownHours, "\(noise.capturedHours) of \(noise.knownHours)")
        // Unforeseen demand while asleep: its interval is violated (a missed episode) for the restore's 30 s, and the
        // demand signal wakes the VM instead of leaving it asleep until the planned restore at 08:00.
        let burst = try #require(report.vms["burst"]?["torpor"])
        #expect(burst.violatedIntervals == 1 && burst.missedEpisodes == 1 && abs(burst.missedDemandMinutes - 0.5) < 1e-9)
        let hour = Int((Self.start + 30 * 86_400 + 2 * 3600 - Self.replayFrom) / 3600)
        let asleep = try #require(report.timelines["burst"]?.asleep)
        #expect(asleep[hour] && !asleep[hour + 1])
        // Absent days count nowhere: neither idle nor captured.
        let absent = try #require(report.vms["absent"]?["torpor"])
        #expect(absent.knownHours == 4 * 24)
        #expect(absent.violatedIntervals == 0)
        #expect(report.vms["absent"]!["oracle"]!.capturedHours <= 4 * 14)
        // The oracle sleeps every known stretch without demand (under restore_above) longer than the break-even: no
        // strategy captures more, on any VM; the periodic VM's nights are 14 h (8 h on the first, 6 h on the last).
        #expect(abs(oracle.capturedHours - (8 + 6 * 14 + 6)) < 0.01 && oracle.violatedIntervals == 0, "\(oracle.capturedHours)")
        for (vm, scores) in report.vms {
            for (strategy, score) in scores { #expect(score.capturedHours <= scores["oracle"]!.capturedHours + 1e-9, "\(vm) \(strategy)") }
        }
        // The reactive timeout counts the quiet before the replay, as production's store has it: asleep from its start
        // (00:00-08:00), then 22:00-08:00 six nights and 22:00-24:00 the last (4 h less if it started blind).
        #expect(abs(reactive.capturedHours - (8 + 6 * 10 + 2)) < 0.01, "\(reactive.capturedHours)")
    }

    /// A store of VMs each given its hourly CPU over `days` days from `start` by `value(hour of the day, day)`, nil
    /// for no sample, `perHour` samples in each hour; all on one host.
    static func store(_ vms: [String: (Int, Int) -> Double?], days: Int = 35, perHour: Int = 1, vcpus: ((Int, Int) -> Double)? = nil) throws -> Store {
        let store = try Store(path: try ScratchDirectory.make("torpor-bt") + "/torpor.db")
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            let count = try writer.metricID(try MetricBinding.make(metric: "vcpus", unit: "count").get())
            for (name, value) in vms.sorted(by: { $0.key < $1.key }) {
                let vm = try VMRepository.id(of: name, in: db, now: start)
                try VMRepository.setPlacement(vm: vm, hostURI: "test:///default", labels: [:], in: db)
                for h in 0..<days * 24 {
                    guard let v = value(h % 24, h / 24) else { continue }
                    for k in 0..<perHour {
                        let t = start + Int64(h) * 3600 + Int64(k * 3600 / perHour)
                        _ = try writer.add(vm: vm, metric: cpu, time: t, value: v)
                        if let vcpus { _ = try writer.add(vm: vm, metric: count, time: t, value: vcpus(h % 24, h / 24)) }
                    }
                }
            }
            try writer.finish()
        }
        return store
    }

    /// A VM whose vCPUs were cut from 4 to 2 on the evening before a replayed day: its workdays, measured at 10 % of 4
    /// vCPUs, are 20 % of the 2 it has since, over restore_above. Each replayed hour reads the history on the vCPUs known
    /// then, as production does: the VM is back before the workday (read as measured, 10 % would keep it asleep into it).
    @Test func aReplayReadsHistoryOnTheVCPUsKnownThen() throws {
        let store = try Self.store(["cut": { hour, day in (8..<18).contains(hour) ? (day < 30 ? 10 : 20) : 1 }],
                                   vcpus: { hour, day in day < 29 || day == 29 && hour < 20 ? 4 : 2 })
        let report = try Backtest(store: store, policy: Self.policy, from: Self.start + 30 * 86_400, to: Self.start + 31 * 86_400).run([.seasonalNaive])
        let naive = try #require(report.vms["cut"]?["seasonal-naive"])
        #expect(naive.episodes == 1 && naive.proactiveEpisodes == 1 && naive.violatedIntervals == 0, "\(naive)")
    }

    /// Each replayed hour forecasts from the history production reads then (`historyHours`, 28 days), not from all
    /// the replay has seen since its start: a VM busy one Tuesday (day 1) and idle since is kept up that Tuesday's
    /// hours on day 29 (its profile holds it), but sleeps through the Tuesday five weeks on (day 36) as production
    /// does, its history from day 8 on; it had been kept up then too, on a profile of every week since day 1.
    @Test func aReplayedHourReadsNoMoreHistoryThanProductionDoes() throws {
        let store = try Self.store(["reformed": { hour, day in day == 1 && (8..<18).contains(hour) ? 50 : 1 }], days: 38)
        func captured(to day: Int64) throws -> Double {
            try #require(try Backtest(store: store, policy: Self.policy, from: Self.start + 29 * 86_400, to: Self.start + day * 86_400)
                .run([.torpor]).vms["reformed"]?["torpor"]).capturedHours
        }
        let dayBefore = try captured(to: 36), day36 = try captured(to: 37) - dayBefore
        #expect(day36 > 23, "asleep all of day 36: \(day36) h")
        #expect(try captured(to: 30) < 24 - 9, "kept up day 29's working hours")
    }

    /// Restores that queue on a host (one at a time, half an hour each) start early: their VMs are back early, asleep
    /// less than when each restore has the host alone, not kept asleep to their deadlines; none is violated for it.
    @Test func queuedRestoresBringTheirVMsBackEarly() throws {
        func policy(_ concurrent: Int, limits: String = "") throws -> Policy {
            try Policy.parse("""
                defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
                tiers: {silver: {quantile: 0.9, priority: 2}}
                guardrails: {max_hibernated_share: 1, min_running: 0}
                default_restore_seconds: 1800
                host_defaults: {concurrent_restores: \(concurrent)\(limits)}
                """, source: "test")
        }
        let periodic: (Int, Int) -> Double? = { hour, _ in (8..<18).contains(hour) ? 50 : 1 }
        let store = try Self.store(["a": periodic, "b": periodic, "c": periodic, "d": periodic])
        let to = Self.start + Int64(Self.days) * 86_400
        let alone = try #require(try Backtest(store: store, policy: try policy(1000), from: Self.replayFrom, to: to).run([.torpor]).fleet["torpor"])
        let queued = try #require(try Backtest(store: store, policy: try policy(1), from: Self.replayFrom, to: to).run([.torpor]).fleet["torpor"])
        #expect(queued.capturedHours < alone.capturedHours - 4, "queued \(queued.capturedHours), alone \(alone.capturedHours)")
        #expect(queued.violatedIntervals == 0 && alone.violatedIntervals == 0)
        // Host capacities are replayed as production plans them: these VMs report no memory, which on a host with a
        // memory limit is no size of zero, so none sleeps.
        let limited = Backtest(store: store, policy: try policy(1000, limits: ", memory: 64GiB"), from: Self.replayFrom, to: to)
        #expect(try #require(try limited.run([.torpor]).fleet["torpor"]).capturedHours == 0)
    }

    /// The oracle sleeps across a gap in the data (the score counts no gap): a VM whose nights are known only every
    /// other hour, each known hour shorter than the break-even alone, is captured by it as by the office hours that
    /// sleep across the gaps; it stays an upper bound. A VM without a sample in the window is in no score.
    @Test func theOracleSleepsAcrossGapsAndAVMWithoutDataIsNotScored() throws {
        let policy = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers: {silver: {quantile: 0.9, priority: 2}}
            guardrails: {max_hibernated_share: 1, min_running: 0}
            default_restore_seconds: 3000
            """, source: "test")
        let store = try Self.store(["gappy": { hour, _ in (8..<18).contains(hour) ? 50 : hour % 2 == 0 ? 1 : nil },
                                    "empty": { _, day in day < 20 ? 1 : nil }])
        let report = try Backtest(store: store, policy: policy, from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400)
            .run([.officeHours, .reactive, .oracle])
        let gappy = try #require(report.vms["gappy"])
        #expect(gappy["office-hours"]!.capturedHours > 0)
        for (strategy, score) in gappy { #expect(score.capturedHours <= gappy["oracle"]!.capturedHours + 1e-9, "\(strategy)") }
        #expect(report.vms["empty"] == nil, "no sample in the window: not scored, its office-hours sleeps not counted")
        #expect(report.fleet["office-hours"]!.hibernations == gappy["office-hours"]!.hibernations)
    }

    /// A window without a whole hour in it is nothing to replay, also in a walk-forward (it had crashed).
    @Test func aWindowWithoutAWholeHourIsNothingToReplay() throws {
        var backtest = Backtest(store: try Self.store(), policy: Self.policy, from: Self.replayFrom + 600, to: Self.replayFrom + 1800)
        backtest.retrainEveryDays = 1
        let error = #expect(throws: StageError.self) { _ = try backtest.run() }
        #expect(error?.kind == .nothingToDo && error?.message.contains("no whole hour") == true, "\(String(describing: error))")
    }

    /// A VM the policy excludes sleeps under no strategy, office hours included: the oracle stays an upper bound.
    @Test func anExcludedVMSleepsUnderNoStrategy() throws {
        let policy = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers: {silver: {quantile: 0.9, priority: 2}}
            guardrails: {max_hibernated_share: 1, min_running: 0}
            vms: {periodic: {exclude: true}}
            """, source: "test")
        let report = try Backtest(store: try Self.store(), policy: policy, from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400)
            .run([.officeHours, .reactive, .oracle])
        #expect(try #require(report.vms["periodic"]).values.allSatisfy { $0.capturedHours == 0 && $0.hibernations == 0 })
        #expect(report.vms["burst"]?["office-hours"]?.capturedHours ?? 0 > 0)
    }

    /// A window no sample falls in (a --now or --from outside the history) is nothing to replay, not a table of zeros.
    @Test func aWindowWithoutSamplesIsNothingToReplay() throws {
        let after = Self.start + Int64(Self.days + 10) * 86_400
        let error = #expect(throws: StageError.self) {
            _ = try Backtest(store: try Self.store(), policy: Self.policy, from: after, to: after + 86_400).run([.officeHours, .reactive, .oracle])
        }
        #expect(error?.kind == .nothingToDo && error?.message.contains("no VM has a CPU sample from") == true, "\(String(describing: error))")
    }

    /// The idle timeout: the grey VM's forecast never says idle, so torpor leaves it running; with `idle_timeout` it
    /// sleeps on its quiet nights once 4 h of measured demand stayed under 5 % (from 22:00, or at once when the replay
    /// starts at midnight: quiet since 18:00 the day before), never on the others, and the forecast restores it by 08:00:
    /// nothing violated.
    @Test func theIdleTimeoutSleepsACalmVMOnlyAfterMinIdleOfMeasuredQuiet() throws {
        let store = try Self.store(), to = Self.start + Int64(Self.days) * 86_400
        let off = try Backtest(store: store, policy: Self.policy, from: Self.replayFrom, to: to).run([.torpor])
        #expect(off.vms["grey"]?["torpor"]?.hibernations == 0)
        var policy = Self.policy
        policy.defaults.idleTimeout = true
        let on = try Backtest(store: store, policy: policy, from: Self.replayFrom, to: to).run([.torpor])
        let grey = try #require(on.vms["grey"]?["torpor"])
        // Quiet nights in the replay: the one ending on day 28 (from 00:00) and three whole ones (22:00-08:00, the
        // restore finishing at 08:00), each woken before the day's demand.
        #expect(abs(grey.capturedHours - (8 + 3 * 10)) < 0.01, "\(grey.capturedHours)")
        #expect(grey.hibernations == 4 && grey.violatedIntervals == 0 && grey.missedEpisodes == 0 && grey.proactiveEpisodes == 4)
        let periodic = try #require(on.vms["periodic"]?["torpor"]), noise = try #require(on.vms["noise"]?["torpor"])
        #expect(periodic.violatedIntervals == 0 && noise.capturedHours < 0.05 * noise.knownHours)
    }

    /// Under the idle timeout a VM whose demand stopped is dormant (no measured demand in more than 8 days while its
    /// forecast still calls for it): it sleeps through what its forecast calls for. The demand that wakes it ends its
    /// dormancy, also once it sleeps again (its wake's hour is not in the history: production's journal has the wake):
    /// the next morning, a Thursday, its forecast restores it.
    @Test func theDemandThatWakesADormantVMEndsItsDormancy() throws {
        var policy = Self.policy
        policy.defaults.idleTimeout = true
        let report = try Backtest(store: try Self.store(), policy: policy, from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400).run([.torpor])
        let asleep = try #require(report.timelines["retired"]?.asleep)
        func at(day: Int, _ hour: Int) -> Int { Int((Self.start + Int64(day) * 86_400 + Int64(hour) * 3600 - Self.replayFrom) / 3600) }
        #expect(asleep[at(day: 30, 9)], "dormant: asleep through its forecast's demand")
        #expect(asleep[at(day: 30, 17)] && !asleep[at(day: 30, 18)], "woken by the demand at 17:00")
        #expect(asleep[at(day: 31, 3)] && !asleep[at(day: 31, 12)], "its forecast believed again")
        let retired = try #require(report.vms["retired"]?["torpor"])
        #expect(retired.missedEpisodes == 1 && retired.violatedIntervals == 1)
    }

    /// The hour a demand woke a VM in keeps that demand in what the planner reads next (its samples after the wake, as
    /// production's history has them): seasonal naive, which reads the latest known day at each hour, misses the first
    /// workday's 08:00 after a weekend idle at that hour, then restores before it every day after; were the hour of the
    /// wake missing, it would reach back to the weekend and miss every morning of the week.
    @Test func theHourOfADemandWakeTeachesTheNextDay() throws {
        let office: (Int, Int) -> Double? = { hour, day in day % 7 < 5 && (8..<18).contains(hour) ? 50 : 1 }
        let report = try Backtest(store: try Self.store(["office": office], perHour: 12), policy: Self.policy,
                                  from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400).run([.seasonalNaive])
        let naive = try #require(report.vms["office"]?["seasonal-naive"])
        #expect(naive.episodes == 5 && naive.missedEpisodes == 1 && naive.proactiveEpisodes == 4, "\(naive)")
    }

    /// The office-hours schedule sleeps only in hours closed from start to end on the fleet's clock: in Kolkata (UTC+5:30)
    /// the hour from 06:30 local stays awake for the office's 07:00, and the one from 18:30 for its last half hour (it
    /// slept through both half hours, its violations there flattering torpor's comparison).
    @Test func officeHoursInAZoneHalfAnHourOffUTCSleepOnlyClosedHours() throws {
        let store = try Self.store(["web": { _, _ in 1 }], days: 3)
        let from = Self.start, to = Self.start + 3 * 86_400   // Monday 00:00Z, 05:30 in Kolkata
        let (whole, samples, records) = try store.read { db in
            (try HourlySeries.load(vm: "web", from: from, to: to, in: db),
             DemandSamples(try SampleReader.samples(vm: "web", metric: "cpu_util", from: from, to: to, in: db)), try VMRepository.all(in: db))
        }
        let replay = Backtest.Replay(records: records, series: [whole], samples: [samples], demand: [samples], scored: [samples], restoreSeconds: [nil], memoryBytes: [nil],
                                     events: [], calendar: CalendarHours(), offset: 0, hours: 72)
        var backtest = Backtest(store: store, policy: Self.policy, from: from, to: to)
        backtest.clock = try #require(WeekClock(zone: "Asia/Kolkata"))
        let asleep = try backtest.simulate(.officeHours, replay, blocks: [])[0]
        #expect(asleep.prefix(2) == [Downtime(start: from, end: from + 3600), Downtime(start: from + 14 * 3600, end: from + 25 * 3600)], "\(asleep)")
    }

    /// The replay's history after a VM's sleeps is production's: `Replay.holdAfterSleeps` on the hours the sleeps touch
    /// gives, hour for hour, what `HourlySeries.load` with those sleeps excluded reads from the store (a sleep beginning
    /// in an hour, from its start, ending in one, on one, one hour cut by two sleeps; the store holds the samples inside
    /// them too, as a trace does).
    @Test func theReplaysHistoryAfterSleepsIsProductions() throws {
        let store = try Self.store(["web": { hour, _ in (8..<18).contains(hour) ? 50 : 1 }], days: 3, perHour: 12)
        let from = Self.start, to = Self.start + 3 * 86_400
        func at(_ hour: Int, _ minute: Int) -> EpochSeconds { Self.start + Int64(hour * 3600 + minute * 60) }
        let sleeps = [at(20, 35)...at(32, 10), at(33, 0)...at(33, 40), at(40, 50)...at(41, 55), at(41, 58)...at(42, 20), at(50, 0)...at(56, 0)]
        let (production, whole, samples, records) = try store.read { db in
            (try HourlySeries.load(vm: "web", from: from, to: to, excluded: sleeps, in: db), try HourlySeries.load(vm: "web", from: from, to: to, in: db),
             DemandSamples(try SampleReader.samples(vm: "web", metric: "cpu_util", from: from, to: to, in: db)), try VMRepository.all(in: db))
        }
        let replay = Backtest.Replay(records: records, series: [whole], samples: [samples], demand: [samples], scored: [samples], restoreSeconds: [nil], memoryBytes: [nil],
                                     events: [], calendar: CalendarHours(), offset: 0, hours: 72)
        var seen = whole, counts = replay.sampleCounts(vm: 0)
        for k in HourlySeries.indices(touchedBy: sleeps, first: from, count: whole.values.count).sorted() {
            replay.holdAfterSleeps(sleeps, vm: 0, hour: k, in: &seen, counts: &counts)
        }
        #expect(seen.values.elementsEqual(production.values) { $0 == $1 || $0.isNaN && $1.isNaN }, "\(seen.values) \(production.values)")
        #expect(seen.sparse == production.sparse)
        #expect(production.values[20].isNaN && production.values[32] == 50 && production.values[56] == 50)
        #expect(production.sparse.isSuperset(of: [33]) && production.values[41].isNaN && production.values[42] == 1, "\(production.sparse)")
    }

    /// A replayed hour sees only the calendar events torpor knew of then: a keep-awake recorded after the fact does not
    /// keep the replay's VM awake; the same event known ahead does.
    @Test func aReplayedHourSeesOnlyTheEventsKnownThen() throws {
        let store = try Self.store()
        let dir = try ScratchDirectory.make("torpor-bt-cal")
        // periodic's night from 01:00 to 05:00 on day 30 (idle at 1 %, a sleep the replay takes otherwise).
        let night = Self.start + 30 * 86_400 + 3600
        func compact(_ t: EpochSeconds) -> String { UTC.format(t).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") }
        func ics(_ stamp: String) -> String {
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//torpor//test//EN\r\nBEGIN:VEVENT\r\nUID:backup@test\r\nDTSTAMP:\(stamp)\r\n"
                + "SUMMARY:Backup\r\nCATEGORIES:backup\r\nX-TORPOR-VMS:periodic\r\nDTSTART:\(compact(night))\r\nDTEND:\(compact(night + 4 * 3600))\r\n"
                + "END:VEVENT\r\nEND:VCALENDAR\r\n"
        }
        try ics(compact(night)).write(toFile: dir + "/backup.ics", atomically: true, encoding: .utf8)
        let to = Self.start + Int64(Self.days) * 86_400
        func asleepAtNight() throws -> Bool {
            let report = try Backtest(store: store, policy: Self.policy, from: Self.replayFrom, to: to).run([.torpor])
            let asleep = try #require(report.timelines["periodic"]?.asleep)
            return asleep[Int((night + 3600 - Self.replayFrom) / 3600)]
        }
        #expect(try asleepAtNight(), "without the event")
        _ = try CalendarIngester(store: store).ingest(path: dir + "/backup.ics", from: night - 86_400, to: to, now: to)   // recorded afterwards
        #expect(try asleepAtNight(), "recorded after the fact: unknown to the replayed hour")
        try ics(compact(night - 60)).write(toFile: dir + "/backup.ics", atomically: true, encoding: .utf8)   // the file again, stamped otherwise
        _ = try CalendarIngester(store: store).ingest(path: dir + "/backup.ics", from: night - 86_400, to: to, now: night - 86_400)   // known a day ahead
        #expect(try !asleepAtNight(), "known ahead: kept awake")
    }

    /// The curves: one frontier per strategy, and torpor's without the idle timeout dashed when both were swept.
    @Test func theCurvesShowWhatTheIdleTimeoutAdds() {
        func point(_ strategy: String, _ setting: String, _ captured: Double, _ violations: Double) -> BacktestSweep.Point {
            .init(strategy: strategy, setting: setting, capturedHours: captured, violationShare: violations, missedEpisodeShare: 0)
        }
        let swept = [point("torpor", "q0.9", 100, 0.001), point("torpor", "q0.9, idle timeout", 150, 0.002), point("torpor", "q0.5", 120, 0.004),
                     point("reactive", "min_idle 4h", 90, 0.01)]
        let svg = BacktestPage.curves(swept)
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        let dashed = svg.components(separatedBy: "data-strategy=\"torpor, idle timeout off\" points=\"").dropFirst().first ?? ""
        #expect(dashed.prefix { $0 != "\"" }.split(separator: " ").count == 2, "the frontier of the two points without the idle timeout")
        #expect(svg.contains("- - idle timeout off"))
        #expect(!BacktestPage.curves(swept.filter { !$0.setting.contains("idle") }).contains("idle timeout off"))
    }

    /// The sweep's most aggressive `hibernate_below` is the defaults' `restore_above`; a group or VM that restores
    /// above less is swept up to its own instead, never to a setting production would refuse.
    @Test func theSweepNeverPutsAVMsHibernateBelowAboveItsRestoreAbove() throws {
        let policy = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers: {silver: {quantile: 0.9, priority: 2}}
            groups: [{match: {team: db}, restore_above: 10}, {match: {team: ci}, hibernate_below: 3, restore_above: 12}, {match: {team: lo}, restore_above: 8}]
            vms: {edge-01: {restore_above: 8}, ci-07: {restore_above: 6}, lo-02: {restore_above: 20}}
            """, source: "test")
        let vms: [(name: String, labels: [String: String])] = [("web-01", [:]), ("db-01", ["team": "db"]), ("ci-01", ["team": "ci"]), ("edge-01", [:]),
                                                                ("edge-01b", ["team": "db"]), ("ci-07", ["team": "ci"]), ("lo-01", ["team": "lo"]), ("lo-02", ["team": "lo"])]
        let sweep = BacktestSweep(Backtest(store: try Self.store(), policy: policy, from: Self.replayFrom, to: Self.replayFrom + 86_400))
        var seen: [String: Set<Double>] = [:]
        for replay in sweep.replays(vms: vms) {
            #expect(replay.policy.conflicts(vms: vms).isEmpty, "\(replay.points.map(\.setting))")
            for vm in vms { seen[vm.name, default: []].insert(replay.policy.settings(vm: vm.name, labels: vm.labels).hibernateBelow) }
        }
        #expect(seen["web-01"] == [2, 5, 10, 15])
        #expect(seen["db-01"] == [2, 5, 10] && seen["edge-01b"] == [2, 5, 10], "the group's own restore_above at the top")
        #expect(seen["ci-01"] == [3], "a group's own hibernate_below is not swept")
        #expect(seen["edge-01"] == [2, 5, 8] && seen["lo-01"] == [2, 5, 8])
        #expect(seen["ci-07"] == [3], "its group's own hibernate_below holds under its lower restore_above")
        #expect(seen["lo-02"] == [2, 5, 10, 15], "its own restore_above lifts its group's")
    }

    /// Walk-forward: a model trained every 3 days on the data before each block only, nothing written to the
    /// registry, and the runs' verdicts obeyed: the white-noise VM has no skill and is never put to sleep.
    @Test func walkForwardRetrainsWithoutRecordingAndObeysVerdicts() throws {
        let store = try Self.store()
        var backtest = Backtest(store: store, policy: Self.policy, from: Self.replayFrom, to: Self.start + Int64(Self.days) * 86_400)
        backtest.retrainEveryDays = 3
        backtest.training.maxEpochs = 3
        backtest.training.hiddenSize = 8
        try backtest.prepareForecasts()
        let report = try backtest.run()
        print(BacktestTable.render(report))
        #expect(report.forecast.hasPrefix("walk-forward: retrained every 3 d") && report.forecast.hasSuffix("of 3 runs promoted)"), "\(report.forecast)")
        #expect(try store.read { try ModelRegistry.runs(in: $0) }.isEmpty, "a backtest records nothing")
        let periodic = try #require(report.vms["periodic"]?["torpor"]), oracle = try #require(report.vms["periodic"]?["oracle"])
        #expect(periodic.capturedHours >= 0.9 * oracle.capturedHours && periodic.violatedIntervals == 0)
        let noise = try #require(report.vms["noise"]?["torpor"])
        #expect(noise.hibernations == 0 && noise.capturedHours == 0)
        #expect(periodic.churnPerVMDay > 0 && periodic.replayedHours == 7 * 24)
        // The sweep gives the same points in the same order whether its replays run one or two at a time (each worker
        // forecasting with its own copy of the models): per setting of hibernate_below (2, 5, 10 and the policy's
        // restore_above, 15) × min_idle, torpor at six quantiles (q0.75 interpolated) with the idle timeout off and on,
        // seasonal naive with it off and on, and the reactive timeout (the same hibernate_below and min_idle values for
        // each); office hours thrice.
        #expect(backtest.policy.defaultRestoreAbove == 15)
        let vms = try store.read { try VMRepository.all(in: $0) }.map { (name: $0.name, labels: $0.labels) }
        let sweep = BacktestSweep(backtest), points = sweep.replays(vms: vms).flatMap(\.points)
        #expect(points.count == 16 * (12 + 2 + 1) + 3 && points.filter { $0.strategy == .torpor }.count == 192)
        #expect(points.contains { $0.strategy == .reactive && $0.setting == "hibernate_below 15.0, min_idle 2h" })
        #expect(BacktestSweep.hibernateBelows(restoreAbove: 8) == [2, 5, 8] && BacktestSweep.hibernateBelows(restoreAbove: 10) == [2, 5, 10])
        #expect(points.contains { $0.strategy == .torpor && $0.setting == "hibernate_below 5.0, min_idle 8h, q0.75, idle timeout" })
        #expect(Set(points.filter { $0.strategy == .seasonalNaive }.map(\.setting)) == Set(points.filter { $0.strategy == .torpor && $0.setting.contains("q0.5") }
            .map { $0.setting.replacingOccurrences(of: ", q0.5", with: "") }), "seasonal naive at every setting torpor has, idle timeout off and on")
        let firstSetting = Array(sweep.replays(vms: vms).prefix(13))   // hibernate_below 2 %, min_idle 2 h (the whole sweep takes a minute)
        let serial = try sweep.run(firstSetting, workers: 1), parallel = try sweep.run(firstSetting, workers: 2)
        #expect(serial.count == 15 && Set(serial.map(\.setting)).count == 14)
        #expect(parallel == serial)
    }
}

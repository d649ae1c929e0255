import Foundation
import GRDB
import Testing
import TorporCore
@testable import TorporStore

/// The journal only grows: what the executor's passes and the plans read of it must not grow with it.
@Suite struct JournalRepositoryTests {
    static let day: EpochSeconds = 86_400

    static func step(_ action: String, _ vm: String, _ kind: JournalEntry.Kind, _ step: JournalEntry.Step, at: EpochSeconds,
                     seconds: Double? = nil) -> JournalEntry {
        JournalEntry(actionID: action, planID: "p", vm: vm, host: "h", kind: kind, step: step, at: at, seconds: seconds)
    }

    /// Every step of an action that finished: intent, started, done.
    static func finished(_ action: String, _ vm: String, _ kind: JournalEntry.Kind, at: EpochSeconds, seconds: Double = 10) -> [JournalEntry] {
        [step(action, vm, kind, .intent, at: at), step(action, vm, kind, .started, at: at), step(action, vm, kind, .done, at: at, seconds: seconds)]
    }

    @Test func unfinishedActionsAreTheOnesWhoseLatestStepIsIntentOrStarted() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for e in Self.finished("h1", "a", .hibernate, at: 100) + [Self.step("h2", "b", .hibernate, .intent, at: 200),
                                                                    Self.step("r1", "a", .restore, .intent, at: 300),
                                                                    Self.step("r1", "a", .restore, .started, at: 301)] {
                try JournalRepository.append(e, in: db)
            }
        }
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.map { "\($0.actionID) \($0.step)" } == ["h2 intent", "r1 started"])
        try store.transaction { _ = try JournalRepository.append(Self.step("r1", "a", .restore, .done, at: 330, seconds: 30), in: $0) }
        try store.transaction { _ = try JournalRepository.append(Self.step("h2", "b", .hibernate, .failed, at: 210), in: $0) }
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.isEmpty)
        let latest = try store.read { try JournalRepository.latestSteps(of: ["h1", "r1", "h2", "nothing"], in: $0) }
        #expect(latest.mapValues(\.step) == ["h1": .done, "r1": .done, "h2": .failed])
        #expect(latest["r1"]?.seconds == 30)
        // A record kept back and written late (at its run's end) closes the attempt it ends, not one another executor
        // began at the same action since (told by its journal row, not its time: both may share a second).
        let mine = try store.transaction { db in
            let mine = try JournalRepository.append(Self.step("r2", "c", .restore, .started, at: 400), in: db)
            try JournalRepository.append(Self.step("r2", "c", .restore, .intent, at: 400), in: db)   // another executor's, the same second
            try JournalRepository.append(Self.step("r2", "c", .restore, .done, at: 400, seconds: 30), keptBack: .init(attempt: mine), in: db)
            return mine
        }
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.map { "\($0.actionID) \($0.step) \($0.id > mine)" } == ["r2 intent true"])
        // A record kept back none of whose steps the store took closes no attempt; the other executor's own end does.
        try store.transaction { _ = try JournalRepository.append(Self.step("r2", "c", .restore, .done, at: 401, seconds: 1), keptBack: .init(attempt: nil), in: $0) }
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.count == 1)
        try store.transaction { _ = try JournalRepository.append(Self.step("r2", "c", .restore, .done, at: 470, seconds: 10), in: $0) }
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.isEmpty)
    }

    /// A replay's --now sees the power states, pins and restore times as they were then, not later ones.
    /// A power state a newer torpor wrote (read by an executor rolled back) is asleep: owed a restore, counted asleep by
    /// the guardrails; never a sleeping VM taken for running.
    @Test func aPowerStateThisTorporDoesNotKnowIsAsleep() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "INSERT INTO power (vm, host, state, since, action_id) VALUES ('a', 'test:///default', 'suspended-to-disk', 0, 'x')")
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        }
        #expect(try store.read { try JournalRepository.power(of: "a", in: $0) }?.state == .hibernated)
        #expect(try store.read { try JournalRepository.hibernatedVMs(in: $0) } == ["a"])
    }

    /// The executor writes on a store a newer torpor migrated (restores are never blocked): its records update rows in
    /// place, keeping the columns it does not know and never deleting a row a newer table refers to (a replace
    /// deleted it first: a newer table's ON DELETE CASCADE fired, its rows lost).
    @Test func recordsUpdateInPlaceOnANewerSchema() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            try db.execute(sql: """
                ALTER TABLE power ADD COLUMN newer TEXT;
                ALTER TABLE pin ADD COLUMN newer TEXT;
                CREATE TABLE sleep_detail (vm TEXT NOT NULL REFERENCES power(vm) ON DELETE CASCADE, note TEXT);
                """)
            try JournalRepository.setPower(PowerRecord(vm: "a", host: "h", state: .hibernated, since: 100, actionID: "h1"), in: db)
            try JournalRepository.pin(PinRecord(vm: "a", until: nil, pinnedBy: "ops", pinnedAt: 50), in: db)
            try db.execute(sql: "UPDATE power SET newer = 'kept'; UPDATE pin SET newer = 'kept'; INSERT INTO sleep_detail VALUES ('a', 'kept')")
        }
        try store.transaction { db in
            try JournalRepository.setPower(PowerRecord(vm: "a", host: "h", state: .running, since: 200, actionID: "r1"), in: db)
            try JournalRepository.pin(PinRecord(vm: "a", until: 900, pinnedBy: "ops", pinnedAt: 210), in: db)
            try PlanRepository.set("executor_paused", to: "on", by: "ops", at: 220, in: db)
            try PlanRepository.set("executor_paused", to: "off", by: "ops", at: 230, in: db)
        }
        let (kept, pinKept, details, power) = try store.read { db in
            (try String.fetchOne(db, sql: "SELECT newer FROM power"), try String.fetchOne(db, sql: "SELECT newer FROM pin"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM sleep_detail"), try JournalRepository.power(of: "a", in: db))
        }
        #expect(kept == "kept" && pinKept == "kept" && details == 1 && power?.state == .running && power?.since == 200)
    }

    @Test func powerPinsAndRestoreTimesAsTheyStoodAtATime() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for e in Self.finished("h1", "a", .hibernate, at: 100) + Self.finished("r1", "a", .restore, at: 500, seconds: 40) {
                try JournalRepository.append(e, in: db)
            }
            try JournalRepository.setPower(PowerRecord(vm: "a", host: "h", state: .running, since: 500, actionID: "r1"), in: db)
            try JournalRepository.setPower(PowerRecord(vm: "b", host: "h", state: .hibernated, since: 900, actionID: "h9"), in: db)
            try JournalRepository.pin(PinRecord(vm: "a", until: nil, pinnedBy: "ops", pinnedAt: 600), in: db)
        }
        let (then, pinsThen, p95Then, now) = try store.read { db in
            (try JournalRepository.power(at: 300, in: db), try JournalRepository.pins(madeBy: 300, in: db),
             try JournalRepository.p95Seconds(kind: .restore, vms: ["a"], upTo: 300, in: db), try JournalRepository.power(at: 1000, in: db))
        }
        #expect(then["a"]?.state == .hibernated && then["a"]?.since == 100 && then["a"]?.actionID == "h1")
        #expect(then["b"] == nil, "b's sleep began after 300 and nothing before it")
        #expect(pinsThen.isEmpty && p95Then.isEmpty)
        #expect(now["a"]?.state == .running && now["b"]?.state == .hibernated)
    }

    @Test func aV10StoreKnowsWhichActionsARunStoppedIn() throws {
        let path = try olderStore(upTo: "v10: what each demand call claimed") { db in
            for (action, step) in [("h1", "intent"), ("h1", "started"), ("h1", "done"), ("h2", "intent"), ("r1", "intent"), ("r1", "started"),
                                   ("h3", "intent"), ("h3", "skipped")] {
                try db.execute(sql: "INSERT INTO journal (action_id, vm, host, kind, step, at) VALUES (?, 'a', 'h', 'hibernate', ?, 0)",
                               arguments: [action, step])
            }
        }
        let store = try Store(path: path)
        #expect(try store.read { try JournalRepository.unfinished(in: $0) }.map { "\($0.actionID) \($0.step)" } == ["h2 intent", "r1 started"])
    }

    @Test func theP95OfTheLast50StepsAndTheSleepsSinceAGivenTime() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            // 60 restores of VM a: the first ten took 100 s, the last 50 took 1…50 s.
            for i in 0..<60 {
                for e in Self.finished("r\(i)", "a", .restore, at: EpochSeconds(i) * 1000, seconds: i < 10 ? 100 : Double(i - 9)) {
                    try JournalRepository.append(e, in: db)
                }
            }
            // VM b: asleep on days 1–2 and from day 5 on, not yet restored.
            for e in Self.finished("h1", "b", .hibernate, at: 1 * Self.day) + Self.finished("r1", "b", .restore, at: 2 * Self.day)
                + Self.finished("h2", "b", .hibernate, at: 5 * Self.day) {
                try JournalRepository.append(e, in: db)
            }
        }
        let p95 = try store.read { try JournalRepository.p95Seconds(kind: .restore, vms: ["a", "b", "c"], in: $0) }
        #expect(p95 == ["a": 48, "b": 10], "the 48th of the last 50 (1…50 s); the ten 100 s restores are older")
        #expect(try store.read { try JournalRepository.p95Seconds(kind: .hibernate, vms: ["a"], in: $0) }.isEmpty)

        func intervals(from: EpochSeconds) throws -> [ClosedRange<EpochSeconds>] {
            try store.read { try JournalRepository.hibernatedIntervals(vm: "b", from: from, now: 7 * Self.day, in: $0) }
        }
        #expect(try intervals(from: 0) == [1 * Self.day...2 * Self.day, 5 * Self.day...7 * Self.day])
        #expect(try intervals(from: Self.day + 3600) == [1 * Self.day...2 * Self.day, 5 * Self.day...7 * Self.day],
                "a sleep that began before from and ends after it")
        #expect(try intervals(from: 2 * Self.day + 1800) == [1 * Self.day...2 * Self.day, 5 * Self.day...7 * Self.day],
                "from the hour of from: the hour the restore ended in is the first of the history")
        #expect(try intervals(from: 3 * Self.day) == [5 * Self.day...7 * Self.day])
        #expect(try intervals(from: 6 * Self.day) == [5 * Self.day...7 * Self.day], "asleep since before from, still asleep")
    }

    /// The newest restore no plan scheduled (a demand signal's or an operator's) that finished in [from, now].
    @Test func theLastUnplannedWakeIsTheNewestFinishedSignalOrOperatorRestore() throws {
        let store = try Store(path: temporaryStorePath())
        let signal = UnplannedWake.signal.actionID(vm: "c", at: 3 * Self.day), wake = UnplannedWake.wake.actionID(vm: "c", at: 4 * Self.day)
        try store.transaction { db in
            for e in Self.finished(signal, "c", .restore, at: 3 * Self.day) + Self.finished(wake, "c", .restore, at: 4 * Self.day)
                + Self.finished("restore:c:planned", "c", .restore, at: 5 * Self.day)
                + [Self.step(UnplannedWake.signal.actionID(vm: "c", at: 6 * Self.day), "c", .restore, .intent, at: 6 * Self.day)]
                + Self.finished(UnplannedWake.signal.actionID(vm: "d", at: 6 * Self.day), "d", .restore, at: 6 * Self.day) {
                try JournalRepository.append(e, in: db)
            }
        }
        func last(from: EpochSeconds = 0, now: EpochSeconds) throws -> EpochSeconds? {
            try store.read { try JournalRepository.lastUnplannedWake(vm: "c", from: from, now: now, in: $0) }
        }
        // The planned restore of day 5 and the unfinished signal of day 6 are not; day 6's is another VM's.
        #expect(try last(now: 7 * Self.day) == 4 * Self.day)
        #expect(try last(now: 4 * Self.day - 1) == 3 * Self.day, "a replay does not see later wakes")
        #expect(try last(from: 4 * Self.day + 1, now: 7 * Self.day) == nil)
    }

    /// What the executor's passes and the plans ask of the journal is answered by indexed look-ups: no statement scans
    /// the whole journal, however long it is.
    @Test func noReadScansTheWholeJournal() throws {
        let store = try Store(path: temporaryStorePath())
        try store.transaction { db in
            for i in 0..<20 { for e in Self.finished("h\(i)", "vm\(i % 4)", .hibernate, at: EpochSeconds(i) * 3600) { try JournalRepository.append(e, in: db) } }
        }
        try store.read { db in
            var statements: [String] = []
            db.trace(options: .statement) { event in
                if case .statement(let s) = event { statements.append(s.sql) }
            }
            _ = try JournalRepository.unfinished(in: db)
            _ = try JournalRepository.latestSteps(of: ["h1", "h2"], in: db)
            _ = try JournalRepository.p95Seconds(kind: .hibernate, vms: ["vm1", "vm2"], in: db)
            _ = try JournalRepository.hibernatedIntervals(vm: "vm1", from: 3600, now: 86_400, in: db)
            _ = try JournalRepository.lastUnplannedWake(vm: "vm1", from: 3600, now: 86_400, in: db)
            db.trace(options: .statement, nil)
            #expect(statements.count >= 6)
            for sql in Set(statements) {
                let arguments = StatementArguments(Array(repeating: "x", count: sql.filter { $0 == "?" }.count))!
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
                #expect(!plan.contains { $0.hasPrefix("SCAN journal") && !$0.hasPrefix("SCAN journal_open") }, "\(sql): \(plan)")
                if sql.contains("step = 'done'") {   // by the done steps' index, in its order: only the rows needed
                    #expect(plan.contains { $0.contains("USING INDEX journal_done_by_vm") } && !plan.contains { $0.contains("TEMP B-TREE") }, "\(sql): \(plan)")
                }
            }
        }
    }
}

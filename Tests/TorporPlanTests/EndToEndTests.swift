import ArgumentParser
import Foundation
import GRDB
import Testing
import TorporCore
import TorporIngest
import TorporPlan
import TorporStore
import TorporTestSupport
import TorporTrain
@testable import torpor_plan

/// The sample data ingested and trained as `make demo` does, then planned, shown, approved and carried over through the
/// torpor-plan commands, in-process.
@Suite(.serialized) struct EndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let now = "2013-09-30T00:00:00Z"

    /// A store with the demo fleet: inventory from the test driver, Bitbrains history, the business calendar, a model run
    /// (unless not `trained`: the planner then forecasts by the hour-of-week profile).
    static func demoStore(trained: Bool = true) throws -> (dir: String, store: Store) {
        let dir = try ScratchDirectory.make("torpor-plan")
        let store = try Store(path: dir + "/torpor.db")
        let now = UTC.parseISO8601(Self.now)!
        _ = try InventoryIngester(store: store).ingest(uri: "test://" + repository + "/sample-data/fleet.xml", now: now)
        var mapping = try CSVMapping.load(path: repository + "/sample-data/mappings/bitbrains.yaml")
        mapping.vm?.prefix = ""
        let traces = repository + "/sample-data/traces/bitbrains/"
        for file in try FileManager.default.contentsOfDirectory(atPath: traces).filter({ $0.hasSuffix(".csv.gz") }).sorted() {
            _ = try CSVIngester(store: store).ingest(path: traces + file, mapping: mapping, now: now)
        }
        _ = try CalendarIngester(store: store, mapping: CalendarMapping(zone: "Europe/Amsterdam"))
            .ingest(path: repository + "/sample-data/calendars/business.ics", from: now - 35 * 86_400, to: now + 30 * 86_400, now: now)
        guard trained else { return (dir, store) }
        var config = TrainingConfig()
        config.maxEpochs = 2
        _ = try Trainer(store: store, config: config).run(now: now).run
        return (dir, store)
    }

    /// The jobs' shared environment file, as each cron line reads it (bash, `set -a; . torpor.env`): every variable it
    /// assigns is set, with its whole value, and bash has nothing to say about it (a line it cannot parse would stop it
    /// there, and the jobs would run without the policy, calendars and state pool below it).
    @Test func thePipelinesEnvironmentFileIsReadWhole() throws {
        let file = Self.repository + "/pipelines/torpor.env"
        let names = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            .compactMap { $0.firstMatch(of: /^([A-Z_]+)=/).map { String($0.1) } }
        #expect(names.contains("TORPOR_STATE_POOL_CAPACITY") && names.contains("TORPOR_NOTIFY"))
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-c", "set -a; . \"$0\"; set +a; for n in \"$@\"; do printf '%s=%s\\n' \"$n\" \"${!n-UNSET}\"; done", file] + names
        bash.environment = ["PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        bash.standardOutput = out
        bash.standardError = err
        try bash.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaints = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        bash.waitUntilExit()
        #expect(complaints.isEmpty, "bash: \(complaints)")
        let values = Dictionary(uniqueKeysWithValues: printed.split(separator: "\n").map { line in
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]))
        })
        for name in names { #expect(values[name] != "UNSET", "\(name) is not set") }
        #expect(values["TORPOR_PROMETHEUS_QUERY"] == "100 * rate(libvirt_domain_info_cpu_time_seconds_total[5m]) / libvirt_domain_info_virtual_cpus and on(domain, instance) libvirt_domain_info_state == 1")
        #expect(values["TORPOR_NOTIFY"] == "logger -t torpor")
        #expect(values["TORPOR_STATE_POOL"] == "/var/lib/torpor/pool")
    }

    /// A plan made by hand is made under the jobs' policy ($TORPOR_POLICY, as the hourly job reads it: the embedded
    /// default had hibernated VMs the jobs' policy excludes); one made under another policy than the one in force is
    /// said by show and refused by approve, unless --policy-changed; approve refuses every plan while the policy in force
    /// is not known (the jobs' environment not loaded).
    @Test func aPlanIsMadeAndApprovedUnderThePolicyInForce() throws {
        let (dir, store) = try Self.demoStore(trained: false)
        let policy = Self.repository + "/sample-data/policy.yaml", path = dir + "/plans/by-hand.json"
        let jobs = ["TORPOR_POLICY": policy]
        let made = try runTool("torpor-plan", ["make", "--replay", "--db", store.path, "--now", Self.now, "--out", path], environment: jobs)
        #expect(made.status == 0, "\(made)")
        let plan = try Plan.load(path: path).plan
        #expect(plan.inputs.policySHA256 == (try Policy.load(path: policy).sha256) && plan.skipped.contains { $0.vm == "db-01" && $0.reason.contains("excluded") })
        let hibernationsLine = "\(plan.actions.filter { $0.action == .hibernate }.count) hibernations"
        let edited = dir + "/policy.yaml"
        try (String(contentsOfFile: policy, encoding: .utf8) + "# edited since\n").write(toFile: edited, atomically: true, encoding: .utf8)
        let shown = try runTool("torpor-plan", ["show", "--db", store.path, "--now", Self.now, path], environment: ["TORPOR_POLICY": edited])
        #expect(shown.status == 0 && shown.stdout.hasPrefix("POLICY CHANGED: this plan was made under policy \(plan.inputs.policySHA256.prefix(12))"), "\(shown)")
        let approve = ["approve", "--db", store.path, "--now", Self.now, "--replay", "--by", "alice", path]
        let refused = try runTool("torpor-plan", approve, environment: ["TORPOR_POLICY": edited])
        #expect(refused.status == 2 && refused.stderr.contains("nothing approved: POLICY CHANGED") && refused.stderr.contains("(\(edited))"), "\(refused)")
        #expect(try store.read { try PlanRepository.approvals(of: plan.id, in: $0) }.isEmpty)
        // A policy in force that cannot be read blocks no review; one not known here (the environment file not loaded)
        // is said; a relative one is refused (the jobs and a person would read different files).
        let unreadable = try runTool("torpor-plan", ["show", "--db", store.path, "--now", Self.now, path], environment: ["TORPOR_POLICY": dir + "/gone.yaml"])
        #expect(unreadable.status == 0 && unreadable.stdout.hasPrefix("POLICY IN FORCE UNREADABLE: ") && unreadable.stdout.contains(hibernationsLine), "\(unreadable)")
        let unknown = try runTool("torpor-plan", ["show", "--db", store.path, "--now", Self.now, path])
        #expect(unknown.stdout.hasPrefix("POLICY IN FORCE UNKNOWN HERE: no --policy, and TORPOR_POLICY is unset"), "\(unknown)")
        // approve refuses it, --policy-changed too: a plan made without the jobs' environment is the embedded default's.
        for flags in [[], ["--policy-changed"]] {
            let notCompared = try runTool("torpor-plan", approve + flags)
            #expect(notCompared.status == 2 && notCompared.stderr.contains("nothing approved: POLICY IN FORCE UNKNOWN HERE")
                    && notCompared.stderr.contains("give --policy FILE, or TORPOR_POLICY= for the embedded default"), "\(notCompared)")
        }
        #expect(try store.read { try PlanRepository.approvals(of: plan.id, in: $0) }.isEmpty)
        let relative = try runTool("torpor-plan", ["make", "--db", store.path, "--now", Self.now, "--dry-run"], environment: ["TORPOR_POLICY": "policy.yaml"])
        #expect(relative.status == 2 && relative.stderr.contains("TORPOR_POLICY 'policy.yaml' is a relative path"), "\(relative)")
        let onTheDefault = try runTool("torpor-plan", approve, environment: ["TORPOR_POLICY": ""])   // the jobs' embedded default
        #expect(onTheDefault.status == 2 && onTheDefault.stderr.contains("(the embedded default)"), "\(onTheDefault)")
        let approved = try runTool("torpor-plan", approve + ["--policy-changed"], environment: ["TORPOR_POLICY": edited])
        #expect(approved.status == 0, "\(approved)")
        // A sleep due after the plan expires is approved, and said to start only with a later plan.
        let late = plan.actions.filter { $0.action == .hibernate && $0.at > plan.validUntil }
        #expect(!late.isEmpty, "the sample's night has sleeps due after its plan expires")
        for a in late {
            #expect(approved.stderr.contains("warning: \(a.vm)'s hibernation at \(a.at.text) is due after this plan expires (\(plan.validUntil.text)): "
                                             + "this approval does not start it"), "\(approved)")
        }
        #expect(try runTool("torpor-plan", ["show", "--db", store.path, "--now", Self.now, path], environment: jobs).stdout.contains("POLICY CHANGED") == false)
        // Leaving a VM out of an approval does not hold back its hibernation an earlier approval approved: said.
        let hibernation = try #require(plan.actions.first { $0.action == .hibernate })
        let leftOut = try runTool("torpor-plan", approve + ["--except", hibernation.vm], environment: jobs)
        #expect(leftOut.status == 0 && leftOut.stderr.contains("warning: \(hibernation.vm) is left out here, but its hibernation \(hibernation.id) is still approved (by alice)")
                && leftOut.stderr.contains("torpor-execute pin \(hibernation.vm)"), "\(leftOut)")
        // A newer plan made: show says the reviewed one is superseded; once the newer one is approved, not followed.
        let later = UTC.format(UTC.parseISO8601(Self.now)! + 3600), newer = dir + "/plans/newer.json"
        let newerMade = try runTool("torpor-plan", ["make", "--replay", "--db", store.path, "--now", later, "--out", newer], environment: jobs)
        #expect(newerMade.status == 0)
        // Its notice line says how many of the sleeps awaiting approval start all the same, as alice's approval planned.
        #expect(newerMade.stdout.contains(" of them start all the same, as plan \(plan.id.prefix(12)) approved them, unless pinned"), "\(newerMade)")
        let superseded = try runTool("torpor-plan", ["show", "--db", store.path, "--now", later, path, "--html", dir + "/superseded.html"], environment: jobs)
        #expect(superseded.stdout.contains("SUPERSEDED by plan ") && !superseded.stdout.contains("NOT FOLLOWED"), "\(superseded)")
        // The page a reviewer may read instead of the text carries the same warnings.
        let page = try String(contentsOfFile: dir + "/superseded.html", encoding: .utf8)
        #expect(page.contains("<p class=\"warning\">SUPERSEDED by plan "), "\(page.prefix(600))")
        // Every hibernation of the newer plan left out: the plan followed still starts the sleeps it approved that the
        // newer plan holds too (alice's here), so each is said by approve, and by show as starting, not as awaiting review.
        let newerPlan = try Plan.load(path: newer).plan
        let aliceApproved = try store.read { try Approvals.approvedInForce(of: plan.id, in: $0) }
        let approvedSleeps = Set(plan.actions.filter { $0.action == .hibernate && aliceApproved[$0.id] != nil }.map(\.signature))
        let kept = try #require(newerPlan.actions.first { $0.action == .hibernate && approvedSleeps.contains($0.signature) }, "a sleep both plans hold")
        let everyVM = Set(newerPlan.actions.filter { $0.action == .hibernate }.map(\.vm)).sorted().joined(separator: ",")
        let noneSelected = try runTool("torpor-plan", ["approve", "--db", store.path, "--now", later, "--replay", "--by", "bob", "--except", everyVM + ", ", newer],
                                       environment: jobs)
        #expect(noneSelected.status == 3 && noneSelected.stderr.contains("warning: \(kept.vm) is left out here, but its hibernation \(kept.id) is still approved "
                                                                         + "(by alice in plan \(plan.id.prefix(12)), which the executor follows while this plan holds the same sleep): it starts as planned"),
                "\(noneSelected)")
        let startsAnyway = try runTool("torpor-plan", ["show", "--db", store.path, "--now", later, newer], environment: jobs)
        #expect(startsAnyway.stdout.contains("awaits review, but starts as planned: approved by alice in plan \(plan.id.prefix(12))"), "\(startsAnyway)")
        // An empty --by (a script's unset variable) is passed over for the user's name, not recorded as nobody.
        let byNobody = try runTool("torpor-plan", ["approve", "--db", store.path, "--now", later, "--replay", "--by", "", newer],
                                   environment: jobs.merging(["SUDO_USER": "", "USER": "carol"]) { $1 })
        #expect(byNobody.status == 0 && byNobody.stdout.hasPrefix("approved by carol: "), "\(byNobody)")
        #expect(try runTool("torpor-plan", ["approve", "--db", store.path, "--now", later, "--replay", "--by", "bob", newer], environment: jobs).status == 0)
        let notFollowed = try runTool("torpor-plan", ["show", "--db", store.path, "--now", later, path], environment: jobs)
        #expect(notFollowed.stdout.contains("NOT FOLLOWED: the executor takes hibernations from plan \(try Plan.load(path: newer).plan.id.prefix(12))"), "\(notFollowed)")
    }

    /// A superseded plan approved anyway (`--superseded`): each approved sleep the newer plan no longer holds is said to
    /// start nothing while that plan is the newest (the executor skips it); those it holds are not.
    @Test func approvingASupersededPlanSaysWhatTheNewerPlanDropped() throws {
        let (dir, store) = try Self.demoStore(trained: false)
        let jobs = ["TORPOR_POLICY": Self.repository + "/sample-data/policy.yaml"]
        let first = dir + "/plans/first.json", second = dir + "/plans/second.json", later = UTC.format(UTC.parseISO8601(Self.now)! + 3600)
        #expect(try runTool("torpor-plan", ["make", "--replay", "--db", store.path, "--now", Self.now, "--out", first], environment: jobs).status == 0)
        #expect(try runTool("torpor-plan", ["make", "--replay", "--db", store.path, "--now", later, "--out", second], environment: jobs).status == 0)
        let older = try Plan.load(path: first).plan, newer = try Plan.load(path: second).plan
        let held = Set(newer.actions.filter { $0.action == .hibernate }.map(\.signature))
        let dropped = older.actions.filter { $0.action == .hibernate && !held.contains($0.signature) }
        #expect(!dropped.isEmpty, "a sleep due at the older plan's hour is in no later plan")
        let approved = try runTool("torpor-plan", ["approve", "--db", store.path, "--now", later, "--replay", "--by", "alice", "--superseded", first], environment: jobs)
        #expect(approved.status == 0, "\(approved)")
        for a in older.actions where a.action == .hibernate {
            let said = approved.stderr.contains("warning: \(a.vm)'s hibernation at \(a.at.text) is not in plan \(newer.id.prefix(12)), made since")
            #expect(said == !held.contains(a.signature), "\(a.id): \(approved.stderr)")
        }
    }

    @Test func planShowApproveTamperAndCarry() throws {
        let (dir, store) = try Self.demoStore()
        let policy = Self.repository + "/sample-data/policy.yaml"
        let first = dir + "/plans/first.json"
        try Make.parse(["--replay", "--db", store.path, "--now", Self.now, "--policy", policy, "--out", first]).run()
        let (plan, bytes) = try Plan.load(path: first)
        // Schema: the documented top-level keys and per-action fields, and consistent pairs.
        let json = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        #expect(Set(json.keys) == ["schema", "id", "createdAt", "validUntil", "inputs", "actions", "skipped", "forecasts"])
        #expect(json["schema"] as? String == "torpor-plan/1")
        #expect(!plan.actions.isEmpty, "the demo fleet has idle nights")
        // Every action carries the fields docs/plan-format.md documents.
        for action in try #require(json["actions"] as? [[String: Any]]) {
            #expect(Set(action.keys).isSuperset(of: ["id", "vm", "host", "action", "at", "tier", "priority", "rationale", "reservations"]))
            let rationale = try #require(action["rationale"] as? [String: Any])
            #expect(Set(rationale.keys) == ["quantile", "forecastPeak", "worstCase", "hibernateBelow", "restoreAbove", "expectedVMHoursSaved",
                                            "risk", "forecastSource", "text"])
        }
        for a in plan.actions {
            #expect(["hibernate", "restore"].contains(a.action.rawValue) && a.host == "test://" + Self.repository + "/sample-data/fleet.xml")
            if a.action == .hibernate {
                let r = try #require(a.pairedWith.flatMap(plan.action))
                #expect(r.at >= a.at && r.deadline! >= r.at && r.pairedWith == a.id)
                #expect(a.at.seconds >= plan.createdAt.seconds)
            }
        }
        #expect(plan.skipped.contains { $0.vm == "db-01" && $0.reason.contains("excluded") })
        // Same inputs, same --now: the same plan, byte for byte.
        let again = dir + "/plans/again.json"
        try Make.parse(["--replay", "--db", store.path, "--now", Self.now, "--policy", policy, "--out", again]).run()
        #expect(FileManager.default.contents(atPath: again) == bytes)

        // Review: text and a page with one chart per planned VM.
        try Show.parse(["--db", store.path, first, "--html", dir + "/plan.html"]).run()
        let html = try String(contentsOfFile: dir + "/plan.html", encoding: .utf8)
        #expect(html.components(separatedBy: "class=\"vm-chart planned\"").count - 1 == Set(plan.actions.map(\.vm)).count)
        #expect(html.contains("<polygon") && !html.contains("<script"))
        let text = PlanReport.text(plan, standing: ApprovalStanding())
        #expect(text.contains("awaits review") && text.contains("left running:"))

        // A tampered file is refused; the real one is approved.
        let tampered = dir + "/plans/tampered.json"
        var edited = plan
        edited.actions[0].at = Instant(edited.actions[0].at.seconds - 3600)
        try edited.sealed().encoded().write(to: URL(fileURLWithPath: tampered))   // even re-sealed: not the recorded plan
        let refused = #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", Self.now, tampered]).run() }
        #expect(refused == ExitCode(2))
        let moved = Instant(plan.actions[0].at.seconds - 3600).text
        try String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: plan.actions[0].at.text, with: moved)
            .write(toFile: tampered, atomically: true, encoding: .utf8)
        #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", Self.now, tampered]).run() }
        #expect(try store.read { try PlanRepository.approvals(of: plan.id, in: $0) }.isEmpty)
        // What `show` says of each: the re-sealed edit was never recorded, the edited text differs, the real one is it.
        let resealed = edited.sealed()
        let notes = try store.read { db in
            [try Approvals.notRecorded(resealed, bytes: resealed.encoded(), in: db), try Approvals.notRecorded(plan, bytes: Data(contentsOf: URL(fileURLWithPath: tampered)), in: db),
             try Approvals.notRecorded(plan, bytes: bytes, in: db)]
        }
        #expect(notes[0]?.contains("not one this store's torpor-plan recorded") == true && notes[1]?.contains("the file differs") == true && notes[2] == nil)

        let vms = Set(plan.actions.filter { $0.action == .hibernate }.map(\.vm)).sorted()
        let excepted = vms.first!
        try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", Self.now, first, "--except", excepted, "--by", "alice", "--standing"]).run()
        let approved = try store.read { try Approvals.approvedActions(of: plan.id, in: $0) }
        for a in plan.actions where a.pairedWith != nil {
            #expect((approved[a.id] != nil) == (a.vm != excepted), "\(a.id)")
        }
        // Approved again: nothing new is recorded (safe to run twice).
        try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", Self.now, first, "--except", excepted, "--by", "alice"]).run()
        #expect(try store.read { try PlanRepository.approvals(of: plan.id, in: $0) }.count == 1)
        // Expired: refused with exit code 3.
        let late = #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", "2013-09-30T05:00:00Z", first]).run() }
        #expect(late == ExitCode(3))

        // An hour later, a dry run first: the plan file is written (by default beside the production plans, under its own
        // name) but nothing is recorded: no plan, no carried approval, no demand call; it cannot be approved.
        let hour = UTC.parseISO8601("2013-09-30T01:00:00Z")!
        func recorded() throws -> (plans: Int, approvals: Int, calls: [String: [DemandCall]]) {
            try store.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM plan")!, try Int.fetchOne(db, sql: "SELECT count(*) FROM approval")!,
                 try DemandCallRepository.calls(from: hour, to: hour + 3600, in: db))
            }
        }
        let before = try recorded()
        try Make.parse(["--db", store.path, "--now", "2013-09-30T01:00:00Z", "--policy", policy, "--dry-run"]).run()
        let dryRun = dir + "/plans/dry-run-20130930T010000Z.json"
        let trial = try Plan.load(path: dryRun)
        let after = try recorded()
        #expect(after.plans == before.plans && after.approvals == before.approvals && after.calls == before.calls && after.calls.isEmpty)
        #expect(try store.read { try PlanRepository.plan(id: trial.plan.id, in: $0) } == nil)
        // A plan the store cannot record (a full disk, a lock held too long) fails and leaves no file behind: one could
        // not be approved, and would read as a dry run's.
        try store.transaction { try $0.execute(sql: "CREATE TRIGGER refuse_plans BEFORE INSERT ON plan BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END") }
        let failed = #expect(throws: ExitCode.self) { try Make.parse(["--replay", "--db", store.path, "--now", "2013-09-30T01:30:00Z", "--policy", policy]).run() }
        #expect(failed == ExitCode(1), "a runtime failure, not a refusal of the input")
        #expect(try !FileManager.default.contentsOfDirectory(atPath: dir + "/plans").contains { $0.hasPrefix("plan-20130930T013000Z") })
        try store.transaction { try $0.execute(sql: "DROP TRIGGER refuse_plans") }
        let unrecorded = #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", "2013-09-30T01:00:00Z", dryRun]).run() }
        #expect(unrecorded == ExitCode(2))
        #expect(!FileManager.default.fileExists(atPath: dir + "/plans/plan-20130930T010000Z.json"))
        // An --out that holds another plan (the hour's, an approved one) is not overwritten, not even by a dry run; a
        // recorded plan from the future is refused (it would stand as the newest until then).
        let other = #expect(throws: ExitCode.self) {
            try Make.parse(["--db", store.path, "--now", "2013-09-30T02:00:00Z", "--policy", policy, "--dry-run", "--out", dryRun]).run()
        }
        #expect(other == ExitCode(2) && FileManager.default.contents(atPath: dryRun) == trial.bytes)
        #expect(throws: (any Error).self) { _ = try Make.parse(["--db", store.path, "--now", "2099-01-01T00:00:00Z", "--policy", policy]) }
        _ = try Make.parse(["--db", store.path, "--now", "2099-01-01T00:00:00Z", "--policy", policy, "--dry-run"])

        // The same hour planned for real: the same plan, byte for byte, now recorded with its demand calls; with the
        // standing approval on, unchanged pairs carry their approval, others wait.
        let later = dir + "/plans/later.json"
        try Make.parse(["--replay", "--db", store.path, "--now", "2013-09-30T01:00:00Z", "--policy", policy, "--out", later]).run()
        #expect(FileManager.default.contents(atPath: later) == trial.bytes)
        #expect(try recorded().plans == before.plans + 1 && !(try recorded().calls.isEmpty))
        let next = try Plan.load(path: later).plan
        let carried = try store.read { try Approvals.approvedActions(of: next.id, in: $0) }
        #expect(!carried.isEmpty, "the recorded plan carries what the dry run did not")
        let earlierSignatures = Set(plan.actions.filter { approved[$0.id] != nil }.map(\.signature))
        for a in next.actions where a.action == .hibernate {
            let restore = next.action(a.pairedWith!)!
            let unchanged = earlierSignatures.contains(a.signature) && earlierSignatures.contains(restore.signature)
            #expect((carried[a.id] != nil) == unchanged, "\(a.id)")
            if unchanged { #expect(carried[a.id]?.carriedFrom == plan.id) }
        }
        #expect(!next.actions.contains { $0.vm == excepted && carried[$0.id] != nil })
        // The hourly notice asks for what no approval covers: the hibernations not carried, and only those.
        let awaiting = try store.read { try Approvals.awaitingReview(next, in: $0) }
        #expect(Set(awaiting.map(\.id)) == Set(next.actions.filter { $0.action == .hibernate && carried[$0.id] == nil }.map(\.id)))
        #expect(awaiting.contains { $0.vm == excepted } && awaiting.count < next.actions.filter { $0.action == .hibernate }.count)
        try Diff.parse([first, later]).run()
        // The diff names what moved: every VM whose actions differ, or hold a sleep whose forecast rose (risk, or halfway
        // to its thresholds), and no other.
        let diff = PlanReport.diff(old: plan, new: next)
        for vm in Set(plan.actions.map(\.vm) + next.actions.map(\.vm)) {
            let before = plan.actions.filter { $0.vm == vm }, after = next.actions.filter { $0.vm == vm }
            let rose = after.contains { a in
                a.action == .hibernate && before.contains { $0.signature == a.signature && a.rationale.rose(since: $0.rationale) }
            }
            let changed = before.map(\.signature) != after.map(\.signature) || rose
            #expect(diff.contains("\n\(vm):") == changed, "\(vm) in the diff: \(diff)")
        }
        // A file edited and sealed again may name a VM twice among those left running: diffed, not a crash.
        var twice = plan
        twice.skipped += plan.skipped
        #expect(PlanReport.diff(old: twice, new: next).hasPrefix("plan "))

        // The standing approval goes off without approving anything: by `standing off`, or by `approve --no-standing`
        // even when the approval itself is refused (the newest plan, expired: exit 3; a file that is not there).
        try Standing.parse(["--db", store.path, "--now", "2013-09-30T02:00:00Z", "off", "--by", "bob"]).run()
        #expect(try store.read { try Approvals.standing(in: $0) } == false)
        try Standing.parse(["--db", store.path, "--now", "2013-09-30T02:00:00Z", "on", "--by", "bob"]).run()
        #expect(try store.read { try Approvals.standing(in: $0) } == true)
        // `list` says which carried approvals no longer count: those carried before the standing approval was switched on again.
        let listed = try runTool("torpor-plan", ["list", "--db", store.path])
        let carriedLine = try #require(listed.stdout.split(separator: "\n").first { $0.hasPrefix(next.id.prefix(12)) }, "\(listed)")
        #expect(carriedLine.contains("approved: standing approval of alice (") && carriedLine.contains("actions, not in force: the standing approval is off or was switched on since)"),
                "\(carriedLine)")
        let personLine = try #require(listed.stdout.split(separator: "\n").first { $0.hasPrefix(plan.id.prefix(12)) })
        #expect(personLine.contains("approved: alice (") && !personLine.contains("not in force"), "\(personLine)")
        // ...and each plan's file, where make names it by default (these were written with --out: named otherwise).
        #expect(carriedLine.hasSuffix("no file of it named for its time in \(dir)/plans"), "\(carriedLine)")
        let named = dir + "/plans/" + PlanFiles.name(at: next.createdAt.seconds, dryRun: false)
        try FileManager.default.copyItem(atPath: later, toPath: named)
        let relisted = try runTool("torpor-plan", ["list", "--db", store.path]).stdout.split(separator: "\n").first { $0.hasPrefix(next.id.prefix(12)) }
        #expect(relisted?.hasSuffix("file: \(named)") == true, "\(String(describing: relisted))")
        try FileManager.default.removeItem(atPath: named)
        let expired = #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", "2013-09-30T05:00:00Z", "--no-standing", later]).run() }
        #expect(expired == ExitCode(3))
        #expect(try store.read { try Approvals.standing(in: $0) } == false)
        try Standing.parse(["--db", store.path, "--now", "2013-09-30T05:00:00Z", "on"]).run()
        #expect(throws: ExitCode.self) { try Approve.parse(["--replay", "--policy", policy, "--db", store.path, "--now", "2013-09-30T05:00:00Z", "--no-standing", dir + "/plans/gone.json"]).run() }
        #expect(try store.read { try Approvals.standing(in: $0) } == false)
        #expect(throws: (any Error).self) { _ = try Standing.parse(["maybe"]) }
        // Two plans made in one second by default never share a file: the second's name has its id, and prune reads
        // its time all the same.
        let trialPolicy = dir + "/trial.yaml"
        try (String(contentsOfFile: policy, encoding: .utf8) + "\n# a trial\n").write(toFile: trialPolicy, atomically: true, encoding: .utf8)
        for p in [policy, trialPolicy, policy] { try Make.parse(["--replay", "--db", store.path, "--now", "2013-09-30T06:00:00Z", "--policy", p]).run() }
        let six = try FileManager.default.contentsOfDirectory(atPath: dir + "/plans").filter { $0.hasPrefix("plan-20130930T060000Z") }.sorted()
        #expect(six.count == 2 && six.contains("plan-20130930T060000Z.json") && six.allSatisfy { PlanFiles.time(named: $0) == UTC.parseISO8601("2013-09-30T06:00:00Z") },
                "the same plan again rewrites its own file: \(six)")
        // A stage pointed at a store that is not there refuses rather than planning an empty fleet.
        #expect(throws: ExitCode.self) { try Make.parse(["--replay", "--db", dir + "/missing.db", "--now", Self.now]).run() }
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing.db"))
    }
}

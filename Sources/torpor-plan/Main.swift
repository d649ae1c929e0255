import ArgumentParser
import Foundation
import TorporCommandLine
import TorporCore
import TorporPlan
import TorporPlanInput
import TorporStore
import TorporTrain

@main
struct TorporPlanCommand: TorporTool {
    static let configuration = CommandConfiguration(
        commandName: "torpor-plan",
        abstract: "The hourly planning stage: forecast each VM's demand and write a hibernation plan for review.",
        discussion: """
            make     forecast (the promoted model if this version reads it, else the hour-of-week
                     profile) and write a plan file
            show     the plan as a table and per-VM timelines, or --html FILE with a chart per VM
            diff     what changed between two plans
            approve  approve a plan's hibernations (with their restores); --standing carries
                     approvals of unchanged actions to later plans
            standing on|off  switch the standing approval, approving nothing
            list     the plans in the store with their approvals
            prune    drop the stored bodies of old plans (ids, hashes and approvals stay)

            Approving a hibernation approves its restore. Restores are never blocked: not by a plan's
            expiry, a newer plan, or a missing approval. A newer approved plan replaces only actions
            that have not started.

            Exit codes: 0 ok; 1 runtime failure; 2 bad input or usage (a modified plan file, a bad
            policy: the message names the file and key); 3 nothing to do, or the plan expired.
            """,
        subcommands: [Make.self, Show.self, Diff.self, Approve.self, Standing.self, List.self, Prune.self],
        defaultSubcommand: Make.self)
}

struct Make: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forecast and write a plan (the hourly job).")
    @OptionGroup var common: StageOptions
    @OptionGroup var week: WeekOptions
    @OptionGroup var policyFile: PolicyOption
    @Option(help: "Where to write the plan (default: plan-<time>.json in $TORPOR_PLANS for the store $TORPOR_DB, else in plans/ beside the store; dry-run-<time>.json with --dry-run).")
    var out: String?
    @Flag(help: """
        Write the plan file but record nothing in the store (nor migrate it): the plan cannot be approved, carries no \
        standing approval and leaves no demand calls. For trial policies and replays of past hours against a production store.
        """)
    var dryRun = false
    @Flag(help: "Record a plan of a --now more than an hour before the clock: a replay of history, on a copy of the store.")
    var replay = false

    func validate() throws {
        // A recorded plan from the future (a --now typo) would stand as the newest plan until then: every real plan's
        // approval would be refused as superseded by it.
        if !dryRun, let ahead = aheadOfTheClock(common.nowSeconds, "a plan made then would be recorded as the newest until that time; plan ahead with --dry-run") {
            throw ahead
        }
        // A past hour's plan records its calls for demand as that hour's, by today's model: the plans after it would
        // judge the VMs' forecasts by calls no plan of that hour made (forecast demand that did not come).
        if !dryRun, !replay, let away = awayFromTheClock(common.nowSeconds, "the plan and its calls for demand would be recorded in the store "
                                                         + "as that hour's; give --dry-run, or --replay to record a replay of history (on a copy of the store)") {
            throw away
        }
    }

    func run() throws {
        try exitingOnError("torpor-plan") {
            let policyPath = try policyFile.path()
            if !policyFile.inForceKnown {
                StandardError.line("torpor-plan: warning: no --policy and TORPOR_POLICY unset: planned under the embedded default policy, "
                                   + "not the jobs' (\(PolicyOption.loadTheJobsEnvironment))")
            }
            let (policy, policySHA) = try Policy.load(path: policyPath)
            let store = try common.openStore(migrating: !dryRun, reserve: dryRun ? .untouched : .kept)
            let now = common.nowSeconds
            // Refused before the planning it would waste when it cannot be this plan (checked again once made).
            if let out, FileManager.default.fileExists(atPath: out), (try? Plan.load(path: out).plan.createdAt.seconds) != now {
                throw PlanError(.badInput, Self.outTaken(out))
            }
            let all = try store.read { try VMRepository.all(in: $0) }
            let records = all.map { (name: $0.name, labels: $0.labels) }
            let hosted = Set(all.filter { $0.hostURI != nil }.map(\.name))
            try policy.refuseConflicts(vms: records.filter { vm in hosted.contains(vm.name) },   // VMs a plan may act on
                                       source: policyPath ?? "the embedded default policy")
            var forecaster = try DemandForecaster(store: store, horizon: policy.horizonHours, trainedBefore: now)
            forecaster.clock = week.clock
            if let why = forecaster.unservedBecause {   // after an upgrade, until a new model is promoted
                StandardError.line("torpor-plan: warning: \(why); the \(forecaster.baselinesName) forecasts every VM")
            }
            if let trained = forecaster.trainedClockZone, trained != week.clock.zone {
                StandardError.line("torpor-plan: warning: the model was trained and promoted against the hour-of-week profile "
                    + "on \(trained), this plan uses \(week.clock.zone): the quantiles it serves were chosen on the other clock "
                    + "(plan with --zone \(trained), or train with --zone \(week.clock.zone))")
            }
            let input = try PlanningInputs.load(store: store, now: now, replaying: common.now != nil, policy: policy, policySHA256: policySHA,
                                                forecaster: forecaster)
            let plan = Planner.plan(input)
            let bytes = plan.encoded()
            // Never over another plan's file: by default another name (two made in one second, a replay of a planned
            // hour); an --out that holds something else is refused (the hour's plan a notice pointed at, an approved one).
            let path = out ?? defaultPath(now: now, id: plan.id)
            if let out, FileManager.default.fileExists(atPath: out), (try? Plan.load(path: out).plan.id) != plan.id {
                throw PlanError(.badInput, Self.outTaken(out))
            }
            let existed = FileManager.default.fileExists(atPath: path)   // this plan's own file, made again
            let carried: ApprovalRecord?
            do {
                try PlanFiles.write(bytes, to: path)
                carried = dryRun ? nil : try Approvals.record(plan, bytes: bytes, demandCalls: Planner.demandCalls(input), in: store)
            } catch {
                // A plan the store has no record of cannot be approved: its file is not left to be mistaken for one (nor
                // one in place whose folder could not be flushed: no record is made of it). Only this write's file.
                if !existed, (try? Data(contentsOf: URL(fileURLWithPath: path))) == bytes { try? FileManager.default.removeItem(atPath: path) }
                throw error
            }
            let hibernations = plan.actions.filter { $0.action == .hibernate }.count
            print("plan \(plan.id.prefix(12)) written to \(path): \(hibernations) hibernations, \(plan.actions.count - hibernations) restores, \(plan.leftRunning.count) VMs left running")
            let setAside = Planner.forecastsSetAside(input)
            if !setAside.isEmpty {
                print(Planner.setAsideHeading + ": " + setAside.map { "\($0.vm) until \(UTC.format($0.until))" }.joined(separator: ", "))
            }
            let dormant = Planner.dormantVMs(input)
            if !dormant.isEmpty { print(Planner.dormantHeading + ": " + dormant.joined(separator: ", ")) }
            for part in policy.unmatched(vms: records, hosts: Set(all.compactMap(\.hostURI))) {
                print("policy \(policyPath ?? "(embedded default)"): \(part) (a misspelt name, label or host leaves its VMs under the defaults)")
            }
            for choice in policy.patternChoices(hosts: Set(all.compactMap(\.hostURI))) { print("policy \(policyPath ?? "(embedded default)"): \(choice)") }
            if let carried {
                let ids = Set(carried.actions)
                print("standing approval carried \(plan.actions.filter { $0.action == .hibernate && ids.contains($0.id) }.count) unchanged hibernations from plan \(carried.carriedFrom!.prefix(12))")
            }
            if dryRun {
                print("dry run: nothing recorded in the store; this plan cannot be approved (review: torpor-plan show \(path))")
            } else {
                // What the hourly job sends a notice for (a line that starts with "review:").
                // Of those, the ones the plan the executor follows approved unchanged start all the same, unless pinned.
                let (awaiting, startAnyway) = try store.read { db in
                    (try Approvals.awaitingReview(plan, in: db), try Approvals.approvedByFollowed(plan, now: now, in: db))
                }
                let starting = awaiting.filter { startAnyway[$0.id] != nil }
                // The commands name the store and the jobs' policy this plan was made under ($TORPOR_POLICY, empty: the
                // embedded default): a person reading the notice may not have the jobs' environment, show then reviews
                // without the policy in force, and approve refuses. A policy given by hand (a trial) is not named:
                // approve compares with the jobs'.
                let onStore = " --db " + resolvedPath(common.storePath), file = resolvedPath(path)
                let inForce = (policyFile.policy == nil && policyPath == nil ? "TORPOR_POLICY= " : ""),
                    policy = policyFile.policy != nil ? "" : policyPath.map { " --policy " + resolvedPath($0) } ?? ""
                if !awaiting.isEmpty {
                    let anyway = starting.isEmpty ? "" : " (\(starting.count) of them start all the same, as plan "
                        + "\(startAnyway[starting[0].id]!.planID.prefix(12)) approved them, unless pinned: torpor-execute pin VM)"
                    print("review: \(awaiting.count) hibernations await approval\(anyway): \(inForce)torpor-plan show \(file)\(onStore)\(policy)   approve: "
                          + "\(inForce)torpor-plan approve \(file)\(onStore)\(policy)")
                }
            }
        }
    }

    static func outTaken(_ out: String) -> String {
        "--out \(out) exists and holds another plan or file: not overwritten (give another path, or remove it first)"
    }

    func defaultPath(now: EpochSeconds, id: String) -> String {
        let path = (Self.plansDirectory(beside: common.storePath) as NSString).appendingPathComponent(PlanFiles.name(at: now, dryRun: dryRun))
        guard FileManager.default.fileExists(atPath: path), (try? Plan.load(path: path).plan.id) != id else { return path }
        return String(path.dropLast(5)) + "-\(id.prefix(12)).json"
    }

    /// Whether `storePath` is the jobs' store (`$TORPOR_DB`).
    static func isJobsStore(_ storePath: String) -> Bool { environmentSetting("TORPOR_DB").map { resolvedPath($0) == resolvedPath(storePath) } ?? false }

    /// Where plan files go by default: `$TORPOR_PLANS` (the jobs' environment) for the jobs' store (`$TORPOR_DB`), else
    /// `plans/` beside the store (a copy's plans are not the jobs', nor pruned by what the copy holds).
    static func plansDirectory(beside storePath: String) -> String {
        if let jobs = environmentSetting("TORPOR_PLANS"), isJobsStore(storePath) { return jobs }
        let dir = (storePath as NSString).deletingLastPathComponent
        return ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent("plans")
    }
}

extension PolicyOption {
    /// Why `plan` was not made under the policy in force, when that differs: what `show` heads the plan with and
    /// `approve` refuses it for. When the policy in force is not known here (no --policy, `$TORPOR_POLICY` unset: the
    /// jobs' environment file not loaded), that is said instead (`known` false).
    func changed(since plan: Plan) throws -> (text: String, known: Bool)? {
        guard inForceKnown else {
            return ("POLICY IN FORCE UNKNOWN HERE: no --policy, and TORPOR_POLICY is unset (\(PolicyOption.loadTheJobsEnvironment)): "
                    + "this plan's policy \(plan.inputs.policySHA256.prefix(12)) is not compared with it", false)
        }
        let path = try path()
        let inForce = try Policy.load(path: path).sha256
        guard inForce != plan.inputs.policySHA256 else { return nil }
        return ("POLICY CHANGED: this plan was made under policy \(plan.inputs.policySHA256.prefix(12)), the policy in force "
                + "(\(path ?? "the embedded default")) is \(inForce.prefix(12)): it may hibernate a VM that policy excludes or keeps up; "
                + "make a new plan (torpor-plan make), or approve it with --policy-changed", true)
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a plan: actions, per-VM timelines, VMs left running.")
    @OptionGroup var common: StageOptions
    @OptionGroup var policyFile: PolicyOption
    @Argument(help: "The plan file.") var plan: String
    @Option(help: "Also write a self-contained HTML page with a chart per VM.") var html: String?

    func run() throws {
        try exitingOnError("torpor-plan") {
            let (plan, bytes) = try Plan.load(path: plan)
            let store = try common.openStore(reserve: .untouched)
            // What the review can still lead to: a newer plan made since, or another plan the executor follows.
            let (standing, notRecorded, newer, followed) = try store.read { db in
                (try ApprovalStanding.of(plan, now: common.nowSeconds, in: db), try Approvals.notRecorded(plan, bytes: bytes, in: db),
                 try Approvals.newer(than: plan, in: db), try Approvals.followed(upTo: .max, in: db))
            }
            // The plan's warnings, at the head of the text and of the page alike.
            var warnings: [String] = []
            if let notRecorded { warnings.append("NOT THE RECORDED PLAN: \(notRecorded); it cannot be approved") }
            // The plan is shown whatever the policy in force is: a review must not be blocked by a broken setting.
            do { if let changed = try policyFile.changed(since: plan) { warnings.append(changed.text) } } catch {
                warnings.append("POLICY IN FORCE UNREADABLE: \(error): this plan's policy \(plan.inputs.policySHA256.prefix(12)) is not compared with it")
            }
            if let newer {
                warnings.append("SUPERSEDED by plan \(newer.id.prefix(12)) (made \(UTC.format(newer.createdAt)), from newer data, events and pins): approve refuses this one "
                                + "without --superseded (torpor-plan list)")
            }
            let hibernationsApproved = plan.actions.contains { $0.action == .hibernate && standing.approved[$0.id] != nil }
            if hibernationsApproved, let followed, followed.id != plan.id {
                warnings.append("NOT FOLLOWED: the executor takes hibernations from plan \(followed.id.prefix(12)) (made \(UTC.format(followed.createdAt))), "
                                + "not from this one: its approvals here start nothing")
            }
            if common.nowSeconds > plan.validUntil.seconds {
                warnings.append("EXPIRED at \(plan.validUntil.text): its hibernations can no longer be approved or started (its restores run anyway)")
            }
            for warning in warnings { print(warning) }
            print(PlanReport.text(plan, standing: standing))
            if let html {
                let hour0 = UTC.floor(plan.createdAt.seconds)
                let historyStart = hour0 - 48 * 3600
                let history = try store.read { db in
                    try Dictionary(plan.forecasts.map { f in
                        (f.vm, try HourlySeries.load(vm: f.vm, from: historyStart, to: hour0, in: db).values)
                    }, uniquingKeysWith: { a, _ in a })   // once per VM as torpor writes it
                }
                try PlanFiles.write(Data(PlanPage.html(plan, standing: standing, warnings: warnings, history: history, historyStart: historyStart).utf8), to: html)
                StandardError.line("torpor-plan: wrote \(html)")
            }
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What changed between two plans.")
    @Argument(help: "The older plan file.") var old: String
    @Argument(help: "The newer plan file.") var new: String

    func run() throws {
        try exitingOnError("torpor-plan") { print(PlanReport.diff(old: try Plan.load(path: old).plan, new: try Plan.load(path: new).plan)) }
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve a plan's hibernations (and so their restores).")
    @OptionGroup var common: StageOptions
    @Argument(help: "The plan file, as torpor-plan wrote it.") var plan: String
    @Option(help: "Approve only these VMs (comma-separated).") var only: String?
    @Option(help: "Approve all but these VMs (comma-separated).") var except: String?
    @Option(help: "Who approves (default: $SUDO_USER, else $USER).") var by: String?
    @OptionGroup var policyFile: PolicyOption
    @Flag(help: "Approve this plan even though it was made under another policy than the one in force (--policy, else $TORPOR_POLICY; approve refuses when neither is set).")
    var policyChanged = false
    @Flag(inversion: .prefixedNo, help: "Switch the standing approval on (or off): later plans carry the approval of unchanged actions.")
    var standing: Bool?
    @Flag(help: "Approve this plan even though a newer one was made since (which knows newer data, events and pins).")
    var superseded = false
    @Flag(help: "Allow a --now more than an hour from the clock: approving in a replay of history (back-dated, an expired plan is still in force).")
    var replay = false

    func validate() throws {
        // Recorded ahead of the clock, an approval's switch on would refuse every switch before that time; with
        // --no-standing the switch off still goes through (it comes first, and is never refused).
        if standing != false, let ahead = aheadOfTheClock(common.nowSeconds, "nothing approved") { throw ahead }
    }

    func run() throws {
        try exitingOnError("torpor-plan") {
            // The switch off is never refused, a full disk neither (`StoreReserve`).
            let store = try common.openStore(reserve: standing == false ? .releasable : .kept)
            let who = operatorName(by), now = common.nowSeconds   // one time for the approval and the switch
            // Switching the standing approval off is safe whatever becomes of this approval: it comes first.
            if standing == false { try Standing.set(false, by: who, now: now, in: store) }
            // An approval is of a plan in force now: back-dated, it would approve one that has expired (its restores moved
            // later). Refused after the switch off, which is never refused.
            if !replay, let away = awayFromTheClock(now, "nothing approved; give --replay to approve in a replay of history") {
                throw PlanError(.badInput, away.message)
            }
            let (plan, bytes) = try Plan.load(path: plan)
            // Not compared is not the same: a plan made by hand without the jobs' environment is made under the embedded
            // default, which may hibernate a VM the jobs' policy excludes or keeps up.
            if let changed = try policyFile.changed(since: plan), !(changed.known && policyChanged) {
                throw PlanError(.badInput, "nothing approved: " + changed.text
                                + (changed.known ? "" : "; give --policy FILE, or TORPOR_POLICY= for the embedded default"))
            }
            // A stray comma names no VM (it had been "no VM named  in this plan").
            func names(_ s: String?) -> [String]? { s.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } }
            let (only, except) = (names(self.only), names(self.except) ?? [])
            // A VM left out here whose hibernation an earlier approval (a person's, or carried by the standing approval)
            // approves: leaving it out does not hold it back. Said before the approval, which may have nothing to record.
            // While this plan has no approved hibernation (none here, none selected), the executor goes on following the
            // plan it follows, whose approval of the same sleep starts it just as well.
            let leftOut = plan.actions.filter { $0.action == .hibernate && !Approvals.selected($0, only: only, except: except) }.sorted { $0.vm < $1.vm }
            if !leftOut.isEmpty {
                let standing = try store.read { try ApprovalStanding.of(plan, now: now, in: $0) }
                let followedStays = !plan.actions.contains { $0.action == .hibernate && (standing.approved[$0.id] != nil || Approvals.selected($0, only: only, except: except)) }
                for a in leftOut {
                    let here = standing.approved[a.id]
                    guard let earlier = here ?? (followedStays ? standing.approvedByFollowed[a.id] : nil) else { continue }
                    let how = (earlier.carriedFrom.map { "carried by the standing approval from plan \($0.prefix(12))" } ?? "by \(earlier.approvedBy)")
                        + (here == nil ? " in plan \(earlier.planID.prefix(12)), which the executor follows while this plan holds the same sleep" : "")
                    StandardError.line("torpor-plan: warning: \(a.vm) is left out here, but its hibernation \(a.id) is still approved (\(how)): "
                        + "it starts as planned; keep it awake with torpor-execute pin \(a.vm)"
                        + (earlier.carriedFrom != nil ? ", or switch the standing approval off (torpor-plan standing off)" : ""))
                }
            }
            let record = try Approvals.approve(plan, bytes: bytes, source: self.plan, only: only, except: except,
                                               by: who, now: now, evenIfSuperseded: superseded, in: store)
            print(record.actions.isEmpty ? "already approved: nothing new recorded" : "approved by \(who): " + record.actions.joined(separator: ", "))
            // An approval that starts nothing by itself: the plan is no longer in force when the sleep's time comes.
            for a in plan.actions where a.action == .hibernate && a.at > plan.validUntil && record.actions.contains(a.id) {
                StandardError.line("torpor-plan: warning: \(a.vm)'s hibernation at \(a.at.text) is due after this plan expires (\(plan.validUntil.text)): "
                                   + "this approval does not start it; a later plan holding it does, once approved (or carried by the standing approval)")
            }
            // Approved although superseded: the executor follows the newest plan with an approved hibernation.
            if let newest = try store.read({ try Approvals.followed(upTo: .max, in: $0) }), newest.id != plan.id,
               newest.createdAt >= plan.createdAt.seconds {
                StandardError.line("torpor-plan: warning: plan \(newest.id.prefix(12)) (made \(UTC.format(newest.createdAt))) has approved "
                    + "hibernations too and is newer (or made in the same second and approved since): the executor takes hibernations from it, not from this one")
            }
            // Approved although a newer plan was made: the executor starts a sleep only while the newest plan holds it.
            if let newer = try store.read({ try Approvals.newer(than: plan, in: $0) }), !newer.pruned,
               let newest = try store.read({ try Approvals.storedPlan(newer.id, in: $0) }) {
                let held = Set(newest.actions.filter { $0.action == .hibernate }.map(\.signature))
                for a in plan.actions where a.action == .hibernate && record.actions.contains(a.id) && !held.contains(a.signature) {
                    StandardError.line("torpor-plan: warning: \(a.vm)'s hibernation at \(a.at.text) is not in plan \(newer.id.prefix(12)), made since "
                                       + "(\(UTC.format(newer.createdAt))): the executor does not start it while that plan is the newest (review that one)")
                }
            }
            if standing == true { try Standing.set(true, by: who, now: now, in: store) }
        }
    }
}

struct Standing: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Switch the standing approval on or off, approving nothing.")
    @OptionGroup var common: StageOptions
    @Argument(help: "on: later plans carry the approval of unchanged actions; off: every plan waits for a person, and what it carried no longer counts.") var state: String
    @Option(help: "Who switches it (default: $SUDO_USER, else $USER).") var by: String?

    func validate() throws {
        guard ["on", "off"].contains(state) else { throw ValidationError("standing '\(state)': give on or off") }
        // Recorded ahead of the clock, a switch on would refuse every switch before that time (`Approvals.setStanding`);
        // a switch off is never refused (`set` records it by the clock at the latest).
        if state == "on", let ahead = aheadOfTheClock(common.nowSeconds, "not switched") { throw ahead }
    }

    func run() throws {
        // Never refused for a full disk (`StoreReserve`): switching off stops new hibernations.
        try exitingOnError("torpor-plan") { try Self.set(state == "on", by: operatorName(by), now: common.nowSeconds, in: try common.openStore(reserve: .releasable)) }
    }

    /// Records the switch and says so; a switch off at a `now` ahead of the clock (a typo) is recorded by the clock,
    /// so that it does not refuse switching on again until then.
    static func set(_ on: Bool, by who: String, now: EpochSeconds, in store: Store) throws {
        try Approvals.setStanding(on, by: who, now: on ? now : min(now, EpochSeconds(Date().timeIntervalSince1970)), in: store)
        print("standing approval \(on ? "on: later plans carry the approval of unchanged actions" : "off: every plan waits for a person; hibernations it carried and not started do not start (one a person approved in a plan still in force does: torpor-execute pin VM keeps a VM awake)") (by \(who))")
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drop the stored bodies and the files of plans older than --keep (never those sleeping VMs depend on).")
    @OptionGroup var common: StageOptions
    @Option(help: "How long plans are kept whole, e.g. 7d.") var keep = "7d"
    @Option(help: """
        The directory of plan files: those named plan-<time>.json or dry-run-<time>.json for a time the plans kept whole \
        start after are removed, no other file (default: $TORPOR_PLANS for the store $TORPOR_DB, else plans/ beside the store, where make writes).
        """)
    var plans: String?

    func validate() throws {
        guard DurationText.seconds(keep) != nil else { throw ValidationError("--keep '\(keep)' is not a duration such as 7d") }
        if let ahead = aheadOfTheClock(common.nowSeconds, "nothing pruned") { throw ahead }
    }

    func run() throws {
        try exitingOnError("torpor-plan") {
            let directory = plans ?? Make.plansDirectory(beside: common.storePath)
            // A copy of the store beside the jobs' one would prune the jobs' plan files by what the copy holds.
            if plans == nil, !Make.isJobsStore(common.storePath), let jobs = environmentSetting("TORPOR_PLANS"), resolvedPath(directory) == resolvedPath(jobs) {
                throw PlanError(.badInput, "\(directory) holds the jobs' plan files ($TORPOR_PLANS), but \(common.storePath) is not the jobs' store "
                                + "($TORPOR_DB): give --plans with this store's plan files; nothing pruned")
            }
            // It frees room: opened on a full disk as the executor's commands are (`StoreReserve`).
            let (pruned, before) = try Approvals.prune(olderThan: DurationText.seconds(keep)!, now: common.nowSeconds, in: try common.openStore(reserve: .releasable))
            print("pruned the bodies of \(pruned) plans older than \(keep)")
            let removed = try PlanFiles.prune(in: directory, before: before)
            print("removed \(removed.count) plan files made before \(UTC.format(before)) from \(directory)")
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The plans in the store, newest first, with their approvals and files.")
    @OptionGroup var common: StageOptions
    @Option(help: "The directory of plan files, where each plan's file is looked for by the name make and the hourly job give it (default: $TORPOR_PLANS for the store $TORPOR_DB, else plans/ beside the store, where make writes).")
    var plans: String?

    func run() throws {
        try exitingOnError("torpor-plan") {
            let store = try common.openStore(reserve: .untouched)
            let directory = plans ?? Make.plansDirectory(beside: common.storePath)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            try store.read { db in
                let carriedSince = try Approvals.carriedInForce(in: db)
                for p in try PlanRepository.headers(upTo: .max, in: db) {
                    let approvals = try PlanRepository.approvals(of: p.id, in: db)
                    // A carried approval counts only while the standing approval is on, and only if carried since it was.
                    let who = approvals.map { a -> String in
                        let lapsed = a.carriedFrom != nil && carriedSince.map { a.approvedAt < $0 } ?? true
                        return "\(a.approvedBy) (\(a.actions.count) actions\(lapsed ? ", not in force: the standing approval is off or was switched on since" : ""))"
                    }.joined(separator: ", ")
                    print("\(p.id.prefix(12))  created \(UTC.format(p.createdAt))  valid until \(UTC.format(p.validUntil))  \(approvals.isEmpty ? "not approved" : "approved: " + who)"
                          + "  " + (PlanFiles.file(of: p, in: directory, names: names).map { "file: \($0)" } ?? "no file of it named for its time in \(directory)"))
                }
            }
        }
    }
}

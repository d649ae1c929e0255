import ArgumentParser
import Foundation
import TorporCommandLine
import TorporCore
import TorporExecute
import TorporIngest
import TorporPlan
import TorporStatePool
import TorporStore
import TorporVirt

@main
struct TorporExecuteCommand: TorporTool {
    static let configuration = CommandConfiguration(
        commandName: "torpor-execute",
        abstract: "Apply the approved plan's due actions through libvirt, crash-safe, never leaving a VM asleep.",
        discussion: """
            run      (every few minutes, or --follow) reconcile an interrupted run, restore every sleeping VM
                     whose restore is due (never blocked: not by pause, expiry, a newer plan or a missing
                     approval; a pin or a calendar demand/keep-awake event that is on wakes it too), then
                     hibernate the due actions of the newest approved, unexpired plan after a pre-flight check
            wake     restore a VM now, whatever the plans say (--all: every VM asleep, of --host and --label)
            restore  --from-pool VM: restore a VM from the state pool (libvirt's image lost, or the VM moved);
                     refused when its disks changed since the hibernation; --onto URI: on a new host, the
                     VM defined there again (its old host gone: --host-gone, or no longer having it)
            pool     the state pool: status (with cross-VM sharing), verify, gc --keep N
            pin      keep a VM awake (no hibernation) until a time or until unpinned; wakes it if asleep
            unpin    remove a pin
            forget   end the record of a sleep whose domain is gone from its host (undefined or moved while
                     it slept): refused while libvirt there has it or cannot say (--host-gone), or while the
                     state pool holds its memory (--discard-saved-state)
            pause    no new hibernations fleet-wide (restores continue); resume undoes it
            status   sleeping VMs, due actions, held-back hibernations, VMs woken early, pins,
                     recent failures and SLA violations
            check    what needs a person now (a VM asleep past its restore, a restore failing, a sleep
                     whose saved state is gone, a VM booted without its memory, an action left started,
                     a host no longer collected): one
                     line each and exit 4, else exit 0 (pipelines/watch.sh notifies on it)
            metrics  Prometheus metrics (text format, for node_exporter's textfile collector)

            Every step is journaled in the store before it is taken; a run killed at any point and run again
            finishes or rolls forward each action once. Each host on a thread of its own, and never two
            executors on one VM (a lock per VM beside the store, released by the kernel if the holder dies):
            a run held up on one VM (a save whose QEMU stopped answering) holds up nothing else, and the next
            run serves every other VM, saying `skipped` for the held one.

            Exit codes: 0 ok (failures of single VMs are reported, see status); 1 runtime failure (store), or wake --all
            left a VM libvirt does not say runs or a host whose wake stopped;
            2 usage; 3 nothing to do; 4 check found what needs a person, or wake or pin
            brought a VM back without its memory (libvirt booted it), or left it for a person (an image older than
            its run; a pin of a VM found running on another host while asleep).
            """,
        subcommands: [Run.self, Wake.self, Restore.self, Pin.self, Unpin.self, Forget.self, Pause.self, Resume.self, Status.self, Check.self, Metrics.self, PoolCommand.self],
        defaultSubcommand: Run.self)
}

/// The store for the commands that restore, wake or hold hibernations back (run, wake, restore, pin, unpin, pause,
/// resume):
/// opened even when a newer torpor has migrated it, so that a rollback never leaves sleeping VMs without their restores
/// (the executor then starts no hibernation), with a warning; and on a full filesystem, by giving back the room kept
/// beside the store for this (`StoreReserve`; `reserve` .untouched: a dry run, which restores nothing, and what only
/// reads leave the reserve alone).
func restoringStore(_ common: StageOptions, reserve: StoreReserve.Use = .releasable) throws -> Store {
    let store = try common.openStore(tolerateNewerSchema: true, reserve: reserve)
    if try store.writtenByNewerTorpor() {
        StandardError.line("torpor-execute: warning: \(store.path) was written by a newer torpor: restores and wakes only, no new hibernations; upgrade torpor")
    }
    return store
}

/// The store for the commands that only read what is asleep and due (status, check, metrics), opened as
/// `restoringStore` opens it, the room kept beside it for restores left alone: a person's look, or the watch's every 5
/// minutes, must not give the executor's room away on a full filesystem (whatever filled it would take it). Given back
/// only when the store cannot be opened without it.
func readingStore(_ common: StageOptions) throws -> Store {
    do { return try restoringStore(common, reserve: .untouched) } catch {
        guard StoreReserve(store: common.storePath).filesystemFull else { throw error }
        return try restoringStore(common)
    }
}

struct ExecutionFlags: ParsableArguments {
    @Option(name: .customLong("host"), help: "Act on this libvirt host URI only (repeatable; default: every host).") var hosts: [String] = []
    @Option(help: "A state pool directory: saved images go into it (delta snapshots), restores fall back to it (default: $TORPOR_STATE_POOL; '' or unset: none).")
    var pool: String?
    @Option(help: "The state pool's capacity, e.g. 500GiB (default: $TORPOR_STATE_POOL_CAPACITY, else 1TiB).") var poolCapacity: String?
    @Option(help: "Where libvirt keeps managed-save images.") var managedSaveDirectory = ExecutionOptions.defaultManagedSaveDirectory
    @Option(help: "Append every event as a JSON line to this file (default: $TORPOR_EVENT_LOG, but for a dry run; '' or unset: none).") var eventLog: String?
    @Option(help: "Restores at once per host (default: the policy's concurrent_restores of the host, as the plan queued its restores; else 2).") var concurrentRestores: Int?
    @Option(help: "Seconds the pre-flight check samples a VM's CPU time over (above 0, at most 300).") var loadInterval = 3.0
    @Option(help: "Pre-flight load: 'sample' (fresh libvirt CPU time) or 'store' (the collector's newest sample).") var loadSource = "sample"
    @Option(help: "With --load-source store: the oldest sample accepted, e.g. 10m.") var loadMaxAge = "10m"
    @Option(help: "Prometheus server for --wake-on signals.") var prometheus: String?
    @Option(help: ArgumentHelp("Wake a sleeping VM when this Prometheus query answers above --wake-threshold: VM=QUERY or label=value=QUERY ($vm: the VM's name). Repeatable.", valueName: "selector=query"))
    var wakeOn: [String] = []
    @Option(help: "The value a --wake-on query must exceed.") var wakeThreshold = 0.0
    @Option(help: "Seconds a libvirt host may take to answer a new connection; an open given up on goes on, and a later pass takes it.")
    var connectTimeout = 30.0

    /// The pool a person's wake uses is the one the jobs use: a wake by hand without it would find no copy of an image
    /// libvirt's own copy of which is damaged, and let libvirt boot the VM afresh.
    var poolSetting: StatePoolSetting { StatePoolSetting(directoryFlag: pool, capacityFlag: poolCapacity) }
    var eventLogPath: String? { eventLog.map { $0.isEmpty ? nil : $0 } ?? environmentSetting("TORPOR_EVENT_LOG") }

    func validate() throws {
        if poolSetting.directory != nil { _ = try poolSetting.capacity() }   // a --pool-capacity typo; the environment's: `problems`
        if let concurrentRestores, concurrentRestores < 1 { throw ValidationError("--concurrent-restores must be at least 1") }
        if !["sample", "store"].contains(loadSource) { throw ValidationError("--load-source must be 'sample' or 'store', not '\(loadSource)'") }
        if !(connectTimeout > 0) { throw ValidationError("--connect-timeout must be a number of seconds above 0") }
        // Over no time a busy VM's CPU time does not move: it would read idle.
        if !(loadInterval > 0 && loadInterval <= 300) { throw ValidationError("--load-interval must be above 0 and at most 300 seconds, not \(loadInterval)") }
        guard let maxAge = DurationText.seconds(loadMaxAge) else { throw ValidationError("--load-max-age '\(loadMaxAge)' is not a duration such as 10m") }
        guard maxAge > 0 else { throw ValidationError("--load-max-age must be above 0 (0 accepts no sample: every hibernation would fail its pre-flight)") }
    }

    /// How the executor opens a host's connection.
    var connect: @Sendable (String) throws -> VirtConnection {
        let seconds = connectTimeout
        return { try VirtConnection.open(uri: $0, within: seconds) }
    }

    /// The executor of an operator's command (wake, restore, pin): the store's VM locks, these flags' connections.
    func operatorExecutor(store: Store) -> Executor {
        Executor(store: store, locks: VMLocks(store: store.path), connect: connect)
    }

    /// What is wrong with the flags the jobs' environment may give (a demand signal's rules, the pool's capacity): a run
    /// says it, starts no hibernation (the VMs a broken rule should watch would sleep unwatched) and goes on restoring
    /// (a typo must not stop the pass); it fails once its pass is done. A person's wake goes on whatever they say.
    var problems: [String] {
        wakeOn.filter { PrometheusDemandSignal.Rule.parse($0) == nil }.map { "--wake-on '\($0)' is not VM=QUERY or label=value=QUERY: not asked" }
            + (!wakeOn.isEmpty && prometheus.flatMap(URL.init(string:)) == nil ? ["--wake-on needs --prometheus URL: no demand signal asked"] : [])
            + (poolSetting.directory == nil ? [] : poolSetting.environmentProblem.map { [$0] } ?? [])
            // Set by execute.sh when check-env.sh refuses the jobs' settings file (its first problem): a setting of this run
            // (a demand signal's rule, the policy) may be missing or read otherwise, and a VM it should keep awake would sleep.
            + (environmentSetting("TORPOR_ENV_REFUSED").map { ["the jobs' settings file has a problem (\($0)): a setting of this run may be missing "
                                                               + "or read otherwise (check-env.sh names every problem; the watch tells them)"] } ?? [])
    }

    /// The demand signal the flags describe, if any (the rules that parse).
    var demandSignal: DemandSignal? {
        guard !wakeOn.isEmpty, let url = prometheus.flatMap(URL.init(string:)) else { return nil }
        return PrometheusDemandSignal(client: PrometheusClient(baseURL: url), rules: wakeOn.compactMap(PrometheusDemandSignal.Rule.parse),
                                      threshold: wakeThreshold)
    }

    func load(store: Store) -> LoadSource {
        loadSource == "store" ? StoredLoad(store: store, maxAge: DurationText.seconds(loadMaxAge)!) : SampledLoad(interval: loadInterval)
    }

    /// The options of a pass or an operator's command at `now`. A dry run (by hand, a replay) writes to the event log
    /// an alerting tool follows only when told to (`--event-log`).
    func options(now: EpochSeconds, dryRun: Bool = false) -> ExecutionOptions {
        var o = ExecutionOptions(now: now)
        o.dryRun = dryRun
        o.hosts = hosts.isEmpty ? nil : Set(hosts)
        o.pool = poolSetting.directory.map { ($0, (try? poolSetting.capacity()) ?? 0) }   // a flag's checked by validate
        if !problems.isEmpty { o.holdHibernations = "no new hibernations while the executor's settings are wrong: " + problems.joined(separator: "; ") }
        o.managedSaveDirectory = managedSaveDirectory
        o.eventLog = dryRun && eventLog == nil ? nil : eventLogPath
        o.concurrentRestores = concurrentRestores
        return o
    }
}

/// A state pool as `--pool` and `--pool-capacity` give it, else as the jobs' environment does (`TORPOR_STATE_POOL`,
/// `TORPOR_STATE_POOL_CAPACITY`); an empty `--pool` is none.
struct StatePoolSetting {
    var directoryFlag: String?
    var capacityFlag: String?

    var directory: String? { directoryFlag.map { $0.isEmpty ? nil : $0 } ?? environmentSetting("TORPOR_STATE_POOL") }

    /// The capacity in bytes: `--pool-capacity`'s (a usage error when it is no size), else the environment's (0 when it is
    /// no size: `environmentProblem`; restores from the pool go on, no image goes in), else 1 TiB.
    func capacity() throws -> Int64 {
        if let capacityFlag {
            guard let bytes = ByteSize.parse(capacityFlag) else { throw ValidationError("--pool-capacity '\(capacityFlag)' is not a size such as 500GiB") }
            return bytes
        }
        return environmentSetting("TORPOR_STATE_POOL_CAPACITY").map { ByteSize.parse($0) ?? 0 } ?? 1 << 40
    }

    /// What is wrong with the environment's pool (a relative path: `environmentPath`) or capacity, when the flags do not
    /// override them.
    var environmentProblem: String? {
        if directoryFlag == nil {
            do { _ = try environmentPath("TORPOR_STATE_POOL") } catch { return error.message }
        }
        guard capacityFlag == nil, let text = environmentSetting("TORPOR_STATE_POOL_CAPACITY"), ByteSize.parse(text) == nil else { return nil }
        return "TORPOR_STATE_POOL_CAPACITY '\(text)' is not a size such as 500GiB: no image goes into the state pool"
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply due actions (the job that runs every few minutes).")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Flag(help: "Decide and report; change nothing.") var dryRun = false
    @Flag(help: "Keep running: a pass every --interval, and at once when a domain starts or stops (libvirt events).") var follow = false
    @Option(help: "Seconds between passes with --follow (at least 1).") var interval = 60
    @Option(help: "With --follow and --now: replay on a simulated clock until this time (no waiting between passes).") var until: String?
    @Flag(help: "Allow a --now more than an hour from the clock without --dry-run: a replay on hosts set up for it (a test driver, a test guest).") var replay = false
    /// The policy in force: a VM it excludes since its plan was approved is not hibernated.
    @OptionGroup var policyFile: PolicyOption

    func validate() throws {
        guard interval >= 1 else { throw ValidationError("--interval \(interval): give at least 1 second between passes") }
        // A run acts on the hosts' VMs as they are now: at another time it would save and restore real VMs on plans
        // and samples of that time, and journal it then.
        try refuseAwayFromTheClock(common, replay: replay || dryRun, "a run acts on the hosts' VMs as they are now; give --dry-run to see what it "
                                   + "would have done, --replay on hosts set up for a replay, or replay history with torpor-backtest")
        if let until {
            try refuseUnreadableInstant(until, flag: "--until")
            guard follow, common.now != nil else { throw ValidationError("--until needs --follow and --now (a simulated clock)") }
            guard UTC.parseInstant(until)! > common.nowSeconds else { throw ValidationError("--until \(until) is not after --now \(common.now!): no pass to replay") }
        }
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try restoringStore(common, reserve: dryRun ? .untouched : .releasable)
            // One executor, one connection per host for the whole run (libvirt's test driver keeps state per connection);
            // a VM's lock is held while the executor acts on it.
            let executor = Executor(store: store, load: flags.load(store: store), demand: flags.demandSignal,
                                    locks: VMLocks(store: common.storePath), connect: flags.connect)
            let end = until.flatMap(UTC.parseInstant)
            // Following the clock, a domain starting or stopping outside the schedule triggers a pass at once.
            let nudge = DispatchSemaphore(value: 0)
            if follow && end == nil { try executor.watch(hosts: flags.hosts.isEmpty ? nil : Set(flags.hosts)) { _, _ in nudge.signal() } }
            // systemd's stop (an upgrade, new settings): no new hibernation, in the pass under way too; restores go on, and
            // the follower ends once no save or restore a pass started is under way.
            let stop = follow && end == nil ? StopRequest(waking: nudge, then: executor.stopHibernating) : nil
            var now = common.nowSeconds
            // Flags that name nothing the store knows: said when found (again when they change), and a run that ends
            // fails for them once its pass is done (restores are never blocked).
            var problems: [String] = []
            while true {
                var options = flags.options(now: now, dryRun: dryRun)
                // The pass's journal goes in the reserve's room when the filesystem has filled since the store was opened;
                // a hibernation whose journal cannot be written would leave a VM asleep that no record owes a restore.
                if !dryRun {
                    let reserve = StoreReserve(store: store.path)
                    reserve.releaseIfFull()
                    let state = reserve.keep()
                    if case .short = state, let full = state.problem { options.hold(full) }
                }
                // The policy in force, read each pass (an exclusion made after a plan's approval holds from the next
                // pass); one that cannot be read holds every new hibernation, as torpor-plan makes no plan from it.
                if policyFile.inForceKnown { options.readPolicy { try Policy.load(path: try policyFile.path()).policy } }
                // A store that cannot be read holds up no pass (what it said last stands).
                let found = flags.problems + ((try? executor.misconfigurations(options)) ?? problems.filter { !flags.problems.contains($0) })
                if found != problems {
                    executor.report(misconfigurations: found, options)
                    problems = found
                }
                // Following the wall clock, a pass waits for its hosts one interval at most: a host held up on a VM is
                // left to its thread (the passes after skip that VM) while everything else is served. A failed pass
                // does not end a follower (its hosts' threads may still be restoring): the next pass tries again.
                let passStarted = Date()
                var events: [ExecutionEvent] = []
                var failed = false
                do { events = try executor.run(options, waitAtMost: follow && end == nil ? TimeInterval(interval) : nil) } catch where follow && end == nil {
                    StandardError.line("torpor-execute: \(UTC.format(now)): the pass failed: \(error)")
                    failed = true
                }
                // Written at once (not buffered): a log that `tail -f` or journald can follow.
                if events.isEmpty && !failed && end == nil { try? FileHandle.standardOutput.write(contentsOf: Data("\(UTC.format(now)): nothing done\n".utf8)) }
                guard follow else { break }
                if let end {
                    now += EpochSeconds(interval)
                    if now > end { break }
                } else {
                    // The rest of the interval (a pass that took it all starts the next at once).
                    if stop?.requested == true {
                        // Stopping: passes of restores every few seconds while a save or restore a pass started goes on
                        // (one held up past systemd's TimeoutStopSec is killed, and the next start reconciles it).
                        if executor.hostsIdle { break }
                        _ = nudge.wait(timeout: .now() + 15)
                        while nudge.wait(timeout: .now()) == .success {}
                    } else {
                        _ = nudge.wait(timeout: .now() + max(0, TimeInterval(interval) - Date().timeIntervalSince(passStarted)))
                        while nudge.wait(timeout: .now()) == .success {}   // one pass for a burst of events
                    }
                    // (A simulated clock stands still while stopping.)
                    now = common.now == nil ? EpochSeconds(Date().timeIntervalSince1970) : stop?.requested == true ? now : now + EpochSeconds(interval)
                }
            }
            if stop?.requested == true {
                // Stopped as asked: exit 0 (the problems were said when found; a stop is no failure of the unit), the
                // records a left-behind thread kept back written first.
                executor.recordKeptBack(flags.options(now: now, dryRun: dryRun))
                try? FileHandle.standardOutput.write(contentsOf: Data("stopped (asked to): no save or restore under way\n".utf8))
                return
            }
            if !problems.isEmpty { throw ExecuteError(.badInput, "the pass ran, but: " + problems.joined(separator: "; ")) }
        }
    }
}

/// SIGTERM or SIGINT to a follower (systemd's stop): said, `then` called, and `requested` from then on; `waking` is
/// signalled so that a follower between passes goes on at once. A second signal ends the process at once (a person's
/// second Ctrl-C).
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var asked = false
    private var sources: [DispatchSourceSignal] = []

    init(waking: DispatchSemaphore, then: @escaping @Sendable () -> Void) {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)   // handled by the source, not by the default action (ending the process mid-save)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let first = lock.withLock { () -> Bool in defer { asked = true }; return !asked }
                guard first else { _exit(128 + number) }   // no atexit handlers or stdio flushes behind threads still writing
                then()   // before anything that may block (a stalled pipe to journald)
                // Said before the follower is woken, which may end the process at once (nothing under way); written at
                // once, as the passes' lines are (a pipe to journald would hold a print). A pipe that stalls it holds
                // up no stop: the follower, already asked, stops at its interval's end.
                try? FileHandle.standardOutput.write(contentsOf: Data(("stopping (signal \(number)): no new hibernation; restores go on until no save or "
                                                                       + "restore under way is left (a second signal ends it at once)\n").utf8))
                waking.signal()
            }
            source.resume()
            sources.append(source)
        }
    }

    var requested: Bool { lock.withLock { asked } }
}

struct Wake: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a VM now, whatever the plans say; --all: every VM asleep (of --host, --label).",
        discussion: """
            --all reconciles what a killed run left, restores every VM torpor has asleep as a run does (each host at \
            once, its restores in SLA order, --concurrent-restores at a time), then wakes those another executor was \
            saving (--wait) and those saved without torpor's record (as the inventory found them, or as each host's \
            libvirt holds them now; --label picks only VMs the store knows), and names each VM libvirt does not then say \
            runs and each host that did not answer (exit 1). Before an incident's or a host's maintenance, or before stopping torpor: `pause` first, or the \
            next run hibernates them again as the approved plan says. A store that cannot be opened (damaged, its disk \
            full): --all wakes what libvirt holds saved on the --host hosts (else TORPOR_LIBVIRT_URI's), by the domains' \
            own labels, leaving one whose domain runs on another of them (two copies); a sleep only the state pool holds \
            needs the store.
            """)
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Argument(help: "The VM.") var vm: String?
    @Flag(help: "Every VM asleep (torpor's sleepers, those saved without its record), of the --host hosts, with the --label labels.") var all = false
    @Option(help: ArgumentHelp("With --all: only the VMs with this label (repeatable: with each).", valueName: "key=value")) var label: [String] = []
    @Flag(help: "With --all: say which VMs would be woken; wake none.") var dryRun = false
    @Option(help: "Who wakes it (default: $SUDO_USER, else $USER).") var by: String?
    @Flag(help: "Allow a --now more than an hour from the clock: a replay on hosts set up for it (a test driver, a test guest).") var replay = false
    @OptionGroup var wait: WaitOption

    func validate() throws {
        try refuseAwayFromTheClock(common, replay: replay || dryRun)
        guard all != (vm != nil) else { throw ValidationError(all ? "give a VM or --all, not both" : "give the VM to wake, or --all (every VM asleep)") }
        if !all && (!label.isEmpty || dryRun) { throw ValidationError((dryRun ? "--dry-run" : "--label") + " goes with --all") }
        for text in label where Self.labelled(text) == nil { throw ValidationError("--label '\(text)' is not key=value") }
        let keys = label.compactMap { Self.labelled($0)?.key }
        if let twice = keys.first(where: { key in keys.filter { $0 == key }.count > 1 }) {
            throw ValidationError("--label \(twice) is given twice: a VM has one value of a label")
        }
    }

    /// `--all` when the store cannot be opened: libvirt alone wakes what it holds saved on the `--host` hosts (else
    /// `TORPOR_LIBVIRT_URI`'s), without torpor's records (`StorelessWake`). Exit 1 when a saved VM is left or a host
    /// did not answer, 4 when one came back without its memory.
    func wakeWithoutTheStore(_ error: Error) throws {
        let hosts = flags.hosts.isEmpty ? (environmentSetting("TORPOR_LIBVIRT_URI") ?? "").split(whereSeparator: \.isWhitespace).map(String.init) : flags.hosts
        StandardError.line("torpor-execute: the store cannot be opened (\(error)): " + (dryRun ? "would wake" : "waking")
                           + " what libvirt holds saved on " + (hosts.isEmpty ? "no host" : hosts.joined(separator: ", "))
                           + ", without torpor's records (a sleep only the state pool holds needs the store)")
        guard !hosts.isEmpty else { throw ExecuteError(.badInput, "give the hosts to wake on: --host URI (repeatable), or TORPOR_LIBVIRT_URI") }
        let report = StorelessWake.wakeAll(hosts: hosts, labels: Dictionary(uniqueKeysWithValues: label.compactMap(Self.labelled)), dryRun: dryRun,
                                           locks: VMLocks(store: common.storePath))
        for vm in report.woken { StandardError.line("torpor-execute: \(dryRun ? "would wake" : "woke") \(vm)") }
        for vm in report.bootedAfresh {
            StandardError.line("torpor-execute: \(vm): BOOTED AFRESH: libvirt found no complete saved image and booted it; the memory it slept with is lost")
        }
        for left in report.left { StandardError.line("torpor-execute: not woken: \(left)") }
        for paused in report.paused { StandardError.line("torpor-execute: not resumed: \(paused)") }
        for host in report.hostsStopped {
            StandardError.line("torpor-execute: a host did not answer: \(host); nothing started (give --host with the hosts to wake on, leaving it out, to wake theirs)")
        }
        StandardError.line("torpor-execute: \(dryRun ? "would wake" : "woke") \(report.woken.count); not woken \(report.left.count)" + (report.left.isEmpty ? "" : " (above)")
                           + (report.hostsStopped.isEmpty ? "" : "; \(report.hostsStopped.count) host(s) did not answer"))
        if !report.left.isEmpty || !report.hostsStopped.isEmpty { throw ExitCode(1) }
        if !report.bootedAfresh.isEmpty { throw ExitCode(4) }
    }

    /// A `--label`'s key and value.
    static func labelled(_ text: String) -> (key: String, value: String)? {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store: Store
            do { store = try restoringStore(common, reserve: dryRun ? .untouched : .releasable) } catch {
                // An operator can always wake a VM: without torpor's store, libvirt restores a managed save by itself.
                if all { return try wakeWithoutTheStore(error) }
                let host = flags.hosts.count == 1 ? flags.hosts[0] : "HOST", name = vm ?? "VM"
                StandardError.line("torpor-execute: the store cannot be opened (\(error)): torpor cannot wake \(vm ?? "them"); libvirt can, from each "
                                   + "VM's saved memory: virsh -c \(host) start \(name) (the VMs it holds saved: virsh -c \(host) list --all --with-managed-save; "
                                   + "a paused one only if virsh -c \(host) domstate --reason \(name) says paused (user) or (saving): virsh resume, else a person "
                                   + "looks first); a sleep only the state pool holds needs the store")
                throw ExitCode(1)
            }
            let executor = flags.operatorExecutor(store: store)
            let options = flags.options(now: common.nowSeconds, dryRun: dryRun)
            guard all else {
                try requireRestored(executor.wake(vm: vm!, by: operatorName(by), options: options, patience: wait.seconds, waiting: wait.say))
                return
            }
            let labels = Dictionary(uniqueKeysWithValues: label.compactMap(Self.labelled))   // each key once (validate)
            let woken = try executor.wakeAll(labels: labels, by: operatorName(by), options: options, patience: wait.seconds, waiting: wait.say)
            // A host whose wake stopped (libvirt did not answer): what sleeps there is not known to be awake.
            let stopped = woken.hostsStopped.isEmpty ? "" : "; hosts whose wake stopped (why: above): " + woken.hostsStopped.joined(separator: ", ")
            guard !dryRun else {
                // What a wake would leave (a saved copy of a VM the store has on another host): named as the wake names it.
                for left in woken.notWoken { StandardError.line("torpor-execute: would not wake \(left.vm) (\(left.state))") }
                if !stopped.isEmpty { StandardError.line("torpor-execute: " + stopped.dropFirst(2)); throw ExitCode(1) }
                return
            }
            let left = woken.notWoken.map { "\($0.vm) (\($0.state))" }
            StandardError.line("torpor-execute: woke \(woken.asleep.count - left.count) of \(woken.asleep.count) asleep"
                               + (left.isEmpty ? "" : "; not running (why: above): " + left.joined(separator: ", ")) + stopped)
            let memoryLost = Executor.memoryLost(in: woken.events) != nil
            if memoryLost { StandardError.line("torpor-execute: a VM came back without its memory (above): it needs a person") }
            // A failure with nothing found asleep (the store could not reconcile, say): nothing is known to be awake.
            if !left.isEmpty || !woken.hostsStopped.isEmpty || (woken.asleep.isEmpty && woken.events.contains { $0.event == "failed" }) { throw ExitCode(1) }
            if memoryLost { throw ExitCode(4) }
        }
    }
}

/// How long a person's wake waits for another executor acting on the VM (a run saving it) before it gives up: the VM is
/// asleep once that is done, and the wake then brings it back. (A copy into the state pool holds no wake: it is not
/// made under the VM's lock.)
struct WaitOption: ParsableArguments {
    @Option(help: "How long to wait for another executor acting on the VM (a save under way), e.g. 30m (0: not at all).") var wait = "30m"

    func validate() throws {
        if DurationText.seconds(wait) == nil { throw ValidationError("--wait '\(wait)' is not a duration such as 30m, or 0") }
    }

    var seconds: TimeInterval { TimeInterval(DurationText.seconds(wait) ?? 0) }

    func say(_ line: String) { StandardError.line("torpor-execute: " + line) }
}

/// A command that acts on the hosts' VMs as they are now: a `--now` more than an hour from the clock (a typo would act,
/// and record it, at the wrong time) is refused without `--replay`, saying `consequence`.
func refuseAwayFromTheClock(_ common: StageOptions, replay: Bool,
                            _ consequence: String = "a wake acts on the VM as it is now; give --replay on hosts set up for a replay") throws {
    if let now = common.now.flatMap(UTC.parseInstant), !replay, let away = awayFromTheClock(now, consequence) { throw away }
}

/// A person's restore fails when the VM did not come back (exit 1), and needs a person when it came back without its
/// memory (exit 4: libvirt booted it); a failure beside a restore that did (the journal could not record it) is a warning.
func requireRestored(_ events: [ExecutionEvent]) throws {
    let failures = events.filter { $0.event == "failed" }
    guard events.contains(where: { $0.event == "restored" }) else {
        if let failure = Executor.wakeFailure(in: events) { throw ExecuteError(.runtime, failure.detail) }
        return
    }
    for failure in failures { StandardError.line("torpor-execute: warning: \(failure.detail)") }
    if Executor.memoryLost(in: events) != nil { throw ExitCode(4) }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a sleeping VM from the state pool (--from-pool), verified by hash.")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Flag(help: "Rebuild the image from the state pool (required: the plain restore is `wake`).") var fromPool = false
    @Argument(help: "The VM.") var vm: String
    @Option(help: ArgumentHelp("Restore it on this libvirt host, the VM defined there again: the host it slept on must no longer have it (gone with its host: --host-gone).", valueName: "uri"))
    var onto: String?
    @Flag(help: "With --onto: the host the VM slept on is gone for good (it cannot answer whether it still has the VM).") var hostGone = false
    @Option(help: "Who restores it (default: $SUDO_USER, else $USER).") var by: String?
    @Flag(help: "Allow a --now more than an hour from the clock: a replay on hosts set up for it (a test driver, a test guest).") var replay = false
    @OptionGroup var wait: WaitOption

    func validate() throws {
        guard fromPool else { throw ValidationError("restore needs --from-pool; to restore from libvirt's image use `torpor-execute wake`") }
        guard flags.poolSetting.directory != nil else { throw ValidationError("--from-pool needs --pool DIR (or TORPOR_STATE_POOL)") }
        if onto?.isEmpty == true { throw ValidationError("--onto is empty (an unset variable?): give the new host's libvirt URI") }
        if hostGone && onto == nil { throw ValidationError("--host-gone goes with --onto: the host the VM slept on is gone, and it is restored onto another") }
        try refuseAwayFromTheClock(common, replay: replay)
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try restoringStore(common)
            let events = try flags.operatorExecutor(store: store)
                .wake(vm: vm, by: operatorName(by), fromPool: true, onto: onto, hostGone: hostGone, options: flags.options(now: common.nowSeconds),
                      patience: wait.seconds, waiting: wait.say)
            try requireRestored(events)
            // Its demand there unmeasured, it is not planned again (it runs); a later sleep there no executor of the
            // collector's hosts would restore.
            if let onto, (try? store.read { try ExecutionCheck.uncollectedHost(onto, by: common.nowSeconds, in: $0) }) == true {
                StandardError.line("torpor-execute: warning: no libvirt collection reads \(onto): \(vm)'s demand there is not measured, so it is not "
                                   + "planned; add the host to the collector's and the executor's hosts (TORPOR_LIBVIRT_URI)")
            }
        }
    }
}

struct PoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pool", abstract: "Look after a host's state pool.",
                                                    subcommands: [PoolStatus.self, PoolVerify.self, PoolGC.self])
}

struct PoolOptions: ParsableArguments {
    @OptionGroup var common: StageOptions
    @Option(name: .customLong("pool"), help: "The state pool directory (default: $TORPOR_STATE_POOL).") var poolFlag: String?
    @Option(help: "Its capacity, e.g. 500GiB (default: $TORPOR_STATE_POOL_CAPACITY, else 1TiB).") var poolCapacity: String?

    var setting: StatePoolSetting { StatePoolSetting(directoryFlag: poolFlag, capacityFlag: poolCapacity) }
    /// The pool's directory (validated: given).
    var pool: String { setting.directory ?? "" }

    func validate() throws {
        guard setting.directory != nil else { throw ValidationError("give the state pool: --pool DIR (or TORPOR_STATE_POOL)") }
        _ = try setting.capacity()
        if let problem = setting.environmentProblem { throw ValidationError(problem) }
    }

    /// The pool at `--pool`, which must be one already (a mistyped path is no empty pool).
    func open() throws -> StatePool {
        // Opened as the executor's commands are: a `pool gc` frees room on a full disk.
        try StatePool(directory: pool, capacityBytes: try setting.capacity(), store: try common.openStore(reserve: .releasable), creating: false)
    }
}

struct PoolStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Images, chunks, bytes stored vs saved, chunks shared by VMs.")
    @OptionGroup var options: PoolOptions

    func run() throws {
        try exitingOnError("torpor-execute") {
            let s = try options.open().status()
            print("\(options.pool): \(s.images) images, \(s.chunks) chunks, \(ByteSize.format(s.storedBytes)) stored of \(ByteSize.format(s.capacityBytes)) for \(ByteSize.format(s.logicalBytes)) of images"
                  + String(format: " (%.1f× saved by deduplication)", Double(s.logicalBytes) / Double(max(1, s.storedBytes))))
            print("chunks shared by several VMs: \(s.sharedAcrossVMs)")
        }
    }
}

struct PoolVerify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Re-hash every chunk; exit 1 if any is missing, damaged or unreadable.")
    @OptionGroup var options: PoolOptions
    @Flag(help: "Remove damaged chunks' files (set an unreadable one aside while a sleep whose copy may be all there is of its memory uses it; put back once it reads whole), so that the next image holding one writes it again, and have the executor take each sleeping VM whose copy used one into the pool again when libvirt holds its image (other images stay unrestorable from the pool until the chunk is written again).")
    var repair = false
    @Option(help: "Where libvirt keeps managed-save images (a sleep's image is looked at there before its copy is unlinked).")
    var managedSaveDirectory = ExecutionOptions.defaultManagedSaveDirectory

    func run() throws {
        try exitingOnError("torpor-execute") {
            // Asked of each sleep the repair would unlink: libvirt says it holds the image (a flag it keeps, which a file
            // removed or cut behind its back does not change) and reads it whole, as a restore would find it (where it
            // cannot say, the file is there, whole).
            // A host that cannot answer holds none (the link is kept).
            var hosts: [String: VirtConnection?] = [:]
            let report = try options.open().verify(repair: repair) { vm, host in
                if hosts[host] == nil { hosts[host] = .some(try? VirtConnection.open(uri: host)) }
                guard let domain = try? hosts[host]??.domain(named: vm), (try? domain.hasManagedSaveImage()) == true else { return false }
                return domain.unusableManagedSaveImage(localPath: ExecutionOptions.managedSaveImage(of: vm, in: managedSaveDirectory)) == nil
            }
            print("\(report.chunksChecked) chunks checked, \(report.corrupt.count) damaged, \(report.unreadable.count) unreadable, \(report.missing.count) missing"
                  + (repair ? ", \(report.removed.count) removed for the next take to write again" : ""))
            for hash in report.corrupt { print("  damaged: \(hash)") }
            for hash in report.unreadable { print("  unreadable: \(hash)") }
            for hash in report.missing { print("  missing: \(hash)") }
            if !report.setAside.isEmpty {
                print("unreadable chunks SET ASIDE in \(options.pool)/unreadable, a sleep whose copy may be all there is of its memory using them "
                      + "(put back by a later --repair once they read whole, unless a take has written them again): " + report.setAside.joined(separator: ", "))
            }
            if !report.recovered.isEmpty { print("chunks set aside earlier, whole again, put back: " + report.recovered.joined(separator: ", ")) }
            if !report.sleepingAffected.isEmpty {
                print("asleep on an image that uses them: " + report.sleepingAffected.joined(separator: ", ")
                      + " (libvirt's own image restores them; the pool's copy cannot stand in for it)")
            }
            if !report.retaken.isEmpty {
                print("their copies unlinked, for the executor's next pass to take libvirt's image into the pool again: " + report.retaken.joined(separator: ", "))
            }
            if !report.keptLinked.isEmpty {
                print("their copies LEFT LINKED, libvirt holding no image of the sleep (or not answering): the pool's copy may be all there is of their memory; "
                      + "restorable once the chunk is back, or written again by a take of another image holding it: " + report.keptLinked.joined(separator: ", "))
            }
            if !(report.corrupt.isEmpty && report.unreadable.isEmpty && report.missing.isEmpty) { throw ExecuteError(.runtime, "\(options.pool): the pool has missing, damaged or unreadable chunks; the images that use them cannot be restored from the pool") }
        }
    }
}

struct PoolGC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Keep the newest N images per VM and every sleeping VM's; remove unreferenced chunks.")
    @OptionGroup var options: PoolOptions
    @Option(help: "Images kept per VM.") var keep = 3
    @Flag(help: "This store is the one the executor uses, though the pool holds images it does not know (it was restored from a backup): collect anyway, removing those images.")
    var storeIsCurrent = false

    func run() throws {
        try exitingOnError("torpor-execute") {
            let report = try options.open().collectGarbage(keepPerVM: max(1, keep), storeIsCurrent: storeIsCurrent)
            print("removed \(report.manifestsRemoved) images and \(report.chunksRemoved) chunks, freed \(ByteSize.format(report.bytesFreed))"
                  + (report.leftoverImagesRemoved > 0 ? "; \(report.leftoverImagesRemoved) images left by interrupted restores removed" : ""))
            if report.straysLeft > 0 {
                StandardError.line("torpor-execute: \(report.straysLeft) chunk files in \(options.pool) are not in the store \(options.common.storePath), which indexes nothing of this pool: left (is --db the store that wrote this pool?)")
            }
        }
    }
}

struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Keep a VM awake: no hibernation until --until (or unpin); wakes it if asleep.")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Argument(help: "The VM.") var vm: String
    @Option(help: "Until when, ISO-8601 with its zone (Z or an offset) or a duration from now such as 8h (default: until unpinned).") var until: String?
    @Option(help: "Who pins it (default: $SUDO_USER, else $USER).") var by: String?
    @Flag(help: "Allow a --now more than an hour from the clock: a replay on hosts set up for it (a test driver, a test guest).") var replay = false

    /// Whether an ISO-8601 time says its zone: `Z` or an offset, after its date (whose own `-` are not one).
    func validate() throws {
        if let until, UTC.parseInstant(until) == nil, DurationText.seconds(until) == nil {
            throw ValidationError("--until '\(until)' is neither a time nor a duration such as 8h")
        }
        // A local time read as UTC would end the pin hours early (09:00 in New York is 14:00Z): the VM could sleep then.
        if let until, DurationText.seconds(until) == nil, until.contains(where: { !$0.isNumber }), !UTC.namesItsZone(until) {
            throw ValidationError("--until '\(until)' has no zone: give Z or an offset (e.g. 2026-12-09T09:00-05:00), or a duration such as 8h")
        }
        // A pin is a person's word now: made at another --now (a typo), it would have ended hours ago, or hold the
        // alarm of a VM asleep past its restore back until then.
        try refuseAwayFromTheClock(common, replay: replay, "a pin keeps the VM awake from now; give --replay on hosts set up for a replay")
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            let now = common.nowSeconds
            let end = until.map { UTC.parseInstant($0) ?? now + DurationText.seconds($0)! }
            let outcome = try flags.operatorExecutor(store: try restoringStore(common)).pin(vm: vm, until: end, by: operatorName(by), options: flags.options(now: now))
            print(outcome.pinned)
            if let warning = outcome.warning { StandardError.line("torpor-execute: warning: \(warning)") }
            if outcome.memoryLost { throw ExitCode(4) }
        }
    }
}

struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a VM's pin.")
    @OptionGroup var common: StageOptions
    @Argument(help: "The VM.") var vm: String

    func run() throws {
        try exitingOnError("torpor-execute") {
            guard try restoringStore(common).transaction({ try JournalRepository.unpin(vm: vm, in: $0) }) else {
                throw ExecuteError(.nothingToDo, "\(vm) has no pin: nothing to unpin (torpor-execute status lists the pins)")
            }
            print("\(vm) unpinned")
        }
    }
}

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End torpor's record of a sleep whose domain is gone from its host (undefined, or moved while it slept): its restore is owed no more.",
        discussion: "Refused while libvirt on the VM's host still has the domain (wake it instead) or cannot say, unless --host-gone; "
            + "and while the state pool holds the sleep's memory, unless --discard-saved-state.")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Argument(help: "The VM.") var vm: String
    @Flag(help: "The VM's host is gone for good: forget the sleep without libvirt's word that the domain is gone.") var hostGone = false
    @Flag(help: "Forget the sleep although the state pool holds its memory (the pool keeps the image until pool gc).") var discardSavedState = false
    @Option(help: "Who forgets it (default: $SUDO_USER, else $USER).") var by: String?
    @Flag(help: "Allow a --now more than an hour from the clock: a replay on hosts set up for it (a test driver, a test guest).") var replay = false

    func validate() throws {
        try refuseAwayFromTheClock(common, replay: replay, "a sleep is forgotten now; give --replay on hosts set up for a replay")
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            print(try flags.operatorExecutor(store: try restoringStore(common))
                .forget(vm: vm, by: operatorName(by), hostGone: hostGone, discardSavedState: discardSavedState, options: flags.options(now: common.nowSeconds)))
        }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "No new hibernations fleet-wide; restores continue.")
    @OptionGroup var common: StageOptions
    @Option(help: "Who pauses (default: $SUDO_USER, else $USER).") var by: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            try ExecutorSettings.setPaused(true, by: operatorName(by), now: common.nowSeconds, in: try restoringStore(common))
            print("paused: no new hibernations; restores continue")
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Allow hibernations again.")
    @OptionGroup var common: StageOptions
    @Option(help: "Who resumes (default: $SUDO_USER, else $USER).") var by: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            try ExecutorSettings.setPaused(false, by: operatorName(by), now: common.nowSeconds, in: try restoringStore(common))
            print("resumed")
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What needs a person now: a VM asleep past its restore, a restore failing or held for a person (the VM ran on another host while asleep), a lost saved state or memory, an action left started, a host no longer collected, a VM saved without torpor's record, the store's filesystem full, an executor on an older torpor, no plan for hours (exit 4).")
    @OptionGroup var common: StageOptions
    @OptionGroup var check: CheckOptions
    @Option(help: "Also write `metrics` to this file, whole, from the same check (the watch: TORPOR_METRICS_FILE); one that cannot be written is said.")
    var metricsFile: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try readingStore(common)
            let problems = try check.problems(store: store, common)
            if let metricsFile {
                do { try Metrics.write(store: store, common, problems: problems, to: metricsFile) } catch {
                    StandardError.line("torpor-execute: warning: \(error)")
                }
            }
            guard !problems.isEmpty else {
                // The plan only when one was looked at (a store never planned within the silence has none to speak of).
                let silence = DurationText.seconds(check.planSilence)!
                let planned = try silence > 0 && store.read { try PlanRepository.lastCreated(upTo: common.nowSeconds, in: $0) } != nil
                // Named for their first day only: said, never "none", while they last.
                let unrecorded = try ExecutionCheck.savedWithoutRecord(store: store, now: common.nowSeconds, replaying: common.now != nil).count
                let saved = unrecorded == 0 ? "no VM saved without torpor's record"
                    : "\(unrecorded) VM(s) saved without torpor's record for over a day (named on their first; `status` lists them)"
                return print("ok at \(UTC.format(common.nowSeconds)): no VM asleep past its restore, no restore failing or held, no saved state lost, no action left started, no host left uncollected, \(saved), room for the store"
                             + (planned ? ", a plan made within \(DurationText.format(silence))" : ""))
            }
            for p in problems { print(p.text) }
            throw ExitCode(4)
        }
    }
}

/// What `check` (and `metrics`, which counts what it names) allows before it names something.
struct CheckOptions: ParsableArguments {
    @Option(help: "How long past its deadline a restore may still be under way, and an action may stay started, e.g. 10m.")
    var grace = "10m"
    @Option(help: "How long a host holding VMs may go without a libvirt collection before it is named, e.g. 30m (0: not checked).")
    var collectorSilence = "30m"
    @Option(help: "How long the store may go without a new plan (the hourly job's) before it is named, counted from its first libvirt collection when it has had none, e.g. 3h (0: not checked).")
    var planSilence = "3h"

    func validate() throws {
        if DurationText.seconds(grace) == nil { throw ValidationError("--grace '\(grace)' is not a duration such as 10m") }
        for (flag, value) in [("--collector-silence", collectorSilence), ("--plan-silence", planSilence)] where DurationText.seconds(value) == nil {
            throw ValidationError("\(flag) '\(value)' is not a duration such as 30m, or 0")
        }
    }

    func problems(store: Store, _ common: StageOptions) throws -> [ExecutionCheck.Problem] {
        try ExecutionCheck.problems(store: store, now: common.nowSeconds, grace: DurationText.seconds(grace)!,
                                    collectorSilence: DurationText.seconds(collectorSilence)!, planSilence: DurationText.seconds(planSilence)!,
                                    replaying: common.now != nil, locks: VMLocks(store: common.storePath))
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prometheus metrics (text format): VMs asleep and restores due per host, what check names by kind, the last day's restores, hibernations and VM-seconds asleep.",
        discussion: """
            For node_exporter's textfile collector: --output /var/lib/prometheus/node-exporter/torpor.prom (written \
            whole: a scrape never reads half of it). The watch job's check writes them too (check --metrics-file) \
            when TORPOR_METRICS_FILE is set. \
            Alert on torpor_problems > 0, on torpor_restores_last_day{outcome="late"} > 0, and on \
            time() - torpor_metrics_timestamp_seconds (the watch stopped).
            """)
    @OptionGroup var common: StageOptions
    @OptionGroup var check: CheckOptions
    @Option(help: "Write them to this file, whole (default: stdout).") var output: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try readingStore(common)
            let problems = try check.problems(store: store, common)
            guard let output else {
                return print(try ExecutionMetrics.render(store: store, now: common.nowSeconds, replaying: common.now != nil, problems: problems), terminator: "")
            }
            try Self.write(store: store, common, problems: problems, to: output)
        }
    }

    /// Writes the metrics to `path` whole (`AtomicFile`): a scrape never reads half of it.
    static func write(store: Store, _ common: StageOptions, problems: [ExecutionCheck.Problem], to path: String) throws {
        let text = try ExecutionMetrics.render(store: store, now: common.nowSeconds, replaying: common.now != nil, problems: problems)
        do throws(AtomicFileError) { try AtomicFile.write(Data(text.utf8), to: path) } catch {
            throw ExecuteError(.runtime, "\(path): the metrics cannot be written: \(error.reason)")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sleeping VMs, due actions, held-back hibernations, VMs woken early or whose forecast is set aside, pins, recent failures and violations.")
    @OptionGroup var common: StageOptions
    /// The policy torpor-plan uses: the VMs whose forecast it sets aside (forecast demand did not come, idle timeout) are
    /// listed too, when it is known here (--policy, or $TORPOR_POLICY set).
    @OptionGroup var policyFile: PolicyOption

    func run() throws {
        try exitingOnError("torpor-execute") {
            // What is asleep is shown whatever becomes of the policy of the jobs' environment (it is the incident's view).
            let policy: Policy?
            do { policy = policyFile.inForceKnown ? try Policy.load(path: try policyFile.path()).policy : nil } catch {
                guard policyFile.policy == nil else { throw error }
                StandardError.line("torpor-execute: warning: \(error): the VMs whose forecast torpor-plan sets aside are not listed")
                policy = nil
            }
            print(try ExecutionStatus.render(store: try readingStore(common), now: common.nowSeconds, replaying: common.now != nil, policy: policy))
        }
    }
}

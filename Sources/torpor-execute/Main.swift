import ArgumentParser
import Foundation
import TorporCommandLine
import TorporCore
import TorporExecute
import TorporPlan
import TorporStore

@main
struct TorporExecuteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torpor-execute",
        abstract: "Apply the approved plan's due actions through libvirt, crash-safe, never leaving a VM asleep.",
        discussion: """
            run      (every few minutes, or --follow) reconcile an interrupted run, restore every sleeping VM
                     whose restore is due (never blocked: not by pause, expiry, a newer plan or a missing
                     approval; a pin or a calendar demand/keep-awake event that is on wakes it too), then
                     hibernate the due actions of the newest approved, unexpired plan after a pre-flight check
            wake     restore a VM now, whatever the plans say
            pin      keep a VM awake (no hibernation) until a time or until unpinned; wakes it if asleep
            unpin    remove a pin
            pause    no new hibernations fleet-wide (restores continue); resume undoes it
            status   sleeping VMs, due actions, pins, recent failures and SLA violations

            Every step is journaled in the store before it is taken; a run killed at any point and run again
            finishes or rolls forward each action once. One executor per host set at a time (a lock beside
            the store, released by the kernel if the holder dies).

            Exit codes: 0 ok (failures of single VMs are reported, see status); 1 runtime failure (store,
            lock); 2 usage; 3 nothing to do.
            """,
        subcommands: [Run.self, Wake.self, Pin.self, Unpin.self, Pause.self, Resume.self, Status.self],
        defaultSubcommand: Run.self)
}

func operatorName(_ by: String?) -> String {
    let env = ProcessInfo.processInfo.environment
    return by ?? env["SUDO_USER"] ?? env["USER"] ?? "unknown"
}

struct ExecutionFlags: ParsableArguments {
    @Option(name: .customLong("host"), help: "Act on this libvirt host URI only (repeatable; default: every host).") var hosts: [String] = []
    @Option(help: "A state pool directory: saved images go into it (delta snapshots), restores fall back to it.") var pool: String?
    @Option(help: "The state pool's capacity, e.g. 500GiB.") var poolCapacity = "1TiB"
    @Option(help: "Where libvirt keeps managed-save images.") var managedSaveDirectory = "/var/lib/libvirt/qemu/save"
    @Option(help: "Append every event as a JSON line to this file.") var eventLog: String?
    @Option(help: "Restores at once per host.") var concurrentRestores = 2
    @Option(help: "Seconds the pre-flight check samples a VM's CPU time over.") var loadInterval = 3.0

    func validate() throws {
        if pool != nil, ByteSize.parse(poolCapacity) == nil { throw ValidationError("--pool-capacity '\(poolCapacity)' is not a size such as 500GiB") }
        if concurrentRestores < 1 { throw ValidationError("--concurrent-restores must be at least 1") }
    }

    func options(now: EpochSeconds) -> ExecutionOptions {
        var o = ExecutionOptions(now: now)
        o.hosts = hosts.isEmpty ? nil : Set(hosts)
        o.pool = pool.map { ($0, ByteSize.parse(poolCapacity)!) }
        o.managedSaveDirectory = managedSaveDirectory
        o.eventLog = eventLog
        o.concurrentRestores = concurrentRestores
        return o
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply due actions (the job that runs every few minutes).")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Flag(help: "Decide and report; change nothing.") var dryRun = false
    @Flag(help: "Keep running, one pass every --interval.") var follow = false
    @Option(help: "Seconds between passes with --follow.") var interval = 60

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try common.openStore()
            let lock = try ExecutionLock(path: ExecutionLock.path(store: common.storePath, hosts: flags.hosts.isEmpty ? nil : Set(flags.hosts)))
            let executor = Executor(store: store, load: SampledLoad(interval: flags.loadInterval))
            var now = common.nowSeconds
            while true {
                var options = flags.options(now: now)
                options.dryRun = dryRun
                let events = try executor.run(options)
                if events.isEmpty { print("\(UTC.format(now)): nothing due") }
                guard follow else { break }
                Thread.sleep(forTimeInterval: Double(interval))
                now = common.now == nil ? EpochSeconds(Date().timeIntervalSince1970) : now + EpochSeconds(interval)
            }
            withExtendedLifetime(lock) {}
        }
    }
}

struct Wake: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a VM now, whatever the plans say.")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Argument(help: "The VM.") var vm: String
    @Option(help: "Who wakes it (default: $SUDO_USER, else $USER).") var by: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            let events = try Executor(store: try common.openStore()).wake(vm: vm, by: operatorName(by), options: flags.options(now: common.nowSeconds))
            if let failure = events.first(where: { $0.event == "failed" }) { throw ExecuteError(.runtime, failure.detail) }
        }
    }
}

struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Keep a VM awake: no hibernation until --until (or unpin); wakes it if asleep.")
    @OptionGroup var common: StageOptions
    @OptionGroup var flags: ExecutionFlags
    @Argument(help: "The VM.") var vm: String
    @Option(help: "Until when, ISO-8601 or a duration from now such as 8h (default: until unpinned).") var until: String?
    @Option(help: "Who pins it (default: $SUDO_USER, else $USER).") var by: String?

    func validate() throws {
        if let until, UTC.parseInstant(until) == nil, DurationText.seconds(until) == nil {
            throw ValidationError("--until '\(until)' is neither a time nor a duration such as 8h")
        }
    }

    func run() throws {
        try exitingOnError("torpor-execute") {
            let store = try common.openStore()
            let now = common.nowSeconds
            let end = until.map { UTC.parseInstant($0) ?? now + DurationText.seconds($0)! }
            try store.transaction { try JournalRepository.pin(PinRecord(vm: vm, until: end, pinnedBy: operatorName(by), pinnedAt: now), in: $0) }
            print("\(vm) pinned awake" + (end.map { " until \(UTC.format($0))" } ?? " until unpinned"))
            if try store.read({ try JournalRepository.power(in: $0)[vm] })?.state == .hibernated {
                let events = try Executor(store: store).wake(vm: vm, by: operatorName(by) + " (pin)", options: flags.options(now: now))
                if let failure = events.first(where: { $0.event == "failed" }) { throw ExecuteError(.runtime, failure.detail) }
            }
        }
    }
}

struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a VM's pin.")
    @OptionGroup var common: StageOptions
    @Argument(help: "The VM.") var vm: String

    func run() throws {
        try exitingOnError("torpor-execute") {
            try common.openStore().transaction { try JournalRepository.unpin(vm: vm, in: $0) }
            print("\(vm) unpinned")
        }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "No new hibernations fleet-wide; restores continue.")
    @OptionGroup var common: StageOptions
    @Option(help: "Who pauses (default: $SUDO_USER, else $USER).") var by: String?

    func run() throws {
        try exitingOnError("torpor-execute") {
            try ExecutorSettings.setPaused(true, by: operatorName(by), now: common.nowSeconds, in: try common.openStore())
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
            try ExecutorSettings.setPaused(false, by: operatorName(by), now: common.nowSeconds, in: try common.openStore())
            print("resumed")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sleeping VMs, due actions, pins, recent failures and violations.")
    @OptionGroup var common: StageOptions

    func run() throws {
        try exitingOnError("torpor-execute") { print(try ExecutionStatus.render(store: try common.openStore(), now: common.nowSeconds)) }
    }
}

import ArgumentParser
import Foundation
import GRDB
import Testing
import TorporCore
import TorporHash
import TorporIngest
import TorporStatePool
import TorporStore
import TorporTestSupport
@testable import torpor_ingest

/// The executable's commands, tested by parsing arguments and running them in-process.
@Suite struct CommandTests {
    @Test func flagsOverrideTheMappingFile() throws {
        let command = try CSVCommand.parse(["--mapping", Paths.mappings + "/nab-cpu.yaml", "--metric", "net_rx:bytes/5min",
                                            "--vm", "edge-01", "--time-unit", "ms", "x.csv"])
        let mapping = try command.effectiveMapping()
        #expect(mapping.layout == .wideMetrics)
        #expect(mapping.metrics == [.init(column: "value", metric: "net_rx", unit: "bytes/5min")])
        #expect(mapping.vm == .init(name: "edge-01"))
        #expect(mapping.time.unit == .ms)
    }

    /// `--metric` names a one-column wide-metrics mapping's metric anew; its values are read as the mapping says: its
    /// unit unless the flag gives one, its `valid` range kept (another unit than the range's is refused).
    @Test func aMetricFlagKeepsTheColumnsUnitAndValidRange() throws {
        let dir = try ScratchDirectory.make("torpor-mapping")
        let mapping = dir + "/fraction.yaml"
        try """
            layout: wide-metrics
            time: {column: timestamp, format: epoch}
            vm: {from: filename}
            metrics:
              - {column: value, metric: cpu_util, unit: fraction, valid: [0, 1]}
            """.write(toFile: mapping, atomically: true, encoding: .utf8)
        let renamed = try CSVCommand.parse(["--mapping", mapping, "--metric", "host_cpu", "x.csv"]).effectiveMapping()
        #expect(renamed.metrics == [.init(column: "value", metric: "host_cpu", unit: "fraction", valid: [0, 1])])
        let same = try CSVCommand.parse(["--mapping", mapping, "--metric", "host_cpu:fraction", "x.csv"]).effectiveMapping()
        #expect(same.metrics == [.init(column: "value", metric: "host_cpu", unit: "fraction", valid: [0, 1])])
        // Another unit would read the range, in the column's unit, wrongly (every reading out of it, say).
        let converted = #expect(throws: IngestError.self) { try CSVCommand.parse(["--mapping", mapping, "--metric", "host_cpu:percent", "x.csv"]).effectiveMapping() }
        #expect(converted?.description.contains("valid range [0.0, 1.0] is in fraction") == true, "\(String(describing: converted))")
    }

    @Test func withoutAMappingFilesAreLongFormat() throws {
        #expect(try CSVCommand.parse(["a.csv"]).effectiveMapping() == .defaultLong)
    }

    @Test func invalidFlagsAreUsageErrors() throws {
        #expect(throws: (any Error).self) { _ = try CSVCommand.parse(["--layout", "sideways", "a.csv"]) }
        #expect(throws: (any Error).self) { _ = try CSVCommand.parse(["--vm", "a", "--vm-from-filename", "a.csv"]) }
        #expect(throws: (any Error).self) { _ = try CSVCommand.parse([]) }
        #expect(throws: (any Error).self) { _ = try StatusCommand.parse(["--gap", "soon"]) }
        #expect(throws: (any Error).self) { _ = try StatusCommand.parse(["--now", "tomorrow"]) }
        // --replay allows a --now ahead of the clock where one is recorded (the ingests, prune), and is no flag elsewhere.
        #expect(try CSVCommand.parse(["--replay", "a.csv"]).replay.replay)
        #expect(try PruneCommand.parse(["--replay"]).replay.replay)
        #expect(throws: (any Error).self) { _ = try StatusCommand.parse(["--replay"]) }
        #expect(throws: (any Error).self) { _ = try ReleaseCommand.parse(["--replay", "web-01"]) }
    }

    /// Every tool, run as an operator runs it: a usage error exits 2 (the documented code for bad input), naming what
    /// is wrong; help exits 0.
    @Test func everyToolExitsTwoOnAUsageError() throws {
        func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let result = try runTool(tool, arguments)
            return (result.status, result.stderr)
        }
        for (tool, arguments, named) in [("torpor-ingest", ["csv", "--now", "garbage", "a.csv"], "garbage"), ("torpor-train", ["train", "--bogus"], "--bogus"),
                                         ("torpor-plan", ["make", "--now", "garbage"], "garbage"), ("torpor-plan", ["make", "--now", "20250330"], "20250330"), ("torpor-train", ["train", "--now", "2099-01-01T00:00:00Z"], "a run recorded then would be served as the newest"), ("torpor-execute", ["pin", "web-01", "--until", "soon"], "soon"),
                                         ("torpor-execute", ["run", "--load-interval", "0"], "--load-interval"),
                                         ("torpor-execute", ["run", "--load-source", "store", "--load-max-age", "0"], "--load-max-age must be above 0"),
                                         ("torpor-execute", ["run", "--replay", "--now", "2013-09-30T00:00:00Z", "--follow", "--until", "2013-09-29T01:00:00Z"],
                                          "--until 2013-09-29T01:00:00Z is not after --now 2013-09-30T00:00:00Z"),
                                         ("torpor-execute", ["run", "--now", "2013-09-30T00:00:00Z"], "is more than an hour from the clock: a run acts on the hosts' VMs as they are now"),
                                         ("torpor-train", ["train", "--history-days", "14"], "--history-days 14 leaves 168 hours"),
                                         ("torpor-ingest", ["prune", "--keep", "7d"], "--keep 7d is shorter than"),
                                         ("torpor-ingest", ["prune", "--sum-up-for", "soon"], "--sum-up-for 'soon' is not a duration such as 20m"),
                                         ("torpor-train", ["demote", "1"], "--reason"),
                                         ("torpor-train", ["train", "--stopping-every", "1"], "--stopping-every 1 holds out every training window"),
                                         ("torpor-train", ["train", "--threads", "0"], "--threads 0: give 1 to 256"),
                                         ("torpor-train", ["train", "--hidden", "5000"], "--hidden 1 to 4096"),
                                         ("torpor-backtest", ["--threads", "0"], "--threads 0: give 1 to 256"),
                                         ("torpor-ingest", ["prune", "--now", "2099-01-01T00:00:00Z"], "is ahead of the clock"),
                                         ("torpor-ingest", ["csv", "--now", "2099-01-01T00:00:00Z", "a.csv"], "nothing ingested"),
                                         ("torpor-ingest", ["libvirt", "--now", "2099-01-01T00:00:00Z", "--uri", "test:///default"], "nothing ingested"),
                                         ("torpor-ingest", ["inventory", "--now", "2099-01-01T00:00:00Z", "--uri", "test:///default"], "nothing ingested"),
                                         // Live readings stamped at another time: in the past too.
                                         ("torpor-ingest", ["libvirt", "--now", "2013-09-30T00:00:00Z", "--uri", "test:///default"], "reads the hosts as they are now"),
                                         ("torpor-ingest", ["inventory", "--now", "2013-09-30T00:00:00Z", "--uri", "test:///default"], "reads the hosts as they are now"),
                                         ("torpor-ingest", ["calendar", "--now", "2099-01-01T00:00:00Z", "a.ics"], "nothing ingested"),
                                         ("torpor-ingest", ["prometheus", "--now", "2099-01-01T00:00:00Z", "--prometheus-url", "http://127.0.0.1:1", "--query", "up"], "nothing ingested"),
                                         ("torpor-plan", ["approve", "plan.json", "--now", "2099-01-01T00:00:00Z"], "nothing approved"),
                                         ("torpor-plan", ["make", "--now", "2013-09-30T00:00:00Z"], "is more than an hour from the clock: the plan and its calls for demand would be recorded"),
                                         ("torpor-execute", ["pin", "web-01", "--until", "8h", "--now", "2013-09-30T00:00:00Z"], "is more than an hour from the clock: a pin keeps the VM awake from now"),
                                         ("torpor-execute", ["pin", "web-01", "--until", "2026-12-09T09:00"], "--until '2026-12-09T09:00' has no zone: give Z or an offset"),
                                         ("torpor-execute", ["pin", "web-01", "--until", "2026-12-09"], "--until '2026-12-09' has no zone"),
                                         // A replay's time read as UTC where the operator meant local hours would replay others.
                                         ("torpor-plan", ["make", "--dry-run", "--now", "2013-09-30T02:30"], "--now '2013-09-30T02:30' has no zone: give Z or an offset"),
                                         ("torpor-ingest", ["inventory", "--now", "2013-09-30", "--uri", "test:///default"], "--now '2013-09-30' has no zone"),
                                         ("torpor-backtest", ["--now", "2013-09-30T00:00:00Z", "--from", "2013-09-23"], "--from '2013-09-23' has no zone"),
                                         ("torpor-execute", ["run", "--follow", "--now", "2013-09-30T00:00:00Z", "--until", "2013-09-30T06:00", "--replay"], "--until '2013-09-30T06:00' has no zone"),
                                         ("torpor-execute", ["wake", "web-01", "--now", "2013-09-30T00:00:00Z"], "is more than an hour from the clock: a wake acts on the VM as it is now"),
                                         ("torpor-execute", ["wake"], "give the VM to wake, or --all (every VM asleep)"),
                                         ("torpor-execute", ["wake", "web-01", "--all"], "give a VM or --all, not both"),
                                         ("torpor-execute", ["wake", "web-01", "--label", "group=web"], "--label goes with --all"),
                                         ("torpor-execute", ["wake", "--all", "--label", "=web"], "--label '=web' is not key=value"),
                                         ("torpor-execute", ["wake", "--all", "--label", "group=web", "--label", "group=db"], "--label group is given twice"),
                                         ("torpor-execute", ["restore", "--from-pool", "--pool", "/p", "web-01", "--now", "2013-09-30T00:00:00Z"], "a wake acts on the VM as it is now"),
                                         ("torpor-execute", ["restore", "--from-pool", "--pool", "/p", "--host-gone", "web-01"], "--host-gone goes with --onto"),
                                         ("torpor-execute", ["restore", "--from-pool", "--pool", "/p", "--onto", "", "web-01"], "--onto is empty"),
                                         ("torpor-execute", ["pool", "status"], "give the state pool: --pool DIR (or TORPOR_STATE_POOL)"),
                                         ("torpor-backtest", ["--days", "0"], "days"),
                                         ("torpor-ingest", ["calendar", "--ahead", "0", "a.ics"], "--ahead '0' is no time at all")] {
            let (status, stderr) = try run(tool, arguments)
            #expect(status == 2, "\(tool) \(arguments): exit \(status)")
            #expect(stderr.contains(named), "\(tool): \(stderr)")
        }
        #expect(try run("torpor-plan", ["--help"]).status == 0)
        // Nothing to do where something specific was asked: exit 3, saying why.
        let s = try Scratch()
        // A person's command by hand uses the jobs' state pool and event log (pipelines/torpor.env) unless told otherwise.
        let jobs = ["TORPOR_STATE_POOL": s.dir + "/pool", "TORPOR_STATE_POOL_CAPACITY": "500GiB", "TORPOR_EVENT_LOG": s.dir + "/events.jsonl"]
        let status = try runTool("torpor-execute", ["pool", "status", "--db", s.store.path], environment: jobs)
        #expect(status.status == 0 && status.stdout.contains(s.dir + "/pool: 0 images") && status.stdout.contains("of 500.0 GiB"), "the environment's pool: \(status)")
        // A capacity there that is no size refuses no wake (a restore takes nothing into the pool); a run says it, starts
        // no hibernation, restores all the same, and fails after its pass.
        let big = jobs.merging(["TORPOR_STATE_POOL_CAPACITY": "big"]) { $1 }
        let bigWake = try runTool("torpor-execute", ["wake", "web-01", "--db", s.store.path], environment: big)
        #expect(bigWake.status == 2 && bigWake.stderr.contains("no VM named web-01") && !bigWake.stderr.contains("big"), "\(bigWake)")
        let bigRun = try runTool("torpor-execute", ["run", "--dry-run", "--db", s.store.path], environment: big)
        #expect(bigRun.status == 2 && bigRun.stderr.contains("the pass ran, but: TORPOR_STATE_POOL_CAPACITY 'big' is not a size such as 500GiB"), "\(bigRun)")
        // A relative pool among the jobs' settings (the jobs run from /, a person from anywhere: each would use another)
        // holds hibernations in a run (restores go on) and refuses the pool's commands; an empty --db (an unset variable)
        // is refused before any store is made (a relative $TORPOR_DB is install.sh's to refuse: PipelinesTests).
        let relativePool = jobs.merging(["TORPOR_STATE_POOL": "pool"]) { $1 }
        let relativeRun = try runTool("torpor-execute", ["run", "--dry-run", "--db", s.store.path], environment: relativePool)
        #expect(relativeRun.status == 2 && relativeRun.stderr.contains("the pass ran, but: TORPOR_STATE_POOL 'pool' is a relative path"), "\(relativeRun)")
        let relativeStatus = try runTool("torpor-execute", ["pool", "status", "--db", s.store.path], environment: relativePool)
        #expect(relativeStatus.status == 2 && relativeStatus.stderr.contains("TORPOR_STATE_POOL 'pool' is a relative path"), "\(relativeStatus)")
        let emptyIngest = try runTool("torpor-ingest", ["csv", "--db", "", "a.csv"])
        #expect(emptyIngest.status == 2 && emptyIngest.stderr.contains("--db is empty"), "\(emptyIngest)")
        // A relative $TORPOR_DB: the stage that makes a store refuses it (each directory would get its own), the executor
        // does not (its restores would stop).
        let relativeIngest = try runTool("torpor-ingest", ["csv", "a.csv"], environment: ["TORPOR_DB": "torpor.db"])
        #expect(relativeIngest.status == 2 && relativeIngest.stderr.contains("TORPOR_DB 'torpor.db' is a relative path"), "\(relativeIngest)")
        let emptyEnvironment = try runTool("torpor-ingest", ["csv", "a.csv"], environment: ["TORPOR_DB": ""])
        #expect(emptyEnvironment.status == 2 && emptyEnvironment.stderr.contains("TORPOR_DB is set but empty"), "\(emptyEnvironment)")
        let relativeStore = try runTool("torpor-execute", ["status"], environment: ["TORPOR_DB": "no-such-torpor.db"])
        #expect(relativeStore.stderr.contains("no store here") && !relativeStore.stderr.contains("is a relative path"), "looked for: \(relativeStore)")
        // A wake without a store to read says how libvirt wakes the VM without torpor.
        let noStore = try runTool("torpor-execute", ["wake", "web-01", "--host", "qemu:///system", "--db", s.dir + "/no-such.db"])
        #expect(noStore.status == 1 && noStore.stderr.contains("the store cannot be opened (") && noStore.stderr.contains("virsh -c qemu:///system start web-01")
                && noStore.stderr.contains("domstate --reason web-01 says paused (user) or (saving)"), "\(noStore)")
        // A time with its zone passes the pin's check (refused here for the store it names, not for the time).
        for zoned in ["2026-12-09T09:00-05:00", "2026-12-09T14:00:00Z", "2026-12-09 09:00+01:00", "2026-12-09Z"] {
            let pinned = try runTool("torpor-execute", ["pin", "web-01", "--until", zoned, "--db", s.dir + "/no-such.db"])
            #expect(!pinned.stderr.contains("has no zone") && pinned.stderr.contains("no-such.db"), "\(zoned): \(pinned)")
        }
        let emptyDB = try runTool("torpor-execute", ["status", "--db", ""])
        #expect(emptyDB.status == 2 && emptyDB.stderr.contains("--db is empty"), "\(emptyDB)")
        // A demand signal's flags that cannot be used stop no pass (restores are never blocked): said, and the run fails after it.
        let signal = try runTool("torpor-execute", ["run", "--dry-run", "--db", s.store.path, "--wake-on", "bogus"])
        #expect(signal.status == 2 && signal.stderr.contains("the pass ran, but: --wake-on 'bogus' is not VM=QUERY or label=value=QUERY: not asked; "
                                                             + "--wake-on needs --prometheus URL: no demand signal asked"), "\(signal)")
        // A back-dated approval would find an expired plan in force: refused without --replay, before any plan is read.
        let backDated = try run("torpor-plan", ["approve", s.dir + "/plan.json", "--now", "2013-09-30T00:00:00Z", "--db", s.store.path])
        #expect(backDated.status == 2 && backDated.stderr.contains("is more than an hour from the clock: nothing approved; give --replay"), "\(backDated)")
        let replayed = try run("torpor-plan", ["approve", s.dir + "/plan.json", "--now", "2013-09-30T00:00:00Z", "--replay", "--db", s.store.path])
        #expect(replayed.status == 2 && replayed.stderr.contains("plan.json"), "with --replay the plan is read: \(replayed)")
        // status is shown whatever becomes of the jobs' policy (the incident's view): one that cannot be read is said.
        let statusWithoutPolicy = try runTool("torpor-execute", ["status", "--db", s.store.path], environment: ["TORPOR_POLICY": s.dir + "/gone.yaml"])
        #expect(statusWithoutPolicy.status == 0 && statusWithoutPolicy.stderr.contains("gone.yaml") && statusWithoutPolicy.stderr.contains("are not listed"),
                "\(statusWithoutPolicy)")
        let unpin = try run("torpor-execute", ["unpin", "web-01", "--db", s.store.path])
        #expect(unpin.status == 3 && unpin.stderr.contains("web-01 has no pin"), "\(unpin)")
        // check's metrics (the watch's) from the same check: a file that cannot be written is said, the check stands.
        let unwritten = try runTool("torpor-execute", ["check", "--db", s.store.path, "--metrics-file", s.dir + "/no-such-dir/torpor.prom"])
        #expect(unwritten.status == 0 && unwritten.stderr.contains("warning: \(s.dir)/no-such-dir/torpor.prom: the metrics cannot be written"), "\(unwritten)")
        let written = try runTool("torpor-execute", ["check", "--db", s.store.path, "--metrics-file", s.dir + "/torpor.prom"])
        #expect(written.status == 0 && ((try? String(contentsOfFile: s.dir + "/torpor.prom", encoding: .utf8)) ?? "").contains("torpor_problems{kind=\"asleep_past_restore\"} 0"),
                "\(written)")
        let noneAsleep = try run("torpor-execute", ["wake", "--all", "--label", "group=web", "--db", s.store.path])
        #expect(noneAsleep.status == 3 && noneAsleep.stderr.contains("no VM labelled group=web is asleep"), "\(noneAsleep)")
        // A host that cannot be asked which VMs it holds saved: named, exit 1 (what sleeps there is not known to be awake).
        let lost = try Scratch(), nowhere = "test://" + lost.dir + "/no-such-fleet.xml"
        try lost.store.transaction { try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: $0, now: 0), hostURI: nowhere, labels: [:], in: $0) }
        for dryRun in [[], ["--dry-run"]] {
            let stopped = try run("torpor-execute", ["wake", "--all", "--db", lost.store.path] + dryRun)
            #expect(stopped.status == 1 && stopped.stderr.contains("hosts whose wake stopped (why: above): \(nowhere)"), "\(dryRun) \(stopped)")
        }
        // Stages that read what torpor-ingest recorded refuse a store that is not there (a wrong --db), creating nothing.
        for (tool, arguments) in [("torpor-train", ["list"]), ("torpor-plan", ["list"]), ("torpor-backtest", []), ("torpor-ingest", ["status"]), ("torpor-ingest", ["prune"])] {
            let missing = s.dir + "/missing.db"
            let (status, stderr) = try run(tool, arguments + ["--db", missing])
            #expect(status == 1 && stderr.contains("no store here"), "\(tool): \(status) \(stderr)")
            #expect(!FileManager.default.fileExists(atPath: missing), "\(tool) created no store")
            #expect(!FileManager.default.fileExists(atPath: missing + ".reserve"), "\(tool) kept no room beside it")
        }
        // A message that cannot be written (stderr on a full disk) is dropped: the command goes on and exits as it
        // would have (it had crashed, which in the executor stopped every host's restores).
        for (tool, command) in [("torpor-execute", "status"), ("torpor-ingest", "status"), ("torpor-plan", "list"), ("torpor-train", "list")] {
            #expect(try runTool(tool, [command, "--db", s.dir + "/missing.db"], stderrTo: "/dev/full").status == 1, "\(tool)")
        }
        // Another program's database is no store: refused, not given torpor's tables.
        let other = s.dir + "/other.db"
        try DatabaseQueue(path: other).write { try $0.execute(sql: "CREATE TABLE users (id INTEGER)") }
        let notAStore = try run("torpor-execute", ["check", "--db", other])
        #expect(notAStore.status == 1 && notAStore.stderr.contains("not a torpor store (it holds the tables users)"), "\(notAStore)")
        #expect(try run("torpor-plan", ["standing", "off", "--db", other]).status == 1)
        #expect(!FileManager.default.fileExists(atPath: other + ".reserve"), "no room kept beside what is no store")
        // A backtest finds a place it cannot write before its replay, not after (a missing directory is created).
        let file = try s.write("file", "")
        let unwritable = try run("torpor-backtest", ["--db", s.store.path, "--json", file + "/sub/out.json"])
        #expect(unwritable.status == 2 && unwritable.stderr.contains("--json \(file)/sub/out.json: \(file) is not a directory this user can write"), "\(unwritable)")
        let directory = try run("torpor-backtest", ["--db", s.store.path, "--html", s.dir])
        #expect(directory.status == 2 && directory.stderr.contains("--html \(s.dir) is a directory"), "\(directory)")
        // A policy torpor-plan make would refuse (once merged, a VM would sleep under a threshold above its wake-up one)
        // is refused by the backtest too, not replayed.
        try s.store.transaction { db in
            try VMRepository.setPlacement(vm: try VMRepository.id(of: "web-01", in: db, now: 0), hostURI: "test:///default", labels: ["group": "db"], in: db)
        }
        let conflicting = try s.write("policy.yaml", """
            tiers: {silver: {quantile: 0.9, priority: 2}}
            groups: [{match: {group: db}, restore_above: 8}]
            vms: {web-01: {hibernate_below: 10}}
            """)
        let refused = try run("torpor-backtest", ["--db", s.store.path, "--policy", conflicting])
        #expect(refused.status == 2 && refused.stderr.contains("\(conflicting): web-01: hibernate_below 10.0 is above restore_above 8.0"), "\(refused)")
    }

    /// A look at a full filesystem (status, check, the watch's every 5 minutes) keeps the room kept beside the store for
    /// the executor's restores, while another process holds the store open (a following executor) so that it opens
    /// without it, or between runs; it gives it back only when the store cannot be opened otherwise. (Needs root, for the tmpfs.)
    @Test func aLookAtAFullFilesystemKeepsTheExecutorsRoom() throws {
        let disk = try SmallFilesystem(megabytes: 48)
        let path = disk.path + "/torpor.db", reserve = StoreReserve(store: path)
        var executor: Store? = try Store(path: path, reserve: .kept)
        #expect(reserve.isHeld, "made by a stage")
        try disk.fill()
        let check = try runTool("torpor-execute", ["check", "--db", path])
        #expect(check.status == 4 && check.stdout.contains("\(path): FILESYSTEM FULL") && !check.stderr.contains("is given back"), "\(check)")
        #expect(try runTool("torpor-execute", ["status", "--db", path]).status == 0)
        #expect(try runTool("torpor-execute", ["metrics", "--db", path]).status == 0)
        #expect(reserve.isHeld, "a look gives none of the executor's room away")
        withExtendedLifetime(executor) {}
        // No process holds the store open, its log and shared memory gone (torpor keeps them when it closes, for
        // reviewers: an older torpor's store, or one copied alone): on the full disk it cannot be opened without the
        // room, which is then given back.
        executor = nil
        disk.empty()
        _ = try Store(path: path)
        #expect(FileManager.default.fileExists(atPath: path + "-shm") && FileManager.default.fileExists(atPath: path + "-wal"), "kept")
        // No process holds it open, its log left empty by the last to close, as between cron runs: GRDB writes to an
        // empty log at open, which had failed on the full disk, every look then giving the room away. It opens
        // read-only: the looks work and keep the room, and a write is refused, saying why.
        try disk.fill()
        let between = try runTool("torpor-execute", ["check", "--db", path])
        #expect(between.status == 4 && between.stdout.contains("\(path): FILESYSTEM FULL") && !between.stderr.contains("is given back"), "\(between)")
        #expect(try runTool("torpor-execute", ["status", "--db", path]).status == 0)
        let list = try runTool("torpor-plan", ["list", "--db", path])
        #expect(list.status == 0, "\(list)")
        #expect(reserve.isHeld, "a look between runs gives none of the executor's room away")
        let reader = try Store(path: path)
        let write = #expect(throws: StoreError.self) { try reader.transaction { try $0.execute(sql: "DELETE FROM vm") } }
        #expect(write?.message.contains("cannot write: opened read-only, its filesystem being full") == true, "\(String(describing: write))")
        disk.empty()
        for file in [path + "-wal", path + "-shm"] { try FileManager.default.removeItem(atPath: file) }
        try disk.fill()
        let alone = try runTool("torpor-execute", ["check", "--db", path])
        #expect(alone.status == 4 && alone.stdout.contains("\(path): FILESYSTEM FULL") && alone.stderr.contains("is given back"), "\(alone)")
        #expect(!reserve.isHeld)
    }

    @Test func csvRunStoresGoodFilesAndExitsTwoForBadOnes() throws {
        let s = try Scratch()
        let good = try s.write("good.csv", "vm,metric,time,value\nweb-01,cpu_util,2024-03-01T00:00:00Z,12.5\n")
        let bad = try s.write("bad.csv", "vm,metric,time,value\nweb-02,cpu_util,2024-03-01T00:00:00Z,twelve\n")
        var command = try CSVCommand.parse(["--db", s.store.path, "--now", "2025-01-01T00:00:00Z", good, bad])
        let error = #expect(throws: ExitCode.self) { try command.run() }
        #expect(error == ExitCode(2))
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 3, day: 1)) == 12.5)
        #expect(try s.count("SELECT count(*) FROM vm WHERE name = 'web-02'") == 0)

        command = try CSVCommand.parse(["--db", s.store.path, "--now", "2025-01-01T00:00:00Z", good])
        try command.run()   // the same file again: nothing to add, not an error
        #expect(try s.count() == 1)

        // With --json, one line per file, the bad one's too (what failed, where, why), for a machine to read.
        let json = try runTool("torpor-ingest", ["csv", "--db", s.store.path, "--now", "2025-01-01T00:00:00Z", "--json", good, bad])
        #expect(json.status == 2 && json.stderr.contains("\(bad):2:"), "\(json)")
        let lines = json.stdout.split(separator: "\n").map { Data($0.utf8) }
        #expect(lines.count == 2, "\(json.stdout)")
        #expect(try JSONDecoder().decode(IngestReport.self, from: lines[0]).outcome == .unchanged)
        let failure = try JSONDecoder().decode(IngestError.Report.self, from: lines[1])
        #expect(failure.path == bad && failure.outcome == "bad-input" && failure.line == 2 && failure.error.contains("twelve"), "\(failure)")
    }

    /// `release`: a known VM loses its domain and host; an unknown name is bad input (exit 2), and nothing changes; a
    /// second release has nothing to do (exit 3).
    @Test func releaseFreesAKnownVMsNameAndRefusesAnUnknownOne() throws {
        let s = try Scratch()
        try s.store.transaction { db in
            try VMRepository.setHost(vm: try VMRepository.id(of: "web-01", in: db, now: replayNow), hostURI: "qemu+ssh://dead/system", in: db)
        }
        let unknown = #expect(throws: ExitCode.self) { let c = try ReleaseCommand.parse(["--db", s.store.path, "web-9"]); try c.run() }
        #expect(unknown == ExitCode(2))
        #expect(try s.store.read { try VMRepository.all(in: $0) }.first?.hostURI == "qemu+ssh://dead/system")
        let command = try ReleaseCommand.parse(["--db", s.store.path, "web-01"])
        try command.run()
        #expect(try s.store.read { try VMRepository.all(in: $0) }.first?.hostURI == nil)
        let again = #expect(throws: ExitCode.self) { try command.run() }
        #expect(again == ExitCode(3))
    }

    /// `--ahead 0` is refused: an empty window had replaced the calendar's upcoming events with none (exit 0, a
    /// warning). `--past 0` is a window from --now on.
    @Test func anEmptyCalendarWindowIsRefused() throws {
        for ahead in ["0", "0d", "0s"] {
            let error = #expect(throws: (any Error).self) { _ = try CalendarCommand.parse(["--ahead", ahead, "a.ics"]) }
            #expect(error.map { CalendarCommand.message(for: $0) }?.contains("--ahead '\(ahead)' is no time at all") == true)
        }
        _ = try CalendarCommand.parse(["--past", "0", "a.ics"])
    }

    /// A calendar read again with a mapping of several categories is "unchanged": the mapping's part of its identity had
    /// been the dictionary's description, in another order in each process, so every hourly ingest replaced it again.
    @Test func aCalendarWithACategoryMappingIsUnchangedInTheNextProcess() throws {
        let s = try Scratch()
        let mapping = try s.write("categories.yaml", "categories:\n" + ["release", "nightly", "audit", "outage", "launch-week", "patch", "drill", "sprint"]
            .enumerated().map { "  \($1): \(["demand", "keep-awake", "freeze"][$0 % 3])\n" }.joined())
        let calendar = try s.write("team.ics", CalendarIngestTests.calendar(summary: "Launch", rule: "FREQ=DAILY;COUNT=3"))
        let arguments = ["calendar", "--db", s.store.path, "--now", "2013-09-30T00:00:00Z", "--mapping", mapping, "--json", calendar]
        let first = try runTool("torpor-ingest", arguments)
        #expect(first.status == 0, "\(first)")
        for _ in 0..<3 {
            let again = try runTool("torpor-ingest", arguments)
            #expect(try JSONDecoder().decode(IngestReport.self, from: Data(again.stdout.utf8)).outcome == .unchanged, "\(again)")
        }
    }

    @Test func statusRunsOnAStore() throws {
        let s = try Scratch()
        _ = try CSVIngester(store: s.store).ingest(path: try s.write("a.csv", "vm,metric,time,value\nv,cpu_util,1380000000,1\n"), mapping: .defaultLong, now: replayNow)
        let command = try StatusCommand.parse(["--db", s.store.path, "--json"])
        try command.run()
    }

    @Test func statusTableShowsCoverage() {
        let table = StatusTable.render([
            .init(vm: "web-01", hostURI: nil, vcpus: 2, memoryBytes: 4 << 30, metrics: ["cpu_util"], samples: 12,
                  firstTime: 0, lastTime: 3300, gaps: 1, gapSeconds: 7200, sources: ["/a.csv"]),
        ])
        let lines = table.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("VM"))
        #expect(lines[1].contains("web-01") && lines[1].contains("4096 MiB") && lines[1].contains("2.0h") && lines[1].contains("1970-01-01T00:55:00Z"))
    }

    /// `wake --all` whose store cannot be opened (a damaged file, a full disk) wakes what libvirt holds saved on the
    /// hosts given (`--host`, else TORPOR_LIBVIRT_URI) without torpor's records, by the domains' own labels: a saved
    /// domain whose UUID runs on another of the hosts is left (two copies would write its disks), exit 1 naming it.
    @Test func wakeAllWithoutTheStoreWakesWhatLibvirtHoldsSaved() throws {
        let s = try Scratch()
        func domain(_ name: String, uuid: String, saved: Bool, state: Int = 5, team: String) -> String {
            """
              <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
                <name>\(name)</name><uuid>\(uuid)</uuid><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os>
                <metadata><torpor:labels xmlns:torpor='\(InventoryIngester.labelsNamespace)'>team=\(team)</torpor:labels></metadata>
                <test:runstate>\(state)</test:runstate>\(saved ? "<test:hasmanagedsave>yes</test:hasmanagedsave>" : "")
              </domain>
            """
        }
        let one = "test://" + (try s.write("one.xml", "<node>" + domain("web-01", uuid: "11111111-0000-0000-0000-000000000001", saved: true, team: "web")
            + domain("db-01", uuid: "11111111-0000-0000-0000-000000000002", saved: true, team: "db")
            + domain("copy-01", uuid: "11111111-0000-0000-0000-000000000003", saved: true, team: "web")
            + domain("off-01", uuid: "11111111-0000-0000-0000-000000000004", saved: false, team: "web") + "</node>"))
        let two = "test://" + (try s.write("two.xml", "<node>" + domain("copy-01", uuid: "11111111-0000-0000-0000-000000000003", saved: false, state: 1, team: "web")
            + domain("paused-01", uuid: "11111111-0000-0000-0000-000000000005", saved: false, state: 3, team: "web") + "</node>"))
        let missing = s.dir + "/gone/torpor.db"
        let web = try runTool("torpor-execute", ["wake", "--all", "--db", missing, "--host", one, "--host", two, "--label", "team=web"])
        #expect(web.status == 1 && web.stderr.contains("the store cannot be opened") && web.stderr.contains("woke web-01 on \(one)\n"), "\(web)")
        #expect(web.stderr.contains("not woken: copy-01 on \(one): its domain (11111111-0000-0000-0000-000000000003) is on \(two) too"), "\(web.stderr)")
        #expect(web.stderr.contains("not resumed: paused-01 on \(two): paused ") && web.stderr.contains("virsh -c \(two) resume paused-01"), "\(web.stderr)")
        #expect(!web.stderr.contains("db-01") && !web.stderr.contains("woke off-01") && web.stderr.contains("woke 1; not woken 1 (above)"), "\(web.stderr)")
        // A host that does not answer: nothing started (a copy there cannot be ruled out), each saved VM named with its virsh start.
        let down = try runTool("torpor-execute", ["wake", "--all", "--db", missing, "--host", one, "--host", "test:///nonexistent.xml"])
        #expect(down.status == 1 && down.stderr.contains("nothing started") && down.stderr.contains("virsh -c \(one) start web-01") && down.stderr.contains("woke 0;"),
                "\(down)")
        let all = try runTool("torpor-execute", ["wake", "--all", "--dry-run", "--db", missing], environment: ["TORPOR_LIBVIRT_URI": "\t" + one + "\n"])
        #expect(all.status == 0 && all.stderr.contains("would wake db-01 on \(one)") && all.stderr.contains("would wake copy-01 on \(one)")
                && all.stderr.contains("would wake 3; not woken 0"), "\(all)")
        let nowhere = try runTool("torpor-execute", ["wake", "--all", "--db", missing])
        #expect(nowhere.status == 2 && nowhere.stderr.contains("give the hosts to wake on"), "\(nowhere)")
    }

    /// `torpor-execute pool verify --repair` asks each sleep's host whether libvirt holds its image before it unlinks
    /// the sleep's copy from a chunk lost: held, the copy is unlinked for the executor to take the image again; not held
    /// (a host that crashed with it), the copy stays linked and is named: it may be all there is of the VM's memory.
    @Test func poolRepairUnlinksOnlySleepsLibvirtHoldsAnImageOf() throws {
        let s = try Scratch()
        let host = "test://" + (try s.write("host.xml", """
            <node>
              <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
                <name>kept</name><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os>
                <test:runstate>5</test:runstate><test:hasmanagedsave>yes</test:hasmanagedsave>
              </domain>
              <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
                <name>lost</name><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os><test:runstate>5</test:runstate>
              </domain>
              <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
                <name>cut</name><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os>
                <test:runstate>5</test:runstate><test:hasmanagedsave>yes</test:hasmanagedsave>
              </domain>
            </node>
            """))
        let pool = try StatePool(directory: s.dir + "/pool", capacityBytes: 1 << 30, store: s.store)
        for (i, vm) in ["kept", "lost", "cut"].enumerated() {
            var generator = SystemRandomNumberGenerator()
            let image = try s.write(vm + ".save", String((0..<200_000).map { _ in Character(UnicodeScalar(UInt8.random(in: 97...122, using: &generator))) }))
            let taken = try pool.take(image: image, vm: vm, diskIdentity: "d", now: Int64(i + 1))
            try s.store.transaction { db in
                try JournalRepository.setPower(PowerRecord(vm: vm, host: host, state: .hibernated, since: 1, actionID: "a-\(vm)"), in: db)
                #expect(try JournalRepository.linkManifest(taken.manifestID, vm: vm, actionID: "a-\(vm)", in: db))
            }
            let hex = SHA256.hex(try pool.latest(vm: vm).chunks[0].hash)
            try FileManager.default.removeItem(atPath: s.dir + "/pool/chunks/" + String(hex.prefix(2)) + "/" + hex)
        }
        // libvirt's images as a restore would find them: kept's whole (a finished save's header), lost's gone, cut's a
        // save that stopped (libvirt's flag still says it holds one).
        try FileManager.default.createDirectory(atPath: s.dir + "/save", withIntermediateDirectories: false)
        try (Data("LibvirtQemudSave".utf8) + Data(count: 80 + 4096)).write(to: URL(fileURLWithPath: s.dir + "/save/kept.save"))
        try (Data("LibvirtQemudPart".utf8) + Data(count: 80 + 4096)).write(to: URL(fileURLWithPath: s.dir + "/save/cut.save"))
        let repaired = try runTool("torpor-execute", ["pool", "verify", "--repair", "--pool", s.dir + "/pool", "--db", s.store.path,
                                                      "--managed-save-directory", s.dir + "/save"])
        #expect(repaired.status == 1 && repaired.stdout.contains("3 missing"), "\(repaired)")
        #expect(repaired.stdout.contains("for the executor's next pass to take libvirt's image into the pool again: kept\n"), "\(repaired.stdout)")
        #expect(repaired.stdout.contains("LEFT LINKED") && repaired.stdout.hasSuffix("written again by a take of another image holding it: cut, lost\n"), "\(repaired.stdout)")
        let linked = try s.store.read { try JournalRepository.power(in: $0) }.mapValues { $0.manifestID != nil }
        #expect(linked == ["kept": false, "lost": true, "cut": true])
    }
}

import Foundation
import GRDB
import Testing
import TorporCore
import TorporPlan
import TorporTestSupport
@testable import TorporStore

/// The jobs of pipelines/ as cron runs them: installed by install.sh (under a DESTDIR) with the tools built beside these
/// tests, on the demo fleet, replayed at the end of the sample data (`TORPOR_NOW`).
@Suite struct PipelinesTests {
    /// Runs `path` with `arguments` and only `environment`; its exit status and what it printed.
    func run(_ path: String, _ arguments: [String] = [], environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// A failed ingest reaches a person and the hour is planned all the same; hibernations no approval covers are a
    /// notice naming how many; a plan that cannot be made is a notice and a failed job.
    /// The demo store, and torpor installed by install.sh under a DESTDIR in its folder (`root`), with the tools built
    /// beside these tests.
    func installed() throws -> (dir: String, store: Store, root: String) {
        let (dir, store) = try EndToEndTests.demoStore(trained: false)
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let root = dir + "/root", repository = EndToEndTests.repository
        let install = try run(repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(install.status == 0, "\(install.output)")
        for path in ["/usr/local/bin/torpor-plan", "/usr/local/lib/torpor/hourly.sh", "/usr/local/lib/torpor/notify.sh", "/usr/local/lib/torpor/watch.sh",
                     "/etc/torpor/torpor.env", "/var/log/torpor", "/var/lib/torpor/plans", "/usr/local/lib/systemd/system/torpor-execute.service",
                     "/usr/local/lib/systemd/system/torpor-watch.timer", "/usr/local/lib/systemd/system/torpor-settings.path",
                     "/usr/local/lib/torpor/check-env.sh", "/usr/local/lib/torpor/cron"] {
            #expect(FileManager.default.fileExists(atPath: root + path), "\(path) installed")
        }
        #expect(try run(repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"]).output
            .contains("kept \(root)/etc/torpor/torpor.env"), "installed again: the settings are kept")
        return (dir, store, root)
    }

    /// A reviewer who is not root but in group torpor shows and approves the hourly job's plan and reads status and check
    /// as root does, but makes no file beside the store: install.sh gives the group the store's folder (root:torpor 2750)
    /// and the store an older torpor made, and a store made there anew is the group's (SQLite alone would leave it
    /// read-only to them). Under DESTDIR install.sh makes no group: made here first, as a package would.
    @Test func aReviewerInTheTorporGroupNeedsNoRoot() throws {
        let (dir, store) = try EndToEndTests.demoStore(trained: false)
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let root = dir + "/root", repository = EndToEndTests.repository, db = root + "/var/lib/torpor/torpor.db"
        try FileManager.default.createDirectory(atPath: root + "/var/lib/torpor", withIntermediateDirectories: true)
        try store.pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [db]) }   // an older torpor's: 0644, root's group,
        try DatabaseQueue(path: db).writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }   // its -wal and -shm gone
        if getgrnam("torpor") == nil { _ = try run("/usr/sbin/groupadd", ["--system", "torpor"], environment: [:]) }
        let install = try run(repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(install.status == 0, "\(install.output)")
        let gid = try #require(getgrnam("torpor")).pointee.gr_gid
        func mode(_ path: String) -> (mode: mode_t, gid: gid_t) {
            var info = stat()
            return stat(path, &info) == 0 ? (info.st_mode & 0o7777, info.st_gid) : (0, 0)
        }
        #expect(mode(root + "/var/lib/torpor") == (0o2750, gid) && mode(root + "/var/lib/torpor/plans") == (0o2750, gid) && mode(db) == (0o660, gid))
        let environment = ["TORPOR_DB": db, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_PLANS": root + "/var/lib/torpor/plans",
                           "TORPOR_POLICY": repository + "/sample-data/policy.yaml", "TORPOR_NOTIFY": "cat >> '\(dir)/notices'", "TORPOR_NOW": EndToEndTests.now,
                           "TORPOR_LIBVIRT_URI": "test://" + repository + "/sample-data/fleet.xml", "PATH": "/usr/bin:/bin"]
        /// `tool` run as nobody, in group torpor or in none.
        func reviewer(_ tool: String, _ arguments: [String], inGroup: Bool = true, environment: [String: String] = environment) throws -> (status: Int32, output: String) {
            try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", inGroup ? "--groups=\(gid)" : "--clear-groups", root + "/usr/local/bin/" + tool] + arguments,
                    environment: environment)
        }
        // The older store's -wal and -shm made by install.sh: a member opens it before any stage has.
        let first = try reviewer("torpor-execute", ["status", "--now", EndToEndTests.now])
        #expect(first.status == 0 && mode(db + "-wal") == (0o660, gid) && mode(db + "-shm") == (0o660, gid), "\(first.output)")
        let hourly = try run("/bin/bash", ["-c", "umask 077; exec " + root + "/usr/local/lib/torpor/hourly.sh"], environment: environment)   // a sudo's umask
        #expect(hourly.status == 0, "\(hourly.output)")
        let plan = root + "/var/lib/torpor/plans/plan-20130930T000000Z.json"
        #expect(mode(plan) == (0o644, gid), "the group reads it, whatever the umask")
        let outsider = try reviewer("torpor-plan", ["list"], inGroup: false)
        #expect(outsider.status == 1 && outsider.output.contains("\(db): permission denied"), "\(outsider.output)")
        let shown = try reviewer("torpor-plan", ["show", plan])
        #expect(shown.status == 0 && shown.output.contains("hibernate"), "\(shown.output)")
        // The notice's approval line names the store and the jobs' policy: it serves without the jobs' environment.
        let notice = try String(contentsOfFile: dir + "/notices", encoding: .utf8)
        let line = try #require(notice.components(separatedBy: "approve: ").last?.split(separator: "\n").first).split(separator: " ").map(String.init)
        #expect(line == ["torpor-plan", "approve", plan, "--db", db, "--policy", repository + "/sample-data/policy.yaml"], "\(notice)")
        let approved = try reviewer("torpor-plan", Array(line.dropFirst()) + ["--now", EndToEndTests.now, "--replay"], environment: [:])
        #expect(approved.status == 0, "\(approved.output)")
        #expect(try Store(path: db).read { try Approvals.awaitingReview(Plan.load(path: plan).plan, in: $0) }.isEmpty)
        for command in [["status", "--now", EndToEndTests.now], ["check", "--now", EndToEndTests.now]] {
            let asRoot = try run(root + "/usr/local/bin/torpor-execute", command, environment: environment), asReviewer = try reviewer("torpor-execute", command)
            #expect(asReviewer.status == asRoot.status && asReviewer.output == asRoot.output, "\(command[0]): \(asReviewer.output) vs \(asRoot.output)")
        }
        // A member's check cannot make the reserve kept beside the store: it leaves that to root's (the watch's).
        try FileManager.default.removeItem(atPath: db + ".reserve")
        let noReserve = try reviewer("torpor-execute", ["check", "--now", EndToEndTests.now])
        #expect(!noReserve.output.contains("NO ROOM KEPT"), "\(noReserve.output)")
        // Nothing of the reviewer's beside the store (a link planted there would be written through by root).
        let planted = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--groups=\(gid)", "/usr/bin/ln", "-s", "/etc/shadow", root + "/var/lib/torpor/planted"],
                              environment: environment)
        #expect(planted.status != 0 && planted.output.contains("Permission denied"), "\(planted.output)")
        // A store the jobs make anew (the collector's first run) is the group's to write.
        var fresh = environment
        fresh["TORPOR_DB"] = root + "/var/lib/torpor/new.db"
        let collected = try run(root + "/usr/local/lib/torpor/collect.sh", environment: fresh)
        #expect(collected.status == 0 && mode(root + "/var/lib/torpor/new.db") == (0o660, gid), "\(collected.output)")
        #expect(try reviewer("torpor-execute", ["status", "--now", EndToEndTests.now], environment: fresh).status == 0, "its -wal and -shm kept for the group")
        // Removed (an older torpor's last close, a plain sqlite3 backup): a member is told what makes them.
        for file in ["-wal", "-shm"] { try FileManager.default.removeItem(atPath: fresh["TORPOR_DB"]! + file) }
        let missing = try reviewer("torpor-execute", ["status", "--now", EndToEndTests.now], environment: fresh)
        #expect(missing.status != 0 && missing.output.contains("its -wal and -shm files are missing and this user may not make them beside it"), "\(missing.output)")
        // A store a migration behind (torpor upgraded, no root stage run since): a member may not take the lock one
        // migration at a time holds (root's, or none made yet), and migrated without it, racing root's stages; refused,
        // saying what to do, until a root stage has migrated it.
        var older = environment
        older["TORPOR_DB"] = root + "/var/lib/torpor/older.db"
        let queue = try DatabaseQueue(path: older["TORPOR_DB"]!)
        try Schema.migrator.migrate(queue, upTo: "v8: the cause of a plan's restore")
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        try queue.close()
        for file in ["", "-wal", "-shm"] {   // as install.sh leaves an older torpor's store
            if !FileManager.default.fileExists(atPath: older["TORPOR_DB"]! + file) { _ = FileManager.default.createFile(atPath: older["TORPOR_DB"]! + file, contents: Data()) }
            #expect(chown(older["TORPOR_DB"]! + file, 0, gid) == 0 && chmod(older["TORPOR_DB"]! + file, 0o660) == 0)
        }
        let behind = try reviewer("torpor-plan", ["list"], environment: older)
        #expect(behind.status == 1 && behind.output.contains("this store's schema must be upgraded, one stage at a time under this lock, which this user cannot take"),
                "\(behind.output)")
        #expect(try run(root + "/usr/local/bin/torpor-plan", ["list"], environment: older).status == 0)
        #expect(try reviewer("torpor-plan", ["list"], environment: older).status == 0, "migrated by root")
    }

    /// install.sh refuses settings bash cannot read (cron's jobs would not run: each loads them with errors fatal), and
    /// installs the logs' rotation.
    @Test func installRefusesSettingsBashCannotRead() throws {
        let (_, _, root) = try installed()
        #expect(FileManager.default.fileExists(atPath: root + "/etc/logrotate.d/torpor"))
        let env = root + "/etc/torpor/torpor.env"
        try (String(contentsOfFile: env, encoding: .utf8) + "TORPOR_CALENDARS=/etc/torpor/a.ics /etc/torpor/b.ics\n").write(toFile: env, atomically: true, encoding: .utf8)
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let refused = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(refused.status == 2 && refused.output.contains("torpor.env cannot be read by bash") && refused.output.contains("b.ics"), "\(refused.output)")
        // Lines bash reads without a word but systemd's EnvironmentFile= reads otherwise (a comment kept in the value,
        // an export dropped, $VAR not expanded) are refused, each by its line.
        let shipped = try String(contentsOfFile: EndToEndTests.repository + "/pipelines/torpor.env", encoding: .utf8)
        let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).count
        for (line, name) in [("TORPOR_STATE_POOL_CAPACITY=500GiB  # its own filesystem", "# its own"), ("export TORPOR_TRAIN_THREADS=2", "export"),
                             ("TORPOR_PLANS=$HOME/plans", "$HOME"), ("TORPOR_PROMETHEUS_URL=http://prom:9090/?a=1&b=2", "&b=2")] {
            try (shipped + line + "\n").write(toFile: env, atomically: true, encoding: .utf8)
            let systemd = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
            #expect(systemd.status == 2 && systemd.output.contains("torpor.env line \(lines): '\(line)' is read otherwise by systemd's EnvironmentFile=")
                    && systemd.output.contains(name), "\(systemd.output)")
        }
        // A relative path (the jobs run from /, a person from anywhere: a wake would open another store, or none), also
        // among a list of calendars.
        for (line, named) in [("TORPOR_DB=var/lib/torpor/torpor.db", "TORPOR_DB 'var/lib/torpor/torpor.db' is a relative path"), ("TORPOR_DB=", "TORPOR_DB is empty"),
                              ("TORPOR_CALENDARS='/etc/torpor/a.ics b.ics'", "TORPOR_CALENDARS 'b.ics' is a relative path")] {
            try (shipped + line + "\n").write(toFile: env, atomically: true, encoding: .utf8)
            let relative = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
            #expect(relative.status == 2 && relative.output.contains(named) && relative.output.contains("nothing installed"), "\(relative.output)")
        }
        // The file's settings are read alone (a relative TORPOR_METRICS_FILE exported in the installer's shell is not the
        // file's), and a quoted path may hold a space.
        try (shipped + "TORPOR_STATE_POOL='/var/lib/my pool'\n").write(toFile: env, atomically: true, encoding: .utf8)
        let spaced = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools],
                             environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin", "TORPOR_METRICS_FILE": "torpor.prom"])
        #expect(spaced.status == 0, "\(spaced.output)")
        try shipped.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: env, atomically: true, encoding: .utf8)
        let crlf = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(crlf.status == 2 && crlf.output.contains("CRLF line endings"), "\(crlf.output)")
        // Spaces around a line and an indented comment read the same to both.
        try (shipped + "  TORPOR_NOTIFY_TIMEOUT=30  \n    # an indented comment\n").write(toFile: env, atomically: true, encoding: .utf8)
        let clean = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(clean.status == 0 && clean.output.contains("WARNING: TORPOR_NOTIFY in \(env) is still the shipped 'logger -t torpor'"), "no person is told: \(clean.output)")
        // Every problem of the file is said at once, each with its line; the installed check-env.sh says the same.
        try (shipped + "TORPOR_PLANS=plans\nexport TORPOR_TRAIN_THREADS=2\n").write(toFile: env, atomically: true, encoding: .utf8)
        let both = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(both.status == 2 && both.output.contains("TORPOR_PLANS 'plans' is a relative path") && both.output.contains("'export TORPOR_TRAIN_THREADS=2' is read otherwise"),
                "\(both.output)")
        let checked = try run(root + "/usr/local/lib/torpor/check-env.sh", [env], environment: ["PATH": "/usr/bin:/bin"])
        #expect(checked.status == 2 && checked.output.split(separator: "\n").count == 2 && checked.output.contains("TORPOR_PLANS 'plans' is a relative path"), "\(checked.output)")
        // A crash test's setting left in the file would make every executor run kill itself mid-action.
        try (shipped + "TORPOR_EXECUTE_KILL_AFTER_STEP=2\n").write(toFile: env, atomically: true, encoding: .utf8)
        let crashing = try run(root + "/usr/local/lib/torpor/check-env.sh", [env], environment: ["PATH": "/usr/bin:/bin"])
        #expect(crashing.status == 2 && crashing.output.contains("TORPOR_EXECUTE_KILL_AFTER_STEP is set: a crash test's setting"), "\(crashing.output)")
        try (shipped + "TORPOR_NOTIFY='mail -s torpor ops@example.com'\n").write(toFile: env, atomically: true, encoding: .utf8)
        let fine = try run(root + "/usr/local/lib/torpor/check-env.sh", [env], environment: ["PATH": "/usr/bin:/bin"])
        #expect(fine.status == 0 && fine.output.isEmpty, "\(fine.output)")
        // Units a person copied into /etc/systemd/system from an older torpor stand before the installed ones: said.
        try FileManager.default.createDirectory(atPath: root + "/etc/systemd/system", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/systemd/system/torpor-execute.service",
                                                   withDestinationPath: "/usr/local/lib/torpor/systemd/torpor-execute.service")   // dangling: an older copy's link
        let shadowed = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(shadowed.status == 0 && shadowed.output.contains("WARNING: \(root)/etc/systemd/system/torpor-execute.service stand before the units installed")
                && !shadowed.output.contains("WARNING: TORPOR_NOTIFY"), "\(shadowed.output)")
    }

    /// A settings file bash cannot read whole (an unterminated quote takes every later line with it): cron's executor
    /// line runs the executor all the same (restores are never blocked) with the settings before that line, which come
    /// first in the shipped file. execute.sh checks the file (check-env.sh: a bad line anywhere, not only the last) and
    /// tells the executor, which then starts no new hibernation (a demand signal's rule or the policy may be missing).
    @Test func aSettingsFileCheckEnvRefusesHoldsTheExecutorsHibernations() throws {
        let (dir, store, _) = try installed()
        let repository = EndToEndTests.repository
        let env = dir + "/torpor.env", fake = dir + "/bin", probe = fake + "/torpor-execute"
        let shipped = try String(contentsOfFile: repository + "/pipelines/torpor.env", encoding: .utf8)
            .replacingOccurrences(of: "\nTORPOR_BIN=/usr/local/bin\n", with: "\nTORPOR_BIN=\(fake)\n")   // the executor's tools here
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        try "#!/bin/bash\necho \"refused=${TORPOR_ENV_REFUSED-} log=${TORPOR_EVENT_LOG-} policy=${TORPOR_POLICY-unset} url=${TORPOR_PROMETHEUS_URL-unset}\"\n"
            .write(toFile: probe, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: probe)
        // Cron's line, with its file here.
        let cron = try String(contentsOfFile: repository + "/pipelines/cron/torpor", encoding: .utf8)
        let line = try #require(cron.split(separator: "\n").first { $0.contains("/execute.sh") && !$0.hasPrefix("#") })
        let command = String(line[try #require(line.range(of: " root ")).upperBound...])
            .replacingOccurrences(of: "/etc/torpor/torpor.env", with: env).replacingOccurrences(of: "/usr/local/lib/torpor/execute.sh", with: repository + "/pipelines/execute.sh")
            .replacingOccurrences(of: " >>/var/log/torpor/execute.log 2>&1", with: "")
        let jobs = ["PATH": "/usr/bin:/bin", "TORPOR_ENV_FILE": env]
        for (bad, named) in [("TORPOR_NOTIFY='mail -s torpor", "an unterminated quote at the end"),
                             ("TORPOR_WATCH_STATE=/run/my state", "an unquoted space in the middle")] {
            let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let at = named.hasSuffix("end") ? lines.count : try #require(lines.firstIndex { $0.hasPrefix("TORPOR_WATCH_STATE=") })
            try (lines[..<at] + [bad] + lines[at...].dropFirst(named.hasSuffix("end") ? 0 : 1)).joined(separator: "\n").write(toFile: env, atomically: true, encoding: .utf8)
            let ran = try run("/bin/bash", ["-c", command], environment: jobs)
            #expect(ran.output.contains("refused=\(env) cannot be read by bash: ") && ran.output.contains(" log=/var/log/torpor/events.jsonl policy= url="),
                    "\(named): \(ran.output)")
        }
        try shipped.write(toFile: env, atomically: true, encoding: .utf8)
        #expect(try run("/bin/bash", ["-c", command], environment: jobs).output.contains("refused= log="), "a file it accepts: nothing held")
        // The refusal's first line is what the executor says; a check that cannot run (check-env.sh missing) is said, not held on.
        try (shipped + "TORPOR_METRICS_FILE=torpor.prom\n").write(toFile: env, atomically: true, encoding: .utf8)
        #expect(try run("/bin/bash", ["-c", command], environment: jobs).output.contains("refused=\(env): TORPOR_METRICS_FILE 'torpor.prom' is a relative path"))
        let alone = dir + "/alone"
        try FileManager.default.createDirectory(atPath: alone, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repository + "/pipelines/execute.sh", toPath: alone + "/execute.sh")
        let unchecked = try run("/bin/bash", ["-c", command.replacingOccurrences(of: repository + "/pipelines/execute.sh", with: alone + "/execute.sh")], environment: jobs)
        #expect(unchecked.output.contains("refused= log=") && unchecked.output.contains("could not be checked (check-env.sh exit 127)"), "\(unchecked.output)")
        // The executor holds every new hibernation for it, says why, and fails once its pass is done.
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let held = try run(tools + "/torpor-execute", ["run", "--dry-run", "--db", store.path, "--now", EndToEndTests.now],
                           environment: ["PATH": "/usr/bin:/bin", "TORPOR_ENV_REFUSED": env])
        #expect(held.status != 0 && held.output.contains("the jobs' settings file has a problem (\(env)): a setting of this run may be missing"), "\(held.output)")
        // A copy of the store beside the jobs' one: its prune does not take the jobs' plan files for its own.
        let copy = (store.path as NSString).deletingLastPathComponent + "/copy.db"
        try FileManager.default.copyItem(atPath: store.path, toPath: copy)
        let plans = (store.path as NSString).deletingLastPathComponent + "/plans"
        let pruned = try run(tools + "/torpor-plan", ["prune", "--db", copy, "--now", EndToEndTests.now],
                             environment: ["PATH": "/usr/bin:/bin", "TORPOR_DB": store.path, "TORPOR_PLANS": plans])
        #expect(pruned.status == 2 && pruned.output.contains("\(plans) holds the jobs' plan files ($TORPOR_PLANS), but \(copy) is not the jobs' store"),
                "\(pruned.output)")
    }

    /// systemd's stop of the follower (an upgrade, new settings) is a SIGTERM: it is said, and the follower exits once
    /// nothing is under way (here at once, between passes), not killed mid-save by the signal's default action.
    @Test func aFollowerAskedToStopEndsBetweenPasses() throws {
        let dir = try ScratchDirectory.make("torpor-stop")
        _ = try Store(path: dir + "/torpor.db")
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools + "/torpor-execute")
        process.arguments = ["run", "--follow", "--interval", "3600", "--db", dir + "/torpor.db"]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        // Its first pass done (nothing to do), it waits an hour for the next: stopped there at once.
        var text = ""
        for _ in 0..<200 where !text.contains("nothing done") {
            Thread.sleep(forTimeInterval: 0.1)
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        #expect(text.contains("nothing done"), "\(text)")
        let asked = Date()
        process.terminate()
        process.waitUntilExit()
        text += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(process.terminationReason) \(process.terminationStatus): \(text)")
        #expect(text.contains("stopping (signal 15): no new hibernation; restores go on until no save or restore under way is left (a second signal ends it at once)")
                && text.contains("stopped (asked to): no save or restore under way"), "\(text)")
        #expect(Date().timeIntervalSince(asked) < 60, "not the next pass's hour later")
    }

    /// An upgrade copies every tool beside its target before moving any over it: a copy that fails leaves the installed
    /// tools as they were (GNU install had replaced those before the failure), and no staged copy behind.
    @Test func aFailedUpgradeLeavesTheInstalledToolsAsTheyWere() throws {
        let (dir, _, root) = try installed()
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path, broken = dir + "/broken-bin"
        try FileManager.default.createDirectory(atPath: broken + "/torpor-plan", withIntermediateDirectories: true)   // cannot be copied
        for tool in ["torpor-ingest", "torpor-train", "torpor-execute", "torpor-backtest"] {
            try FileManager.default.createSymbolicLink(atPath: broken + "/" + tool, withDestinationPath: tools + "/" + tool)
        }
        let old = "#!/bin/sh\necho the installed one\n"
        try old.write(toFile: root + "/usr/local/bin/torpor-ingest", atomically: false, encoding: .utf8)
        let failed = try run(EndToEndTests.repository + "/pipelines/install.sh", [broken], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(failed.status == 1 && failed.output.contains("cannot copy \(broken)/torpor-plan into \(root)/usr/local/bin: the installed files are unchanged"),
                "\(failed.output)")
        #expect(try String(contentsOfFile: root + "/usr/local/bin/torpor-ingest", encoding: .utf8) == old)
        for directory in ["/usr/local/bin", "/usr/local/lib/torpor"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + directory).allSatisfy { !$0.hasSuffix(".new") }, "\(directory)")
        }
    }

    /// An upgrade is refused while the store's filesystem has less room than the store (a migration by the new torpor
    /// could run out of it, the old binaries gone: the VMs asleep without their restores), unless told none is expected.
    @Test func anUpgradeNeedsRoomForTheStoresMigration() throws {
        let (_, _, root) = try installed()
        let tools = try #require(Bundle.main.executableURL).deletingLastPathComponent().path
        let store = root + "/var/lib/torpor/torpor.db"   // torpor.env's TORPOR_DB, under the DESTDIR
        #expect(FileManager.default.createFile(atPath: store, contents: nil))
        let sparse = try FileHandle(forWritingTo: URL(fileURLWithPath: store))
        try sparse.truncate(atOffset: 1 << 43)   // 8 TiB that take no room: more than any filesystem here has free
        try sparse.close()
        let refused = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin"])
        #expect(refused.status == 2 && refused.output.contains("less than the store's \(1 << 43): a migration of the store") && refused.output.contains("nothing installed"),
                "\(refused.output)")
        let told = try run(EndToEndTests.repository + "/pipelines/install.sh", [tools], environment: ["DESTDIR": root, "PATH": "/usr/bin:/bin", "TORPOR_UPGRADE_WITHOUT_ROOM": "1"])
        #expect(told.status == 0, "\(told.output)")
    }

    /// The hourly and nightly ingest reads the host's inventory again: labels put in a domain's metadata since (here:
    /// db-01's, gone from the store) and VMs defined since reach the store, which the policy's groups go by.
    @Test func theScheduledIngestReadsTheInventoryAgain() throws {
        let (_, store, root) = try installed()
        try store.transaction { try $0.execute(sql: "UPDATE vm SET labels = '{}' WHERE name = 'db-01'") }
        let environment = ["TORPOR_DB": store.path, "TORPOR_BIN": root + "/usr/local/bin", "PATH": "/usr/bin:/bin",
                           "TORPOR_LIBVIRT_URI": "test://" + EndToEndTests.repository + "/sample-data/fleet.xml"]
        let ingest = try run(root + "/usr/local/lib/torpor/ingest-sources.sh", environment: environment)
        #expect(ingest.status == 0, "\(ingest.output)")
        #expect(try store.read { try VMRepository.all(in: $0) }.first { $0.name == "db-01" }?.labels["group"] == "db")
    }

    @Test func theHourlyJobPlansAfterAFailedIngestAndTellsAPerson() throws {
        let (dir, store, root) = try installed()
        let repository = EndToEndTests.repository

        let notices = dir + "/notices"
        var environment = ["TORPOR_DB": store.path, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_PLANS": root + "/var/lib/torpor/plans",
                           "TORPOR_POLICY": repository + "/sample-data/policy.yaml", "TORPOR_CALENDARS": dir + "/missing.ics",
                           "TORPOR_NOTIFY": "cat >> '\(notices)'", "TORPOR_NOW": EndToEndTests.now, "PATH": "/usr/bin:/bin"]
        let hourly = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
        #expect(hourly.status == 0, "\(hourly.output)")
        let plans = try FileManager.default.contentsOfDirectory(atPath: root + "/var/lib/torpor/plans")
        #expect(plans == ["plan-20130930T000000Z.json"])
        let plan = try Plan.load(path: root + "/var/lib/torpor/plans/" + plans[0]).plan
        let awaiting = try store.read { try Approvals.awaitingReview(plan, in: $0) }.count
        #expect(awaiting > 0)
        var told = try String(contentsOfFile: notices, encoding: .utf8)
        #expect(told.contains("the hourly ingest failed; the plan is made from what is stored") && told.contains("missing.ics"), "\(told)")
        #expect(told.contains("a plan awaits review") && told.contains("review: \(awaiting) hibernations await approval"), "\(told)")
        // show, too, with the jobs' policy: reviewed by a person without the jobs' environment, under the policy in force.
        #expect(told.contains("--policy \(repository)/sample-data/policy.yaml   approve: torpor-plan approve "), "\(told)")

        environment["TORPOR_POLICY"] = dir + "/no-such-policy.yaml"
        environment["TORPOR_CALENDARS"] = ""
        environment["TORPOR_NOW"] = "2013-09-30T01:00:00Z"
        let failed = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
        #expect(failed.status == 2)
        told = try String(contentsOfFile: notices, encoding: .utf8)
        #expect(told.contains("no plan this hour: torpor-plan failed (exit 2)") && told.contains("no-such-policy.yaml"), "\(told)")
        #expect(told.components(separatedBy: "the hourly ingest failed").count == 2, "no calendar: the second ingest did not fail")

        // The same hour again (a replay of an hour already planned): its plan file is not written over.
        environment["TORPOR_POLICY"] = repository + "/sample-data/policy.yaml"
        environment["TORPOR_NOW"] = EndToEndTests.now
        let planned = root + "/var/lib/torpor/plans/plan-20130930T000000Z.json"
        let before = try Data(contentsOf: URL(fileURLWithPath: planned))
        let again = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
        let after = try Data(contentsOf: URL(fileURLWithPath: planned))
        #expect(again.status == 2 && after == before, "\(again.output)")
        #expect(try String(contentsOfFile: notices, encoding: .utf8).contains("no plan this hour: \(planned) exists already"))

        // A Prometheus URL without its query: said, and the calendars are still tried; a notice that cannot be sent
        // fails the job (exit 1) and says which, though the plan was made.
        environment["TORPOR_POLICY"] = ""
        environment["TORPOR_PROMETHEUS_URL"] = "http://127.0.0.1:1"
        environment["TORPOR_CALENDARS"] = repository + "/sample-data/calendars/business.ics"
        environment["TORPOR_NOTIFY"] = "false"
        environment["TORPOR_NOW"] = "2013-09-30T02:00:00Z"
        let unsent = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
        #expect(unsent.status == 1, "\(unsent.output)")
        #expect(unsent.output.contains("TORPOR_PROMETHEUS_QUERY is empty") && unsent.output.contains("business.ics"), "\(unsent.output)")
        #expect(unsent.output.contains("the notice 'the hourly ingest failed; the plan is made from what is stored' could not be sent"), "\(unsent.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/var/lib/torpor/plans/plan-20130930T020000Z.json"))

        // A notifier that leaves a mailer in the background does not lend it the job's lock: the next run is not skipped.
        environment["TORPOR_NOTIFY"] = "cat >> '\(notices)'; sleep 20 > /dev/null 2>&1 &"
        environment["TORPOR_CALENDARS"] = dir + "/missing.ics"
        for hour in ["03", "04"] {
            environment["TORPOR_NOW"] = "2013-09-30T\(hour):00:00Z"
            let next = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
            #expect(next.status == 0 && !next.output.contains("its previous run still runs"), "\(hour): \(next.output)")
        }
        #expect(FileManager.default.fileExists(atPath: root + "/var/lib/torpor/plans/plan-20130930T040000Z.json"))
        // A notifier that does not answer (a webhook that takes the connection and never replies) is stopped: the plan
        // is made all the same, and the notice said as not sent.
        environment["TORPOR_NOTIFY"] = "sleep 30"
        environment["TORPOR_NOTIFY_TIMEOUT"] = "1"
        environment["TORPOR_NOW"] = "2013-09-30T05:00:00Z"
        let hung = try run(root + "/usr/local/lib/torpor/hourly.sh", environment: environment)
        #expect(hung.status == 1 && hung.output.contains("the notice 'the hourly ingest failed; the plan is made from what is stored' could not be sent"), "\(hung.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/var/lib/torpor/plans/plan-20130930T050000Z.json"))
    }

    /// The watch tells a person of a VM left asleep past its restore (here: no executor ran since it slept, and no plan
    /// holds its restore) once, again after the reminder's interval, and once when it clears; a check that cannot run
    /// is told too. Each watch that told (or had told) writes the metrics and beats with the check's status; none beats
    /// after a notice that failed; a heartbeat that fails is said.
    @Test func theWatchTellsAPersonOfAVMLeftAsleep() throws {
        let (dir, store, root) = try installed()
        let vm = try #require(try store.read { try VMRepository.all(in: $0) }.first), since = UTC.parseISO8601(EndToEndTests.now)!
        try store.transaction { try JournalRepository.setPower(PowerRecord(vm: vm.name, host: "test:///default", state: .hibernated, since: since, actionID: "a"), in: $0) }
        let notices = dir + "/notices", state = dir + "/watch.last", watch = root + "/usr/local/lib/torpor/watch.sh", beats = dir + "/beats"
        let metrics = dir + "/torpor.prom"
        var environment = ["TORPOR_DB": store.path, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_WATCH_STATE": state, "TORPOR_METRICS_FILE": metrics,
                           "TORPOR_NOTIFY": "cat >> '\(notices)'", "TORPOR_NOW": UTC.format(since + 300), "PATH": "/usr/bin:/bin",
                           "TORPOR_WATCH_HEARTBEAT": "echo $TORPOR_WATCH_STATUS >> '\(beats)'", "TORPOR_ENV_FILE": root + "/etc/torpor/torpor.env"]
        func told() -> String { (try? String(contentsOfFile: notices, encoding: .utf8)) ?? "" }
        func beaten() -> [String] { ((try? String(contentsOfFile: beats, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        #expect(try run(watch, environment: environment).status == 0 && told().isEmpty, "within the grace: nothing to tell")
        environment["TORPOR_NOW"] = UTC.format(since + 1800)
        let asleep = try run(watch, environment: environment)
        #expect(asleep.status == 4 && asleep.output.contains("\(vm.name) on test:///default: ASLEEP past its restore: restore due since \(UTC.format(since))"),
                "\(asleep.output)")
        #expect(told().contains("needs a person: 1 (torpor-execute check)") && told().contains("no plan holds a restore"), "\(told())")
        let written = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
        #expect(written.contains("torpor_problems{kind=\"asleep_past_restore\"} 1\n") && written.contains("torpor_vms_asleep{host=\"test:///default\"} 1\n"),
                "each watch writes the metrics: \(written)")
        environment["TORPOR_NOW"] = UTC.format(since + 2100)
        #expect(try run(watch, environment: environment).status == 4)
        #expect(told().components(separatedBy: "needs a person").count == 2, "told once while nothing changes")
        environment["TORPOR_WATCH_REMIND"] = "0"
        _ = try run(watch, environment: environment)
        #expect(told().components(separatedBy: "needs a person").count == 3, "reminded after the interval")
        try store.transaction { try JournalRepository.setPower(PowerRecord(vm: vm.name, host: "test:///default", state: .running, since: since + 2000, actionID: "b"), in: $0) }
        #expect(try run(watch, environment: environment).status == 0)
        #expect(told().contains("all clear: nothing needs a person any more") && !FileManager.default.fileExists(atPath: state), "\(told())")
        _ = try run(watch, environment: environment)
        #expect(told().components(separatedBy: "all clear").count == 2, "the all clear once")
        #expect(beaten() == ["0", "4", "4", "4", "0", "0"], "each watch beats, told or told already, with the check's status")
        // A plan silence that is no duration stops no check: 3h is used, and the setting is told as needing a person.
        environment["TORPOR_WATCH_PLAN_SILENCE"] = "3 hours"
        let misread = try run(watch, environment: environment)
        #expect(misread.status == 4 && misread.output.contains("ok at ") && told().contains("TORPOR_WATCH_PLAN_SILENCE '3 hours' (/etc/torpor/torpor.env) is not a duration"),
                "\(misread.output)")
        environment["TORPOR_WATCH_PLAN_SILENCE"] = nil
        // The settings file edited since the install (which checked it): a line systemd would read otherwise is told.
        let settings = root + "/etc/torpor/torpor.env", shipped = try String(contentsOfFile: settings, encoding: .utf8)
        try (shipped + "TORPOR_STATE_POOL_CAPACITY=500GiB # the pool's disk\n").write(toFile: settings, atomically: true, encoding: .utf8)
        let edited = try run(watch, environment: environment)
        #expect(edited.status == 4 && told().contains("\(settings) line \(shipped.split(separator: "\n", omittingEmptySubsequences: false).count): "
                                                      + "'TORPOR_STATE_POOL_CAPACITY=500GiB # the pool's disk' is read otherwise by systemd's EnvironmentFile=")
                && told().contains("until it is mended the executor starts no new hibernation (restores go on)"), "\(edited.output)")
        try shipped.write(toFile: settings, atomically: true, encoding: .utf8)
        environment["TORPOR_DB"] = dir + "/no-such.db"
        #expect(try run(watch, environment: environment).status == 1)
        #expect(told().contains("torpor-execute check failed (exit 1): whether a VM needs a person is unknown") && told().contains("no-such.db"), "\(told())")
        // A check that does not answer (a disk stuck in I/O) is told; a notice that cannot be sent fails the job (5).
        let stuck = dir + "/stuck"
        try FileManager.default.createDirectory(atPath: stuck, withIntermediateDirectories: true)
        // It ignores SIGTERM, as a process stuck in the kernel ignores every signal: the watch does not wait for it. (It
        // closes the descriptors it inherited beyond its output: this test's pipe leaks into the jobs it runs, and its
        // reader would wait for the sleep.)
        _ = FileManager.default.createFile(atPath: stuck + "/torpor-execute", contents: Data("""
            #!/bin/bash
            trap '' TERM
            for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done
            sleep 30

            """.utf8), attributes: [.posixPermissions: 0o755])
        environment["TORPOR_BIN"] = stuck
        environment["TORPOR_WATCH_CHECK_TIMEOUT"] = "1"
        let asked = Date()
        #expect(try run(watch, environment: environment).status == 124)
        #expect(Date().timeIntervalSince(asked) < 20, "the watch waited for a check that ignores its signal")
        #expect(told().contains("torpor-execute check did not answer within 1 s"), "\(told())")
        environment["TORPOR_NOTIFY"] = "exit 3"
        let unsent = try run(watch, environment: environment)
        #expect(unsent.status == 5 && unsent.output.contains("could not be sent (TORPOR_NOTIFY)"), "\(unsent.output)")
        #expect(beaten() == ["0", "4", "4", "4", "0", "0", "4", "4", "1", "124"], "no beat from a watch that could not tell: its monitor says so")
        // A heartbeat that cannot be sent is said; the watch exits as its check did.
        environment["TORPOR_NOTIFY"] = "cat >> '\(notices)'"
        environment["TORPOR_WATCH_HEARTBEAT"] = "exit 7"
        let unbeaten = try run(watch, environment: environment)
        #expect(unbeaten.status == 124 && unbeaten.output.contains("the heartbeat could not be sent (TORPOR_WATCH_HEARTBEAT)"), "\(unbeaten.output)")
    }

    /// The nightly job collects the state pool's garbage (a pool never collected fills until hibernations are held back),
    /// verifies it on its weekday only (it reads the whole pool), and goes on to train.
    @Test func theNightlyJobCollectsThePoolsGarbageThenTrains() throws {
        let (dir, _, root) = try installed()
        let empty = try Store(path: dir + "/empty.db")
        let notices = dir + "/notices", pool = dir + "/pool", plans = dir + "/plans"
        let nightly = try run(root + "/usr/local/lib/torpor/nightly.sh", environment: [
            "TORPOR_DB": empty.path, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_STATE_POOL": pool, "TORPOR_NOTIFY": "cat >> '\(notices)'",
            "TORPOR_CALENDARS": "", "TORPOR_NOW": EndToEndTests.now, "TORPOR_PLANS": plans, "PATH": "/usr/bin:/bin"])
        #expect(nightly.output.contains("removed 0 images and 0 chunks, freed 0 B") && FileManager.default.fileExists(atPath: pool + "/POOL"), "\(nightly.output)")
        #expect(nightly.status == 0 && nightly.output.contains("no VM has enough history to train on"), "\(nightly.output)")
        #expect(!FileManager.default.fileExists(atPath: notices), "nothing failed: nobody is told")
        #expect(!nightly.output.contains("chunks checked"), "2013-09-30 is a Monday: no verification on the default Sunday")
        #expect(nightly.output.contains("removed 0 plan files made before 2013-09-23T00:00:00Z from \(plans)"), "\(nightly.output)")
        #expect(nightly.output.contains("removed 0 samples from before 2013-04-03T00:00:00Z (kept: 180d)"), "\(nightly.output)")
        let monday = try run(root + "/usr/local/lib/torpor/nightly.sh", environment: [
            "TORPOR_DB": empty.path, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_STATE_POOL": pool, "TORPOR_NOTIFY": "cat >> '\(notices)'",
            "TORPOR_CALENDARS": "", "TORPOR_NOW": "\(UTC.parseISO8601(EndToEndTests.now)!)", "TORPOR_STATE_POOL_VERIFY_DAY": "1", "TORPOR_PLANS": plans,
            "PATH": "/usr/bin:/bin"])
        #expect(monday.status == 0 && monday.output.contains("0 chunks checked, 0 damaged, 0 unreadable, 0 missing"), "\(monday.output)")

        // Plan files older than the plans kept whole go, by the time in their name; no other file does.
        try FileManager.default.createDirectory(atPath: plans, withIntermediateDirectories: true)
        let names = ["plan-20130901T000200Z.json", "dry-run-20130922T235959Z.json", "plan-20130902T000200Z-0123456789ab.json",
                     "plan-20130923T000000Z.json", "plan-20130929T230200Z.json", "mine.json", "plan-2013.json", "plan-20130901T000200Z-notanid.json"]
        for name in names { try Data("{}".utf8).write(to: URL(fileURLWithPath: plans + "/" + name)) }
        let pruned = try run(root + "/usr/local/bin/torpor-plan", ["prune", "--db", empty.path, "--now", EndToEndTests.now, "--plans", plans],
                             environment: ["PATH": "/usr/bin:/bin"])
        #expect(pruned.status == 0 && pruned.output.contains("removed 3 plan files made before 2013-09-23T00:00:00Z"), "\(pruned.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: plans).sorted() == Array(names[3...]).sorted())

        // While a run holds the store's nightly lock (one that hangs), the next does nothing and tells a person.
        let held = try FileLock(path: empty.path + ".nightly.lock", wait: false)
        let skipped = try run(root + "/usr/local/lib/torpor/nightly.sh", environment: [
            "TORPOR_DB": empty.path, "TORPOR_BIN": root + "/usr/local/bin", "TORPOR_NOTIFY": "cat >> '\(notices)'", "TORPOR_CALENDARS": "",
            "TORPOR_NOW": EndToEndTests.now, "PATH": "/usr/bin:/bin"])
        withExtendedLifetime(held) {}
        #expect(skipped.status == 0 && skipped.output.contains("nightly.sh: its previous run still runs") && !skipped.output.contains("run #"),
                "\(skipped.output)")
        #expect(try String(contentsOfFile: notices, encoding: .utf8).contains("the nightly job is skipped: its previous run still runs"))
    }

    /// A step's output reaches the job's log as it comes: a training the unit's time limit stops (here: the job's
    /// process group sent SIGTERM, as systemd stops a unit's) leaves the lines it had printed, its epochs, in the journal,
    /// and no copy of them behind.
    @Test func aKilledNightlyJobLeavesWhatItsStepsPrinted() throws {
        let (dir, store, root) = try installed()
        let tools = dir + "/tools", log = dir + "/nightly.log"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        for tool in ["torpor-plan", "torpor-ingest"] {
            try FileManager.default.createSymbolicLink(atPath: tools + "/" + tool, withDestinationPath: root + "/usr/local/bin/" + tool)
        }
        // A training that prints its first epoch and then takes longer than any limit.
        try "#!/bin/sh\necho 'torpor-train: epoch 1/40: training pinball loss 0.1' >&2\nexec sleep 600\n"
            .write(toFile: tools + "/torpor-train", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tools + "/torpor-train")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let job = Process()
        // Through env, which lets SIGTERM in: a child of this test process starts with it blocked, as systemd's never does.
        job.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        job.arguments = ["--default-signal=TERM", root + "/usr/local/lib/torpor/nightly.sh"]
        job.environment = ["TORPOR_DB": store.path, "TORPOR_BIN": tools, "TORPOR_CALENDARS": "", "TORPOR_NOW": EndToEndTests.now,
                           "TORPOR_PLANS": dir + "/plans", "TORPOR_NOTIFY": "cat >> '\(dir)/notices'", "TMPDIR": dir, "PATH": "/usr/bin:/bin"]
        job.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        job.standardError = job.standardOutput
        try job.run()
        defer { kill(-job.processIdentifier, SIGKILL); job.waitUntilExit() }
        // Process starts the job in a process group of its own: killing the group kills every step, as systemd kills a unit's.
        try #require(getpgid(job.processIdentifier) == job.processIdentifier)
        func logged() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        var waited = 0
        while !logged().contains("epoch 1/40"), waited < 600 { usleep(100_000); waited += 1 }
        #expect(job.isRunning, "the training still runs")
        kill(-job.processIdentifier, SIGTERM)   // as systemd stops a unit at its time limit
        job.waitUntilExit()
        #expect(logged().contains("torpor-train: epoch 1/40: training pinball loss 0.1"), "\(logged())")
        #expect(try !FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasPrefix("torpor-step.") }, "the step's kept copy removed")
        #expect(logged().contains("removed 0 samples from before 2013-04-03T00:00:00Z (kept: 180d)"), "the steps before it too: \(logged())")
    }
}

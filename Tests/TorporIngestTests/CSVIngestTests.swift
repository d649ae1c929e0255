import Foundation
import Testing
import TorporCore
import TorporIngest
import TorporStore
@testable import torpor_ingest

let t0 = UTC.epoch(year: 2024, month: 3, day: 1)

@Suite struct CSVLayoutTests {
    @Test func longLayoutWithOutOfOrderAndRepeatedTimes() throws {
        let s = try Scratch()
        let path = try s.write("long.csv", """
            vm,metric,time,value
            web-01,cpu_util,\(t0 + 300),20
            web-01,cpu_util,\(t0),10
            web-01,cpu_util,\(t0),10
            web-01,cpu_util,\(t0 + 300),99
            web-02,mem_used,\(t0),1024
            web-02,cpu_util,\(t0),

            """)
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow)
        #expect(r.rows == 6)
        #expect(r.inserted == 3)
        #expect(r.duplicates == 1)
        #expect(r.conflicts == 1)
        #expect(r.missing == 1)
        #expect(r.outOfOrder == 1)
        #expect(r.vms == ["web-01", "web-02"])
        #expect(r.firstTime == t0 && r.lastTime == t0 + 300)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 300) == 20, "first value wins")
        #expect(r.warnings.contains { $0.contains("line 5") && $0.contains("99") })
    }

    @Test func wideVMsWithISOTimesAndOffsets() throws {
        let s = try Scratch()
        let path = try s.write("wide.tsv", "timestamp\tweb-01\tweb-02\n2024-03-01T01:00:00+01:00\t5\t6\n2024-03-01 00:05:00\t7\tNaN\n")
        let mapping = CSVMapping(layout: .wideVMs, time: .init(column: "timestamp", format: .iso8601), metric: .init(name: "cpu_util"), vmPrefix: "h1-")
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: mapping, now: replayNow)
        #expect(r.delimiter == "tab")
        #expect(r.inserted == 3 && r.missing == 1)
        #expect(try s.value(vm: "h1-web-01", metric: "cpu_util", time: t0) == 5)
        #expect(try s.value(vm: "h1-web-02", metric: "cpu_util", time: t0) == 6)
        #expect(try s.value(vm: "h1-web-01", metric: "cpu_util", time: t0 + 300) == 7)
    }

    @Test func implicitTimesWithoutHeaderAndEpochUnits() throws {
        let s = try Scratch()
        let implicit = try s.write("steps.csv", "0.5;10\n0.25;20\n")
        let m1 = CSVMapping(layout: .wideMetrics, header: false, time: .init(format: .implicit, start: UTC.format(t0), step: "5m"),
                            vm: .init(name: "batch-01"), metrics: [.init(column: "1", metric: "cpu_util", unit: "fraction"), .init(column: "2", metric: "mem_util")])
        let r1 = try CSVIngester(store: s.store).ingest(path: implicit, mapping: m1, now: replayNow)
        #expect(r1.rows == 2 && r1.inserted == 4)
        #expect(try s.value(vm: "batch-01", metric: "cpu_util", time: t0 + 300) == 25)

        let ms = try s.write("ms.csv", "time,cpu\n\((t0 + 60) * 1000),1\n\((t0 + 120) * 1000 + 999),2\n")
        let m2 = CSVMapping(layout: .wideMetrics, time: .init(column: "time", format: .epoch), vm: .init(name: "ms-vm"), metrics: [.init(column: "cpu", metric: "cpu_util")])
        let r2 = try CSVIngester(store: s.store).ingest(path: ms, mapping: m2, now: replayNow)
        #expect(r2.firstTime == t0 + 60 && r2.lastTime == t0 + 120, "milliseconds detected by magnitude, truncated to the second")

        let offsets = try s.write("offsets.csv", "t,cpu\n0,1\n300,2\n")
        let m3 = CSVMapping(layout: .wideMetrics, time: .init(column: "t", format: .offset, base: UTC.format(t0)), vm: .init(from: "filename", prefix: "x-"), metrics: [.init(column: "cpu", metric: "cpu_util")])
        let r3 = try CSVIngester(store: s.store).ingest(path: offsets, mapping: m3, now: replayNow)
        #expect(r3.vms == ["x-offsets"] && r3.lastTime == t0 + 300)
    }

    @Test func sameContentElsewhereIsUnchangedAndOverlapsDeduplicate() throws {
        let s = try Scratch()
        let ingester = CSVIngester(store: s.store)
        let a = try s.write("a.csv", "vm,metric,time,value\nv,cpu_util,\(t0),1\nv,cpu_util,\(t0 + 300),2\n")
        let copy = try s.write("copy.csv", "vm,metric,time,value\nv,cpu_util,\(t0),1\nv,cpu_util,\(t0 + 300),2\n")
        let overlap = try s.write("b.csv", "vm,metric,time,value\nv,cpu_util,\(t0 + 300),2\nv,cpu_util,\(t0 + 600),3\n")
        #expect(try ingester.ingest(path: a, mapping: .defaultLong, now: replayNow).inserted == 2)
        let again = try ingester.ingest(path: copy, mapping: .defaultLong, now: replayNow)
        #expect(again.outcome == .unchanged)
        let b = try ingester.ingest(path: overlap, mapping: .defaultLong, now: replayNow)
        #expect(b.inserted == 1 && b.duplicates == 1)
        #expect(try s.count() == 3)
        #expect(try s.count("SELECT count(*) FROM source") == 2)
    }

    /// A replay at --now stores nothing of its future: values more than 5 minutes of clock skew after --now (up to a day,
    /// beyond which they are bad input) are held back and counted; the same file is unchanged at the same --now, and
    /// read again at a later one, which stores them.
    @Test func valuesAfterNowAreHeldBackUntilALaterNow() throws {
        let s = try Scratch()
        let now = UTC.epoch(year: 2024, month: 1, day: 1, minute: 30)
        let path = try s.write("day.csv", """
            vm,metric,time,value
            web-01,cpu_util,2024-01-01T00:00:00Z,10
            web-01,cpu_util,2024-01-01T00:35:00Z,11
            web-01,cpu_util,2024-01-01T00:40:00Z,12
            web-01,cpu_util,2024-01-01T23:00:00Z,13

            """)
        let ingester = CSVIngester(store: s.store)
        let r = try ingester.ingest(path: path, mapping: .defaultLong, now: now)
        #expect(r.rows == 4 && r.inserted == 2 && r.lastTime == now + 300)
        #expect(r.warnings == ["2 value(s) after --now 2024-01-01T00:30:00Z + 5m of clock skew not stored; an ingest at a later --now stores them"])
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 1, day: 1, hour: 23)) == nil)
        #expect(try ingester.ingest(path: path, mapping: .defaultLong, now: now).outcome == .unchanged)
        let later = try ingester.ingest(path: path, mapping: .defaultLong, now: UTC.epoch(year: 2024, month: 1, day: 2))
        #expect(later.outcome == .ingested && later.inserted == 2 && later.duplicates == 2 && later.warnings.isEmpty)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 1, day: 1, hour: 23)) == 13)
        #expect(try ingester.ingest(path: path, mapping: .defaultLong, now: UTC.epoch(year: 2024, month: 1, day: 3)).outcome == .unchanged)
    }

    /// The same bytes are the same source only when read the same way: two idle VMs' identical files, each named by
    /// its file, are two VMs; a corrected mapping reads the file again.
    @Test func theSameBytesReadAnotherWayAreANewSource() throws {
        let s = try Scratch()
        let ingester = CSVIngester(store: s.store)
        let text = "timestamp,value\n\(t0),0\n\(t0 + 300),0\n"
        var byFile = CSVMapping(layout: .wideMetrics, time: .init(column: "timestamp", format: .epoch), metrics: [.init(column: "value", metric: "cpu_util", unit: "percent")])
        byFile.vm = .init(from: "filename")
        for name in ["idle-a.csv", "idle-b.csv"] {
            #expect(try ingester.ingest(path: try s.write(name, text), mapping: byFile, now: replayNow).inserted == 2, "\(name)")
        }
        #expect(try s.value(vm: "idle-b", metric: "cpu_util", time: t0) == 0)
        #expect(try ingester.ingest(path: s.dir + "/idle-a.csv", mapping: byFile, now: replayNow).outcome == .unchanged)
        byFile.vm?.prefix = "dc1-"
        let corrected = try ingester.ingest(path: s.dir + "/idle-a.csv", mapping: byFile, now: replayNow)
        #expect(corrected.outcome != .unchanged && corrected.inserted == 2)
        #expect(try s.value(vm: "dc1-idle-a", metric: "cpu_util", time: t0 + 300) == 0)
    }

    @Test func aBOMAndQuotedHeaderAreHandled() throws {
        let s = try Scratch()
        let path = try s.write("bom.csv", "\u{FEFF}\"vm\",\"metric\",\"time\",\"value\"\r\n\"a b\",cpu_util,2024-03-01T00:00:00Z,3\r\n")
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow)
        #expect(r.vms == ["a b"] && r.inserted == 1)
    }

    @Test func blankFirstLinesAndOldMacLineEnds() throws {
        let s = try Scratch()
        let blank = try s.write("blank.csv", "\n\nvm;metric;time;value\nv;cpu_util;2024-03-01T00:00:00Z;3\n")
        let r = try CSVIngester(store: s.store).ingest(path: blank, mapping: .defaultLong, now: replayNow)
        #expect(r.delimiter == ";" && r.inserted == 1, "the delimiter of the first line that is not blank")
        let mac = try s.write("mac.csv", "vm,metric,time,value\rw,cpu_util,2024-03-01T00:00:00Z,3\rw,cpu_util,2024-03-01T00:05:00Z,x\r")
        let e = #expect(throws: IngestError.self) { _ = try CSVIngester(store: s.store).ingest(path: mac, mapping: .defaultLong, now: replayNow) }
        #expect(e?.description.contains("mac.csv:3:") == true, "\(String(describing: e))")
    }
}

/// Bad input: a clear error naming the file and line, and nothing from that source committed.
@Suite struct CSVBadInputTests {
    /// Ingests `text` and expects bad input at `line` with `fragment` in the message; checks nothing was stored.
    func expectRejected(_ text: String, mapping: CSVMapping = .defaultLong, line: Int?, _ fragment: String,
                        now: EpochSeconds = replayNow, name: String = "bad.csv") throws {
        let s = try Scratch()
        let path = try s.write(name, text)
        try expectRejected(path: path, in: s, mapping: mapping, line: line, fragment, now: now)
    }

    func expectRejected(path: String, in s: Scratch, mapping: CSVMapping, line: Int?, _ fragment: String, now: EpochSeconds = replayNow) throws {
        let error = #expect(throws: IngestError.self) {
            _ = try CSVIngester(store: s.store).ingest(path: path, mapping: mapping, now: now)
        }
        guard case .badInput(let source, let errorLine, let message)? = error else {
            Issue.record("expected bad input, got \(String(describing: error))")
            return
        }
        #expect(source == path)
        #expect(errorLine == line, "\(message)")
        #expect(message.contains(fragment), "\(message)")
        #expect(try s.count() == 0)
        #expect(try s.count("SELECT count(*) FROM source") == 0)
        #expect(try s.count("SELECT count(*) FROM vm") == 0)
    }

    /// Expects the command line `flags` (and `path`) refused as bad input before any file is read, naming `source`
    /// (the flags, with the mapping they change) and saying `fragment`.
    func expectFlagsRefused(_ flags: [String], path: String, source: String = "the flags given", _ fragment: String) throws {
        let command = try CSVCommand.parse(flags + [path])
        let error = #expect(throws: IngestError.self) { _ = try command.effectiveMapping() }
        #expect(error?.isBadInput == true && error?.description.hasPrefix(source + ": ") == true && error?.description.contains(fragment) == true,
                "\(String(describing: error))")
    }

    /// A VM's vCPUs and memory each from their own latest reading: rows sorted by metric (memory's later than vCPUs'),
    /// and another file's vCPUs older than that memory but newer than the vCPUs stored.
    @Test func vCPUsOlderThanMemoryAreStillTheVMsVCPUs() throws {
        let s = try Scratch()
        let first = try s.write("by-metric.csv", "vm,metric,time,value\na,mem_capacity,\(t0 + 3600),8589934592\na,vcpus,\(t0),4\n")
        _ = try CSVIngester(store: s.store).ingest(path: first, mapping: .defaultLong, now: replayNow)
        func allocation() throws -> (Int?, Int64?) {
            let vm = try #require(try s.store.read { try VMRepository.all(in: $0) }.first { $0.name == "a" })
            return (vm.vcpus, vm.memoryBytes)
        }
        #expect(try allocation() == (4, 8_589_934_592))
        let later = try s.write("later.csv", "vm,metric,time,value\na,vcpus,\(t0 + 1800),8\n")
        _ = try CSVIngester(store: s.store).ingest(path: later, mapping: .defaultLong, now: replayNow)
        #expect(try allocation() == (8, 8_589_934_592))
    }

    @Test func aNegativeValueOfAPhysicalMetricIsBadInput() throws {
        try expectRejected("vm,metric,time,value\nweb-01,cpu_util,\(t0),5\nweb-01,cpu_util,\(t0 + 300),-50\n", line: 3, "is negative (-50.0)")
    }

    /// A `vcpus` or `mem_capacity` no VM can have is bad input at its line, not a crash converting it to an integer.
    @Test func anAllocationOutOfRangeIsBadInputNotACrash() throws {
        try expectRejected("vm,metric,time,value\nweb-01,vcpus,\(t0),4\nweb-01,vcpus,\(t0 + 300),1e20\n", line: 3,
                           "vcpus of web-01 at 2024-03-01T00:05:00Z is out of range (1e+20; at most 1048576 vCPUs)")
        try expectRejected("vm,metric,time,value\nweb-01,mem_capacity,\(t0),9.3e18\n", line: 2,
                           "mem_capacity of web-01 at 2024-03-01T00:00:00Z is out of range (9.3e+18; at most 1125899906842624 bytes)")
    }

    @Test func epochTimesInTwoUnitsAreBadInput() throws {
        try expectRejected("vm,metric,time,value\nweb-01,cpu_util,1380448800000,12\nweb-01,cpu_util,1380448900,13\n", line: 3,
                           "reads as seconds, the file's first time as milliseconds")
    }

    /// A number `auto` takes for epoch time that falls before 2000 is bad input naming its line: a date written as digits,
    /// or an offset from a trace's start, was stored in 1970 without a word. `format: epoch` takes it as it is.
    @Test func anEpochTimeBefore2000IsBadInputUnlessForced() throws {
        try expectRejected("vm,metric,time,value\nvm3,cpu_util,20240101,50\n", line: 2,
                           "time '20240101' in column 'time' read as epoch time is 1970-08-23T06:15:01Z, before 2000: an offset from a trace's start "
                           + "needs time.format: offset (with time.base)")
        let s = try Scratch()
        let path = try s.write("old.csv", "vm,metric,time,value\nvm3,cpu_util,20240101,50\n")
        let m = CSVMapping(layout: .long, time: .init(column: "time", format: .epoch))
        #expect(try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow).firstTime == 20_240_101)
    }

    @Test func aTimeFarOutOfRangeIsBadInputNotACrash() throws {
        try expectRejected("vm,metric,time,value\nweb-01,cpu_util,1e30,5\n", line: 2, "out of range")
        try expectRejected("vm,metric,time,value\nweb-01,cpu_util,-1e30,5\n", line: 2, "out of range")
    }

    @Test func unparseableRow() throws {
        try expectRejected("vm,metric,time,value\nv,cpu_util,\(t0),1\nv,cpu_util,\(t0 + 300)\n", line: 3, "3 field(s), but the header has 4")
    }

    @Test func theLineNamedCountsBlankLines() throws {
        try expectRejected("vm,metric,time,value\n\nv,cpu_util,\(t0),1\n\n\nv,cpu_util,\(t0 + 300),12%\n", line: 6, "'12%' is not a number")
    }

    @Test func nonNumericValue() throws {
        try expectRejected("vm,metric,time,value\nv,cpu_util,\(t0),1\nv,cpu_util,\(t0 + 300),12%\n", line: 3, "column 'value': '12%' is not a number")
    }

    @Test func aHexadecimalValueIsNotANumber() throws {
        try expectRejected("vm,metric,time,value\nv,cpu_util,\(t0),1\nv,cpu_util,\(t0 + 300),0x10\n", line: 3, "column 'value': '0x10' is not a number")
    }

    @Test func infiniteValue() throws {
        try expectRejected("vm,metric,time,value\nv,cpu_util,\(t0),inf\n", line: 2, "is not a number")
    }

    @Test func badTime() throws {
        try expectRejected("vm,metric,time,value\nv,cpu_util,yesterday,1\n", line: 2, "'yesterday' in column 'time' is not an ISO-8601 time")
    }

    /// Hour 24 and second 60 are bad input at their line: `24:30` rolled over into the next day, and `23:59:60` took the
    /// place of the next day's 00:00, whose own value then counted as a conflict.
    @Test func hour24AndSecond60AreBadInput() throws {
        for time in ["2024-01-01 24:30:00", "2024-01-01 24:00:00", "2024-01-01T23:59:60Z"] {
            try expectRejected("vm,metric,time,value\nv,cpu_util,2024-01-01 23:55:00,1\nv,cpu_util,\(time),2\nv,cpu_util,2024-01-02 00:00:00,3\n", line: 3,
                               "time '\(time)' in column 'time' is not an ISO-8601 time (YYYY-MM-DD[ HH:MM[:SS]][Z|±HH:MM], hours 00–23, seconds 00–59)")
        }
    }

    @Test func wrongDelimiterForced() throws {
        var m = CSVMapping.defaultLong
        m.delimiter = ","
        try expectRejected("vm;metric;time;value\nv;cpu_util;\(t0);1\n", mapping: m, line: 1, "wrong delimiter")
    }

    @Test func wrongColumnNames() throws {
        try expectRejected("host,metric,time,value\nv,cpu_util,\(t0),1\n", line: 1, "no VM column 'vm'; its columns are: 'host', 'metric', 'time', 'value'")
        try expectRejected("\n\nhost,metric,time,value\nv,cpu_util,\(t0),1\n", line: 3, "no VM column 'vm'")   // the header's own line, after blank lines
    }

    @Test func aColumnNamedTwiceIsAmbiguous() throws {
        try expectRejected("vm,metric,time,value,value\nv,cpu_util,\(t0),1,2\n", line: 1, "2 columns named 'value' (columns 4, 5)")
        // Duplicates among the columns a wide file's VMs come from: two VMs' data would be merged into one.
        var m = CSVMapping.defaultLong
        m.layout = .wideVMs
        m.metric = .init(name: "cpu_util", unit: "percent")
        try expectRejected("time,web-01,web-01\n\(t0),1,2\n", mapping: m, line: 1, "2 columns named 'web-01' (columns 2, 3)")
    }

    @Test func timesFarInTheFuture() throws {
        let now = UTC.epoch(year: 2024, month: 1, day: 1)
        try expectRejected("vm,metric,time,value\nv,cpu_util,\(now),1\nv,cpu_util,\(now + 400 * 86_400),1\n", line: 3, "after now", now: now)
    }

    @Test func aForcedTimeUnitIsObeyed() throws {
        // Whatever the magnitude says, a forced unit wins (the mapping's author knows the source).
        let s = try Scratch()
        let path = try s.write("bb.csv", "Timestamp [ms];\tCPU usage [%]\n1372629804;\t1.5\n")
        let m = CSVMapping(layout: .wideMetrics, time: .init(column: "Timestamp [ms]", format: .epoch, unit: .ms), vm: .init(name: "v"), metrics: [.init(column: "CPU usage [%]", metric: "cpu_util")])
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow)
        #expect(r.firstTime == 1_372_629, "the forced unit is obeyed")
    }

    /// `--start` (or `base`, `step`) given with a time format that does not read it is bad input naming it: epoch times
    /// took it as their base, every sample shifted by it.
    @Test func aTimeKeyOfAnotherFormatIsBadInput() throws {
        let s = try Scratch()
        let path = try s.write("epoch.csv", "vm,metric,time,value\nweb-01,cpu_util,\(t0),5\n")
        try expectFlagsRefused(["--time-format", "epoch", "--start", "1970-01-01T02:00:00Z"], path: path,
                               "'time.start' (--start) is for time format 'implicit' only, not 'epoch'")
        let offset = CSVMapping(layout: .long, time: .init(column: "time", format: .offset, base: UTC.format(t0), step: "5m"))
        try expectRejected(path: path, in: s, mapping: offset, line: nil, "'time.step' (--step) is for time format 'implicit' only, not 'offset'")
    }

    /// A blank line in a file of implicit times (start + row × step) is bad input naming it: libcsv skips it, and every
    /// later row had been stamped a step early (`10, , 30, 40` stored 30 and 40 at the second and third steps). A line
    /// break inside a quoted field is no blank line, nor are blank lines after the last row.
    @Test func aBlankLineInAFileOfImplicitTimesIsBadInput() throws {
        let implicit = CSVMapping(layout: .wideMetrics, time: .init(format: .implicit, start: UTC.format(t0), step: "5m"),
                                  vm: .init(name: "batch-01"), metrics: [.init(column: "value", metric: "cpu_util")])
        try expectRejected("value\n10\n\n30\n40\n", mapping: implicit, line: 3, "line 3 is blank, in a file whose times are implicit")
        try expectRejected("value\r\n10\r\n30\r\n\r\n\r\n40\r\n", mapping: implicit, line: 4, "line 4 is blank")
        var headless = implicit
        (headless.header, headless.metrics) = (false, [.init(column: "1", metric: "cpu_util")])
        try expectRejected("\n10\n30\n", mapping: headless, line: 1, "line 1 is blank")
        let s = try Scratch()
        let quoted = try s.write("quoted.csv", "value,note\n10,\"first\n\nsecond\"\n30,x\n\n\n")
        let r = try CSVIngester(store: s.store).ingest(path: quoted, mapping: implicit, now: replayNow)
        #expect(r.rows == 2 && r.lastTime == t0 + 300)
        #expect(try s.value(vm: "batch-01", metric: "cpu_util", time: t0 + 300) == 30)
    }

    /// A flag or mapping key the layout does not read is bad input naming it, not ignored: `--vm`, `--vm-from-filename`
    /// and `--metric` on a long file had stored its rows under their own VMs and metrics, exit 0; a wide-metrics mapping's
    /// `vm_prefix` (its VM takes `vm.prefix`) and a prefix to a fixed VM name were dropped as silently.
    @Test func aKeyTheLayoutDoesNotReadIsBadInput() throws {
        let s = try Scratch()
        let path = try s.write("long.csv", "vm,metric,time,value\nweb-01,cpu_util,\(t0),5\n")
        for (flags, named) in [(["--vm", "db-01"], "'vm' (--vm, --vm-from-filename) is for layout 'wide-metrics' only, not 'long'"),
                               (["--vm-from-filename"], "'vm' (--vm, --vm-from-filename) is for layout 'wide-metrics' only, not 'long'"),
                               (["--metric", "mem_used:KiB"], "'metric' (--metric) is for layout 'wide-vms' only, not 'long'"),
                               (["--layout", "wide-vms", "--metric", "cpu_util", "--vm", "db-01"], "'vm' (--vm, --vm-from-filename) is for layout 'wide-metrics' only, not 'wide-vms'"),
                               (["--mapping", Paths.mappings + "/nab-cpu.yaml", "--vm", "db-01", "--vm-prefix", "dc1-"], "'vm.prefix' (--vm-prefix) is for a VM name taken from a column or the file name"),
                               (["--layout", "wide-metrics", "--vm", "db-01", "--time-format", "implicit"], "time format 'implicit' needs 'start'")] {
            // Refused once, before any file is read, naming the flags (and the mapping they change), not the data file.
            try expectFlagsRefused(flags, path: path, source: flags.first == "--mapping" ? Paths.mappings + "/nab-cpu.yaml with the flags given" : "the flags given", named)
        }
        // Flags override the mapping, and complete it: a mapping of implicit times without their start, given by --start.
        let steps = try s.write("steps.yaml", "layout: wide-metrics\ntime: {format: implicit, step: 5m}\nvm: {name: db-01}\nmetrics:\n  - {column: value, metric: cpu_util}\n")
        #expect(try CSVCommand.parse(["--mapping", steps, "--start", "2024-03-01T00:00:00Z", path]).effectiveMapping().time.start == "2024-03-01T00:00:00Z")
        try expectFlagsRefused(["--mapping", steps], path: path, source: steps + " with the flags given", "time format 'implicit' needs 'start'")
        let mapping = try s.write("prefix.yaml", "layout: wide-metrics\ntime: {column: time, format: epoch}\nvm: {column: vm}\nvm_prefix: dc1-\nmetrics:\n  - {column: value, metric: cpu_util}\n")
        let error = #expect(throws: IngestError.self) { _ = try CSVMapping.load(path: mapping) }
        #expect(error?.isBadInput == true && error?.description.contains("'vm_prefix' (--vm-prefix) is for layout 'long' or 'wide-vms' only, not 'wide-metrics' (a wide-metrics file's VM takes vm.prefix)") == true,
                "\(String(describing: error))")
        let units = CSVMapping(layout: .wideVMs, time: .init(column: "time", format: .epoch), metric: .init(name: "cpu_util"), units: ["cpu_util": "fraction"])
        try expectRejected(path: path, in: s, mapping: units, line: nil, "'units' is for layout 'long' only, not 'wide-vms'")
    }

    /// `--vm-prefix` on a long file prefixes the names of its `vm` column, as it does a wide-vms file's column names.
    @Test func aVMPrefixOnALongFilePrefixesItsVMColumn() throws {
        let s = try Scratch()
        let path = try s.write("long.csv", "vm,metric,time,value\nweb-01,cpu_util,\(t0),5\n")
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: try CSVCommand.parse(["--vm-prefix", "dc1-", path]).effectiveMapping(), now: replayNow)
        #expect(r.vms == ["dc1-web-01"])
        #expect(try s.value(vm: "dc1-web-01", metric: "cpu_util", time: t0) == 5)
    }

    /// An empty VM cell is refused with its line, prefix or not: `dc1-` alone would pool rows of unknown VMs under a VM
    /// of that name.
    @Test func anEmptyVMNameIsRefusedBeforeItsPrefix() throws {
        let text = "vm,metric,time,value\nweb-01,cpu_util,\(t0),5\n,cpu_util,\(t0),7\n"
        let prefixed = try CSVCommand.parse(["--vm-prefix", "dc1-", "x.csv"]).effectiveMapping()
        try expectRejected(text, mapping: prefixed, line: 3, "VM name '' (with the prefix 'dc1-') is empty")
        try expectRejected(text, line: 3, "VM name '' is empty")
    }

    /// A VM's allocation follows what is stored: a second source's conflicting vCPU count at the same time is refused
    /// (the first value stays) and does not become the VM's allocation either.
    @Test func aRefusedConflictingValueIsNotTheVMsAllocation() throws {
        let s = try Scratch()
        let ingester = CSVIngester(store: s.store)
        _ = try ingester.ingest(path: try s.write("a.csv", "vm,metric,time,value\nweb-01,vcpus,\(t0),4\n"), mapping: .defaultLong, now: replayNow)
        let r = try ingester.ingest(path: try s.write("b.csv", "vm,metric,time,value\nweb-01,vcpus,\(t0),8\n"), mapping: .defaultLong, now: replayNow)
        #expect(try r.conflicts == 1 && s.value(vm: "web-01", metric: "vcpus", time: t0) == 4)
        #expect(try s.count("SELECT vcpus FROM vm WHERE name = 'web-01'") == 4)
    }

    /// ISO-8601 times without a UTC offset are read as UTC and said once a file, unless the mapping names their zone:
    /// `UTC` (nothing to say), or a zone whose local times they are (Grafana's CSV export in Europe/Amsterdam). A zone
    /// for epoch times, or one this system does not know, is bad input.
    @Test func timesWithoutAnOffsetAreUTCUnlessAZoneIsGiven() throws {
        let s = try Scratch()
        let text = "vm,metric,time,value\nweb-01,cpu_util,2024-07-01 10:00:00,5\nweb-01,cpu_util,2024-07-01 10:05:00,6\nweb-01,cpu_util,2024-07-01T10:10:00Z,7\n"
        let path = try s.write("local.csv", text)
        func mapping(_ flags: [String]) throws -> CSVMapping { try CSVCommand.parse(flags + [path]).effectiveMapping() }
        let plain = try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow)
        #expect(plain.warnings.filter { $0.contains("has no UTC offset") }.count == 1, "\(plain.warnings)")
        #expect(plain.warnings.first { $0.contains("has no UTC offset") }?.hasPrefix("line 2: time '2024-07-01 10:00:00'") == true)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 7, day: 1, hour: 10)) == 5)
        let s2 = try Scratch()
        let said = try CSVIngester(store: s2.store).ingest(path: try s2.write("local.csv", text), mapping: try mapping(["--time-zone", "UTC"]), now: replayNow)
        #expect(!said.warnings.contains { $0.contains("UTC offset") })
        let s3 = try Scratch()
        let local = try CSVIngester(store: s3.store).ingest(path: try s3.write("local.csv", text), mapping: try mapping(["--time-zone", "Europe/Amsterdam"]), now: replayNow)
        #expect(local.inserted == 3 && !local.warnings.contains { $0.contains("UTC offset") })
        #expect(try s3.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 7, day: 1, hour: 8)) == 5, "10:00 CEST")
        #expect(try s3.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 7, day: 1, hour: 10, minute: 10)) == 7, "an offset given stands")
        try expectFlagsRefused(["--time-zone", "Europe/Amsterdm"], path: path, "time.zone 'Europe/Amsterdm' is not UTC nor a time zone")
        try expectFlagsRefused(["--time-format", "epoch", "--time-zone", "UTC"], path: path, "'time.zone' (--time-zone) is for time format")
    }

    /// A local-time export across the autumn change lists the repeated hour twice: its second pass is read as such once
    /// the rows go back in time within it (it had been read onto the first pass: conflicts, and the hour after the change
    /// missing). Each series on its own: rows of two VMs at each time, a file of one VM's rows then another's (each
    /// starting inside the repeated hour too), newest first (the passes the other way round), hourly rows (the same
    /// local time twice), and a row of another VM going back in time between them. A row repeated within a 30-minute
    /// series is a duplicate, not the second pass; a newest-first file that starts inside the first pass stays on it.
    @Test func theHourTheAutumnChangeRepeatsIsReadTwice() throws {
        func utc(_ day: Int, _ hour: Int, _ minute: Int) -> EpochSeconds { UTC.epoch(year: 2024, month: 10, day: day, hour: hour, minute: minute) }
        let halfHourly = (locals: ["01:30", "02:00", "02:30", "02:59", "02:00", "02:30", "03:00"],
                          utc: [utc(26, 23, 30), utc(27, 0, 0), utc(27, 0, 30), utc(27, 0, 59), utc(27, 1, 0), utc(27, 1, 30), utc(27, 2, 0)])
        let insideTheHour = (locals: Array(halfHourly.locals.dropFirst()), utc: Array(halfHourly.utc.dropFirst()))
        let hourly = (locals: ["01:00", "02:00", "02:00", "03:00"], utc: [utc(26, 23, 0), utc(27, 0, 0), utc(27, 1, 0), utc(27, 2, 0)])
        // web-01's rows `lead` seconds after the time (web-02's on it): with a lead, each web-02 row goes back in time
        // from the web-01 row before it, never within its own series.
        func row(_ vm: Int, _ local: String, _ value: Int, lead: Int) -> String {
            "web-0\(vm),cpu_util,2024-10-27 \(local):\(vm == 1 ? String(format: "%02d", lead) : "00"),\(vm * 10 + value)"
        }
        func interleaved(_ l: [String], lead: Int = 0) -> [String] { l.enumerated().flatMap { i, t in [row(1, t, i, lead: lead), row(2, t, i, lead: lead)] } }
        func grouped(_ l: [String]) -> [String] { l.enumerated().map { row(1, $1, $0, lead: 0) } + l.enumerated().map { row(2, $1, $0, lead: 0) } }
        let firstPassOnly = (locals: ["02:59", "02:30", "02:00", "01:30"], utc: [utc(27, 0, 59), utc(27, 0, 30), utc(27, 0, 0), utc(26, 23, 30)])
        var repeatedRow = interleaved(halfHourly.locals)
        repeatedRow.insert(contentsOf: repeatedRow[4...5], at: 6)   // both VMs' 02:30 (first pass) rows again
        let cases = [(halfHourly, interleaved(halfHourly.locals), 0, 0), (halfHourly, grouped(halfHourly.locals), 0, 0),
                     (halfHourly, Array(interleaved(halfHourly.locals).reversed()), 0, 0), (insideTheHour, grouped(insideTheHour.locals), 0, 0),
                     (insideTheHour, interleaved(insideTheHour.locals), 0, 0), (hourly, interleaved(hourly.locals), 0, 0),
                     (hourly, Array(grouped(hourly.locals).reversed()), 0, 0), (halfHourly, interleaved(halfHourly.locals, lead: 5), 5, 0),
                     (halfHourly, repeatedRow, 0, 2), (firstPassOnly, interleaved(firstPassOnly.locals), 0, 0)]
        for (n, (series, rows, lead, duplicates)) in cases.enumerated() {
            let s = try Scratch()
            let path = try s.write("local.csv", "vm,metric,time,value\n" + rows.joined(separator: "\n") + "\n")
            let mapping = try CSVCommand.parse(["--time-zone", "Europe/Amsterdam", path]).effectiveMapping()
            let report = try CSVIngester(store: s.store).ingest(path: path, mapping: mapping, now: replayNow)
            #expect(report.inserted == 2 * series.utc.count && report.conflicts == 0 && report.duplicates == duplicates, "case \(n): \(report)")
            for (i, t) in series.utc.enumerated() {
                #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t + Int64(lead)) == Double(10 + i) && s.value(vm: "web-02", metric: "cpu_util", time: t) == Double(20 + i),
                        "case \(n): \(series.locals[i]) local is \(UTC.format(t))")
            }
            // Read again: unchanged (a file read before both passes were kept is another reading, read again).
            #expect(try CSVIngester(store: s.store).ingest(path: path, mapping: mapping, now: replayNow).inserted == 0)
        }
    }

    /// `start` (implicit times) and `base` (offsets) without a UTC offset are local times of `time.zone` as the column's
    /// are, else read as UTC and said: they were read as UTC silently, and `--time-zone` was refused for those formats,
    /// so a local-time export without a time column landed an hour or two off the calendars.
    @Test func aStartOrBaseWithoutAnOffsetIsALocalTimeOfTheZone() throws {
        func mapping(_ time: CSVMapping.TimeSpec) -> CSVMapping {
            CSVMapping(layout: .wideMetrics, time: time, vm: .init(name: "web-01"), metrics: [.init(column: "cpu_util", metric: "cpu_util")])
        }
        let july = UTC.epoch(year: 2024, month: 7, day: 1, hour: 10)
        for (start, zone, first, warned) in [("2024-07-01 10:00:00", nil, july, true), ("2024-07-01 10:00:00", "Europe/Amsterdam", july - 7200, false),
                                             ("2024-07-01T10:00:00+02:00", nil, july - 7200, false), ("2024-07-01 10:00:00", "UTC", july, false)] {
            let s = try Scratch()
            let path = try s.write("local.csv", "cpu_util\n5\n6\n")
            let report = try CSVIngester(store: s.store).ingest(path: path, mapping: mapping(.init(format: .implicit, start: start, step: "5m", zone: zone)), now: replayNow)
            #expect(try s.value(vm: "web-01", metric: "cpu_util", time: first) == 5 && s.value(vm: "web-01", metric: "cpu_util", time: first + 300) == 6, "\(start) \(zone ?? "")")
            #expect(report.warnings.contains { $0.contains("has no UTC offset") } == warned, "\(report.warnings)")
            #expect(!warned || report.warnings.contains { $0.contains("time.start '2024-07-01 10:00:00' has no UTC offset: it is read as UTC") })
        }
        let s = try Scratch()
        let path = try s.write("offsets.csv", "seconds,cpu_util\n0,5\n300,6\n")
        var offsets = mapping(.init(column: "seconds", format: .offset, base: "2024-01-15 09:00", zone: "America/New_York"))
        _ = try CSVIngester(store: s.store).ingest(path: path, mapping: offsets, now: replayNow)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: UTC.epoch(year: 2024, month: 1, day: 15, hour: 14)) == 5, "09:00 EST")
        // The flag is taken for these formats (it was refused), and still refused for epoch times.
        #expect(try CSVCommand.parse(["--time-format", "implicit", "--start", "2024-07-01 10:00", "--step", "5m", "--time-zone", "Europe/Amsterdam", path])
            .effectiveMapping().time.zone == "Europe/Amsterdam")
        offsets.time.format = .epoch
        offsets.time.base = nil
        try expectRejected("seconds,cpu_util\n0,5\n", mapping: offsets, line: nil, "'time.zone' (--time-zone) is for time format")
    }

    /// A gzip file cut short that has not changed for a while is bad input; one changed a moment ago is a file its writer
    /// is still compressing into: read up to its last whole line, the rest left for a later run, which reads it all.
    @Test func truncatedGzip() throws {
        let s = try Scratch()
        let full = try Data(contentsOf: URL(fileURLWithPath: Paths.traces + "/bitbrains_rnd/2013-7/1.csv.gz"))
        let path = s.dir + "/1.csv.gz"
        try full.prefix(full.count * 2 / 3).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120)], ofItemAtPath: path)
        let m = try CSVMapping.load(path: Paths.mappings + "/bitbrains.yaml")
        let error = #expect(throws: IngestError.self) { _ = try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow) }
        #expect(error?.isBadInput == true)
        #expect(error?.description.contains("truncated") == true)
        #expect(error?.description.hasPrefix(path + ":") == true)
        #expect(try s.count() == 0)
        #expect(try s.count("SELECT count(*) FROM source") == 0)

        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
        let partial = try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow)
        #expect(partial.inserted > 0 && partial.warnings.contains { $0.hasPrefix("the gzip data ends inside its compressed stream after ") }, "\(partial.warnings)")
        try full.prefix(12).write(to: URL(fileURLWithPath: s.dir + "/2.csv.gz"))   // the gzip header, not a line yet
        let starting = try CSVIngester(store: s.store).ingest(path: s.dir + "/2.csv.gz", mapping: m, now: replayNow)
        #expect(starting.inserted == 0 && starting.warnings.contains { $0.hasPrefix("the gzip data ends inside its compressed stream before any line") }, "\(starting.warnings)")
        try full.write(to: URL(fileURLWithPath: path))
        let whole = try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow)
        #expect(whole.warnings.isEmpty && whole.duplicates == partial.inserted, "\(whole.warnings): what the cut read is read again, unchanged")
        #expect(try s.count() == partial.inserted + whole.inserted && whole.inserted > 0)
        let plain = try Scratch()
        #expect(try s.count() == CSVIngester(store: plain.store).ingest(path: path, mapping: m, now: replayNow).inserted, "as much as the whole file read at once")
        // A second member being appended, only its first byte written yet: read up to it, held back (not bad input).
        try (full + Data([0x1f])).write(to: URL(fileURLWithPath: path))
        let appending = try CSVIngester(store: s.store).ingest(path: path, mapping: m, now: replayNow)
        #expect(appending.inserted == 0 && appending.warnings.contains { $0.hasPrefix("the gzip data ends inside its compressed stream after ") }, "\(appending.warnings)")
    }

    @Test func emptyFile() throws {
        try expectRejected("", line: nil, "empty file")
    }

    @Test func unknownMetricNeedsAUnit() throws {
        try expectRejected("vm,metric,time,value\nv,queue_depth,\(t0),1\n", line: 2, "add it to the mapping's 'units'")
    }

    /// A last line without a line end in a file changed a moment ago (a collector appending to it now) is left unread,
    /// not stored cut ("8" of "87.5", kept for good as the first value); read once complete, or once the file has
    /// settled without a line end.
    @Test func aLastLineAWriterMayBeWritingIsLeftForALaterRun() throws {
        let s = try Scratch()
        let head = "vm,metric,time,value\nweb-01,cpu_util,\(t0),10\n"
        let path = try s.write("growing.csv", head + "web-01,cpu_util,\(t0 + 300),8")
        let cut = try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow)
        #expect(cut.inserted == 1 && cut.warnings.contains { $0.hasPrefix("line 3 has no line end and the file changed") }, "\(cut.warnings)")
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 300) == nil)
        _ = try s.write("growing.csv", head + "web-01,cpu_util,\(t0 + 300),87.5\n")
        #expect(try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow).inserted == 1)
        #expect(try s.value(vm: "web-01", metric: "cpu_util", time: t0 + 300) == 87.5)
        // A file that ends without a line end and has not changed for a while is whole: its last line is read.
        let settled = try s.write("settled.csv", "vm,metric,time,value\nweb-02,cpu_util,\(t0),4")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120)], ofItemAtPath: settled)
        #expect(try CSVIngester(store: s.store).ingest(path: settled, mapping: .defaultLong, now: replayNow).inserted == 1)
        // The same content read again, at the same --now too (a replay is safe to run twice): held back while it is
        // fresh, its last line stored once it has settled. Through a symbolic link, the age is the file's.
        let stopped = try s.write("stopped.csv", "vm,metric,time,value\nweb-03,cpu_util,\(t0),6")
        let link = s.dir + "/current.csv"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: stopped)
        var linkTimes = [timeval(tv_sec: time(nil) - 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3600, tv_usec: 0)]
        #expect(lutimes(link, &linkTimes) == 0, "the link itself an hour old, the file it names fresh")
        #expect(try CSVIngester(store: s.store).ingest(path: link, mapping: .defaultLong, now: replayNow).inserted == 0)
        let again = try CSVIngester(store: s.store).ingest(path: link, mapping: .defaultLong, now: replayNow)
        #expect(again.outcome != .unchanged && again.inserted == 0)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120)], ofItemAtPath: stopped)
        #expect(try CSVIngester(store: s.store).ingest(path: link, mapping: .defaultLong, now: replayNow).inserted == 1)
        #expect(try s.value(vm: "web-03", metric: "cpu_util", time: t0) == 6)
        // A file that holds only the start of its header yet is not bad input: nothing whole to read, read again later.
        let starting = try s.write("starting.csv", "vm,metr")
        let early = try CSVIngester(store: s.store).ingest(path: starting, mapping: .defaultLong, now: replayNow)
        #expect(early.inserted == 0 && early.warnings.contains { $0.hasPrefix("line 1 has no line end") }, "\(early.warnings)")
    }

    /// A source whose percent values are all at most 1 (a 0–1 fraction mapped as percent, a hundred times idler than it
    /// is) is said; mapped as 'fraction', it is stored as percent without a word. So is one far over 100 (a vCPU sum).
    @Test func percentValuesThatLookLikeAFractionAreSaid() throws {
        let s = try Scratch()
        let rows = (0..<120).map { "web-0\($0 % 3),cpu_util,\(t0 + Int64($0) * 300),\(Double($0 % 10) / 10 + 0.05)\n" }.joined()
        let path = try s.write("fraction.csv", "vm,metric,time,value\n" + rows)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-120)], ofItemAtPath: path)
        let asPercent = try CSVIngester(store: s.store).ingest(path: path, mapping: .defaultLong, now: replayNow)
        #expect(asPercent.warnings.contains { $0.hasPrefix("all 120 values of cpu_util (3 VMs) are at most 0.95 %") }, "\(asPercent.warnings)")
        let s2 = try Scratch()
        var fraction = CSVMapping.defaultLong
        fraction.units = ["cpu_util": "fraction"]
        let asFraction = try CSVIngester(store: s2.store).ingest(path: path, mapping: fraction, now: replayNow)
        #expect(asFraction.warnings.isEmpty, "\(asFraction.warnings)")
        #expect(abs(try #require(try s2.value(vm: "web-01", metric: "cpu_util", time: t0 + 300)) - 15) < 1e-9)
        // A sum over vCPUs (100 % each) reaches far over 100: said, and stored as it is.
        let summed = try s.write("summed.csv", "vm,metric,time,value\nweb-09,cpu_util,\(t0),12\nweb-09,cpu_util,\(t0 + 300),380\n")
        let sums = try CSVIngester(store: s.store).ingest(path: summed, mapping: .defaultLong, now: replayNow)
        #expect(sums.inserted == 2 && sums.warnings.contains { $0.hasPrefix("values of cpu_util reach 380 %, where 0–100 % of the VM is expected") }, "\(sums.warnings)")
    }

    /// A metric the store holds in another unit, met mid-file, is bad input at its line, nothing of the file stored.
    @Test func aMetricStoredInAnotherUnitNamesItsLine() throws {
        let s = try Scratch()
        var counts = CSVMapping.defaultLong
        counts.units = ["queue_depth": "count"]
        _ = try CSVIngester(store: s.store).ingest(path: try s.write("a.csv", "vm,metric,time,value\nv,queue_depth,\(t0),1\n"), mapping: counts, now: replayNow)
        var bytes = CSVMapping.defaultLong
        bytes.units = ["queue_depth": "bytes"]
        let path = try s.write("b.csv", "vm,metric,time,value\nv,cpu_util,\(t0),5\nv,queue_depth,\(t0),2\n")
        let error = #expect(throws: IngestError.self) { _ = try CSVIngester(store: s.store).ingest(path: path, mapping: bytes, now: replayNow) }
        #expect(error?.description.hasPrefix("\(path):3: metric 'queue_depth' is stored in count, not bytes") == true, "\(String(describing: error))")
        #expect(try s.value(vm: "v", metric: "cpu_util", time: t0) == nil && s.count("SELECT count(*) FROM source") == 1, "nothing of the file stored")
    }

    @Test func missingFile() throws {
        let s = try Scratch()
        let error = #expect(throws: IngestError.self) { _ = try CSVIngester(store: s.store).ingest(path: s.dir + "/nope.csv", mapping: .defaultLong, now: replayNow) }
        #expect(error?.description.contains("nope.csv") == true)
    }
}

@Suite struct CSVMappingTests {
    @Test func everySampleMappingLoads() throws {
        for file in try Paths.files(in: Paths.mappings, suffix: ".yaml") where !file.contains("/prometheus-") {
            _ = try CSVMapping.load(path: file)
        }
    }

    @Test func badMappingsNameTheFileAndProblem() throws {
        let s = try Scratch()
        let cases: [(String, String)] = [
            ("layout: sideways\ntime: {format: auto}\n", "layout"),
            ("layout: wide-metrics\ntime: {column: t, format: epoch}\n", "needs 'metrics'"),
            ("layout: long\ntime: {format: implicit, start: 2024-01-01}\n", "positive 'step'"),
            ("layout: long\ntime: {format: auto}\ndelimiter: '#'\n", "delimiter must be"),
            ("layout: long\ntime: {format: epoch, start: '1970-01-01T02:00:00Z'}\n", "'time.start' (--start) is for time format 'implicit' only, not 'epoch'"),
            ("layout: [unclosed\n", "YAML"),
            ("layout: long\n", "missing 'time'"),
            // A misspelt key is refused with its line (it would leave the default in force: marker values let in).
            ("layout: wide-metrics\ntime: {column: t, format: epoch}\nvm: {name: a}\nmetrics:\n  - {column: v, metric: cpu_util, vaild: [0, 100]}\n",
             ":5: 'metrics[0].vaild': unknown key; expected one of column, metric, unit, valid"),
            ("layout: long\ntime: {format: auto}\ndelimeter: ';'\n", ":3: 'delimeter': unknown key"),
            // A misspelt key that leaves a needed one missing is named, not the key it left missing.
            ("layout: long\ntme: {format: auto}\n", ":2: 'tme': unknown key"),
            // Duplicate keys: the YAML parser's own account, not only "not valid YAML".
            ("layout: long\nlayout: long\ntime: {format: auto}\n", "duplicate"),
            // Two columns into one metric: the second's values would be dropped as conflicts (a busy VM stored as idle).
            ("layout: wide-metrics\ntime: {column: t, format: epoch}\nvm: {name: a}\nmetrics:\n  - {column: cpu_a, metric: cpu_util, unit: percent}\n"
             + "  - {column: cpu_b, metric: cpu_util, unit: percent}\n", "metric columns 'cpu_a' and 'cpu_b' both map to the metric 'cpu_util'"),
            // A unit no metric takes is said of the mapping (it had been said of the CSV file being read).
            ("layout: wide-metrics\ntime: {column: t, format: epoch}\nvm: {name: a}\nmetrics:\n  - {column: cpu, metric: cpu_util, unit: furlongs}\n",
             "metric column 'cpu': "),
            ("layout: long\ntime: {format: auto}\nunits: {cpu_util: furlongs}\n", "units: "),
        ]
        for (i, (text, fragment)) in cases.enumerated() {
            let path = try s.write("m\(i).yaml", text)
            let error = #expect(throws: IngestError.self) { _ = try CSVMapping.load(path: path) }
            #expect(error?.isBadInput == true)
            #expect(error?.description.hasPrefix(path) == true)
            #expect(error?.description.contains(fragment) == true, "\(error?.description ?? "")")
        }
    }
}

@Suite struct CSVNamesFromFilesTests {
    @Test func vmAndMetricFromTheFileName() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.dir + "/web-07", withIntermediateDirectories: true)
        let path = try s.write("web-07/net_rx.csv", "timestamp,value\n2024-03-01 00:00:00,1.5\n")
        let command = try CSVCommand.parse(["--mapping", Paths.mappings + "/nab-cpu.yaml", "--vm", "web-07", "--metric", "{filename}:KiB/s", path])
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: try command.effectiveMapping(), now: replayNow)
        #expect(r.metrics == ["net_rx"] && r.vms == ["web-07"])
        #expect(try s.value(vm: "web-07", metric: "net_rx", time: UTC.epoch(year: 2024, month: 3, day: 1)) == 1536)
    }

    /// A wide-vms file (a column per VM) of a metric its name gives: `--metric '{filename}:UNIT'` as documented.
    @Test func wideVMsMetricFromTheFileName() throws {
        let s = try Scratch()
        let path = try s.write("mem_used.csv", "time,db-01,db-02\n1709251200,1024,2048\n")
        let command = try CSVCommand.parse(["--layout", "wide-vms", "--time-format", "epoch", "--metric", "{filename}:KiB", path])
        let r = try CSVIngester(store: s.store).ingest(path: path, mapping: try command.effectiveMapping(), now: replayNow)
        #expect(r.metrics == ["mem_used"] && r.vms == ["db-01", "db-02"])
        #expect(try s.value(vm: "db-02", metric: "mem_used", time: 1_709_251_200) == 2048 * 1024)
        // Another metric's file with the same content is another source (it had been skipped as unchanged: never stored).
        let twin = try s.write("mem_capacity.csv", "time,db-01,db-02\n1709251200,1024,2048\n")
        let second = try CSVIngester(store: s.store).ingest(path: twin, mapping: try command.effectiveMapping(), now: replayNow)
        #expect(second.metrics == ["mem_capacity"] && second.vms == ["db-01", "db-02"], "\(second)")
        #expect(try s.value(vm: "db-01", metric: "mem_capacity", time: 1_709_251_200) == 1024 * 1024)
    }
}

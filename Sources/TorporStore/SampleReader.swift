import GRDB
import TorporCore

/// Reads samples back for training and planning.
public enum SampleReader {
    /// The samples of one VM (by name) and metric (by name) in [from, to): the four arguments, in that order.
    private static let inRange = "FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id WHERE vm.name = ? AND m.name = ? AND s.time >= ? AND s.time < ?"

    /// (time, value) of one VM's metric in [from, to), by time.
    public static func samples(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(time: EpochSeconds, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT s.time, s.value \(inRange) ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }

    /// The highest and the lowest of one VM's samples of `metric` in each hour of [from, to) (`from` on the hour), and
    /// how many there are (0: not known, an hour summed up before the summary counted them), by the hour's index from
    /// `from`; hours without a sample are absent. Whole hours come from the hourly summary
    /// (`SampleHours`): a VM's month of 5-minute samples is read as its 720 hours. A last part of an hour (a `to` off the
    /// hour: nothing after it is read) and a VM not yet summed up are read from the samples.
    ///
    /// `sleeps`: the VM's sleeps, whose hours are read as its history holds them (`UTC.hourAfterSleeps`): an hour a
    /// sleep begins in or lasts through is absent, one a sleep ends in is read from the samples after it.
    public static func hourly(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, sleeps: [ClosedRange<EpochSeconds>] = [],
                              in db: Database) throws -> [(index: Int, high: Double, low: Double, samples: Int)] {
        var touching: [Int: [ClosedRange<EpochSeconds>]] = [:]
        for sleep in sleeps {
            let touched = UTC.steps(touchedBy: sleep)
            for hour in stride(from: max(from, touched.lowerBound), through: min(to - 1, touched.upperBound), by: 3600) {
                touching[Int((hour - from) / 3600), default: []].append(sleep)
            }
        }
        let whole = try unmasked(vm: vm, metric: metric, from: from, to: to, in: db)
        guard !touching.isEmpty else { return whole }
        var hours = whole.filter { touching[$0.index] == nil }
        let part = try db.cachedStatement(sql: "SELECT max(s.value), min(s.value), count(*) \(inRange)")
        for (i, overlapping) in touching {
            let hour = from + Int64(i) * 3600
            guard let read = UTC.hourAfterSleeps(hour, end: min(hour + 3600, to), sleeps: overlapping),
                  let row = try Row.fetchOne(part, arguments: [vm, metric, read.lowerBound, read.upperBound]),
                  let high = row[0] as Double?, let low = row[1] as Double? else { continue }
            hours.append((i, high, low, row[2]))
        }
        return hours.sorted { $0.index < $1.index }
    }

    /// `hourly` with no interval left out.
    private static func unmasked(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(index: Int, high: Double, low: Double, samples: Int)] {
        let summed = try Bool.fetchOne(db, sql: "SELECT hours_complete != 0 FROM vm WHERE name = ?", arguments: [vm]) ?? false
        let summedUntil = summed ? max(from, UTC.floor(to)) : from
        // Read by column index from a cached statement: 10,000 VMs' months are millions of rows, and looking columns
        // up by name cost the planner a third of its time.
        func read(_ sql: String, _ arguments: StatementArguments) throws -> [(index: Int, high: Double, low: Double, samples: Int)] {
            var hours: [(index: Int, high: Double, low: Double, samples: Int)] = []
            let rows = try Row.fetchCursor(try db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() { hours.append((row[0], row[1], row[2], row[3] ?? 0)) }
            return hours
        }
        var hours = summedUntil > from ? try read("""
            SELECT (h.hour - ?) / 3600 AS i, h.high, h.low, h.samples FROM sample_hour h JOIN vm ON vm.id = h.vm_id JOIN metric m ON m.id = h.metric_id
            WHERE vm.name = ? AND m.name = ? AND h.hour >= ? AND h.hour < ? ORDER BY h.hour
            """, [from, vm, metric, from, summedUntil]) : []
        if summedUntil < to {
            hours += try read("""
                SELECT (s.time - ?) / 3600 AS i, max(s.value) AS high, min(s.value) AS low, count(*) AS samples \(inRange) GROUP BY i ORDER BY i
                """, [from, vm, metric, summedUntil, to])
        }
        return hours
    }

    /// How many samples of `metric` one VM has in [from, to), counted up to `atMost`.
    public static func count(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, atMost: Int, in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: """
            SELECT count(*) FROM (SELECT 1 \(inRange) LIMIT ?)
            """, arguments: [vm, metric, from, to, atMost]) ?? 0
    }

    /// The time of one VM's newest sample of `metric` at or before `time`; nil when it has none.
    public static func newestTime(vm: String, metric: String, upTo time: EpochSeconds, in db: Database) throws -> EpochSeconds? {
        try EpochSeconds.fetchOne(db, sql: """
            SELECT max(s.time) FROM sample s JOIN vm ON vm.id = s.vm_id JOIN metric m ON m.id = s.metric_id
            WHERE vm.name = ? AND m.name = ? AND s.time <= ?
            """, arguments: [vm, metric, time])
    }

    /// (time, value) of one VM's metric in [from, to), by time, at the times it was present: a sample at a time the
    /// source recorded the VM absent (`vcpus` or `mem_capacity` of 0, as Bitbrains records absence) is left out, missing
    /// and never idle. What the planner and the executor read raw demand with (`HourlySeries` masks such hours too).
    public static func presentSamples(vm: String, metric: String, from: EpochSeconds, to: EpochSeconds, in db: Database) throws -> [(time: EpochSeconds, value: Double)] {
        try Row.fetchAll(db, sql: """
            SELECT s.time, s.value \(inRange)
              AND NOT EXISTS (SELECT 1 FROM sample a WHERE a.vm_id = s.vm_id AND a.time = s.time AND a.value = 0
                              AND a.metric_id IN (SELECT id FROM metric WHERE name IN ('vcpus', 'mem_capacity')))
            ORDER BY s.time
            """, arguments: [vm, metric, from, to]).map { ($0["time"], $0["value"]) }
    }
}

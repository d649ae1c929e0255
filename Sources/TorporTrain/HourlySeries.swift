import Foundation
import GRDB
import TorporCore
import TorporStore

/// One VM's demand on a regular grid of steps (hourly by default), NaN where it is missing, with the VM's other
/// resource use on the same grid as context for the model.
public struct HourlySeries: Equatable, Sendable {
    /// The start of the first step (aligned to the step).
    public var start: EpochSeconds
    public var step: Int64
    /// Demand per step; NaN = missing (a gap, or the VM absent or hibernated), never zero.
    public var values: [Float]
    /// Resource use beside the demand, one series per `contextNames` entry (each as long as `values`, or empty when the
    /// VM has none of it), NaN where missing: memory in use as a share of the allocation (0–1), and network and disk
    /// traffic on a fixed log scale, log10(1 + bytes/s) / 9 (1 GB/s ≈ 1), so no per-VM scale is needed.
    public var context: [[Float]]
    /// The steps missing in `values` for having too few samples (`sparseHours`): their readings are real, a few
    /// minutes' worth, where a replay scores demand.
    public var sparse: Set<Int> = []
    /// The allocated vCPUs each step's demand was measured on (the most its samples record; NaN where unknown), as long
    /// as `values`, or empty when the source records none.
    public var vcpus: [Float] = []
    /// The fewest vCPUs each step's samples record (the count it ended on, when the VM's vCPUs were cut in it), as
    /// `vcpus`.
    public var fewestVCPUs: [Float] = []

    /// What `context` holds, in order.
    public static let contextNames = ["memory", "network", "disk"]

    public init(start: EpochSeconds, step: Int64, values: [Float], context: [[Float]] = [], sparse: Set<Int> = [], vcpus: [Float] = [],
                fewestVCPUs: [Float] = []) {
        self.start = start
        self.step = step
        self.values = values
        self.context = context.isEmpty ? Self.contextNames.map { _ in [] } : context
        self.sparse = sparse
        self.vcpus = vcpus
        self.fewestVCPUs = fewestVCPUs.isEmpty ? vcpus : fewestVCPUs
    }

    public func time(of index: Int) -> EpochSeconds { start + Int64(index) * step }

    /// The hour of the week of each step and of `beyond` steps after the series, on `clock` (`WeekClock`).
    public func hoursOfWeek(_ clock: WeekClock, beyond: Int = 0) -> [Int] {
        clock.hoursOfWeek(from: start, count: values.count + beyond)
    }

    /// Builds the hourly series of `vm` over [from, to) from the store (`SampleReader.hourly`). Each hour's demand is
    /// the **maximum** of its samples of `metric` (the mean would hide the spikes that matter). An hour is missing when it
    /// has no sample, when it has under half the samples the VM's hours usually have (`sparseHours`: the collector down
    /// for most of it), when any sample of the hour shows the VM absent (`vcpus` or `mem_capacity` of 0, as Bitbrains
    /// records absence): missing, never idle. `excluded` (the VM's own hibernations) leaves out what a sleep hides: an
    /// hour one begins in or lasts through is missing (the calm minutes before a sleep are no idle hour), and an hour one
    /// ends in is judged by its samples after the wake alone (the demand measured after a VM's demand woke it early in an
    /// hour is kept; a few minutes are sparse) (`UTC.hourAfterSleeps`). With `context`, memory, network and disk use are
    /// loaded too (the maximum per hour, missing at the same hours and at every hour a sleep spends time in).
    /// CPU utilization is read on the VM's newest vCPU count (`onNewestVCPUs`), unless `asMeasured` (a replay rescales
    /// each replayed hour's history itself, with the count known then).
    public static func load(vm: String, metric: String = "cpu_util", from: EpochSeconds, to: EpochSeconds,
                            excluded: [ClosedRange<EpochSeconds>] = [], context withContext: Bool = false, asMeasured: Bool = false,
                            in db: Database) throws -> HourlySeries {
        let step: Int64 = 3600, first = UTC.floor(from, to: step)
        let count = max(0, Int((to - first + step - 1) / step))
        // Memory, network and disk are missing at the hours a sleep touches, and the VM is absent in an hour whose rows
        // say so anywhere in it: whole hours.
        func hourly(_ metric: String) throws -> [(index: Int, high: Double, low: Double, samples: Int)] {
            try SampleReader.hourly(vm: vm, metric: metric, from: first, to: to, in: db)
        }
        func maxPerStep(_ metric: String) throws -> [Float] {
            var values = [Float](repeating: .nan, count: count)
            // A value beyond float range (a wrong unit, a corrupt source) is no reading: it would blow training up.
            for h in try hourly(metric) where Float(h.high).isFinite { values[h.index] = Float(h.high) }
            return values
        }
        // The demand's hours, and the counts of the day before `first` too: an hour is judged sparse on the hours before
        // it, wherever the read starts.
        let lead = Int(leadSeconds / step)
        var values = [Float](repeating: .nan, count: count), samples = [Int](repeating: 0, count: lead + count)
        for h in try SampleReader.hourly(vm: vm, metric: metric, from: first - Int64(lead) * step, to: to, sleeps: excluded, in: db) {
            samples[h.index] = h.samples
            if h.index >= lead, Float(h.high).isFinite { values[h.index - lead] = Float(h.high) }
        }
        var missing = Set<Int>(), vcpus = [Float](repeating: .nan, count: count), fewest = vcpus
        for h in try hourly("vcpus") {
            if h.low == 0 { missing.insert(h.index) } else { (vcpus[h.index], fewest[h.index]) = (Float(h.high), Float(h.low)) }
        }
        for h in try hourly("mem_capacity") where h.low == 0 { missing.insert(h.index) }
        let sparse = Set(sparseHours(samples).filter { $0 >= lead }.map { $0 - lead }).subtracting(missing)   // missing only for their few samples
        missing.formUnion(sparse)
        for i in missing { values[i] = .nan }
        let known = vcpus.contains { !$0.isNaN }
        func measured(_ series: HourlySeries) -> HourlySeries {
            var series = series
            if known { (series.vcpus, series.fewestVCPUs) = (vcpus, fewest) }
            return metric == "cpu_util" && !asMeasured ? series.onNewestVCPUs() : series
        }
        guard withContext else { return measured(HourlySeries(start: first, step: step, values: values, sparse: sparse)) }
        var context = [try memoryShare(maxPerStep), try traffic(maxPerStep("net_rx"), maxPerStep("net_tx")),
                       try traffic(maxPerStep("disk_read"), maxPerStep("disk_write"))]
        for c in context.indices {
            for i in missing.union(indices(touchedBy: excluded, first: first, count: count)) { context[c][i] = .nan }
            if context[c].allSatisfy(\.isNaN) { context[c] = [] }
        }
        return measured(HourlySeries(start: first, step: step, values: values, context: context, sparse: sparse))
    }

    /// This series' CPU utilization as a share of the VM's newest vCPU count: the fewest of the newest step with both a
    /// demand reading and a count (a VM asleep or off reports its definition's count, not the one it runs with). A step
    /// measured on more vCPUs is scaled up by their ratio, capped at 100 % (50 % of 4 vCPUs is 100 % of the 2 the VM
    /// has since), so that a VM whose vCPUs were cut is not forecast as quiet as it was. A step measured on fewer is kept
    /// as measured: its 100 % may have been capped by the vCPUs it had, and scaling it down could hide demand. A step
    /// whose count changed within it was measured on the most it had (scaled up, never down, for its part on fewer).
    public func onNewestVCPUs() -> HourlySeries {
        guard !fewestVCPUs.isEmpty,   // a source without counts (a replay asks every hour)
              let last = values.indices.last(where: { !values[$0].isNaN && $0 < fewestVCPUs.count && !fewestVCPUs[$0].isNaN }) else { return self }
        let newest = fewestVCPUs[last]
        var scaled = self
        for i in vcpus.indices where vcpus[i] > newest {   // NaN > newest is false
            if !values[i].isNaN { scaled.values[i] = min(max(100, values[i]), values[i] * vcpus[i] / newest) }
            scaled.vcpus[i] = newest
            scaled.fewestVCPUs[i] = min(fewestVCPUs[i], newest)
        }
        return scaled
    }

    /// The day before a read's first hour, whose sample counts the sparse rule reads too.
    static let leadSeconds: Int64 = 86_400

    /// How far back the sleeps given to `load` must reach for a read from `from` (`leadSeconds` before it).
    public static func sleepsFrom(_ from: EpochSeconds) -> EpochSeconds { from - leadSeconds }

    /// The hours (indices) that have a sample but under half the samples of the hours before them usually do: the median
    /// count of the hours with samples among the day before it and itself. Their readings tell of a few minutes of
    /// the hour, not of its rest. Only earlier hours count, so that a replay's hour is judged as production judged it
    /// then; a source that samples less often from some hour on has its next hours missing until they are the usual.
    static func sparseHours(_ samples: [Int]) -> Set<Int> {
        var sparse = Set<Int>(), usual: [Int] = []
        usual.reserveCapacity(25)
        for i in samples.indices where samples[i] > 0 {
            if isSparse(hour: i, of: samples, scratch: &usual) { sparse.insert(i) }
        }
        return sparse
    }

    /// Whether hour `i` of `counts` (samples per hour) is sparse (`sparseHours`). `scratch` is working space, reused
    /// from hour to hour.
    public static func isSparse(hour i: Int, of counts: [Int], scratch usual: inout [Int]) -> Bool {
        usual.removeAll(keepingCapacity: true)
        for c in counts[max(0, i - 24)...i] where c > 0 { usual.append(c) }
        usual.sort()
        return !usual.isEmpty && counts[i] * 2 < usual[usual.count / 2]
    }

    /// The indices of the `count` hours from `first` (on the hour) that `spans` (a VM's sleeps) spend time in.
    public static func indices(touchedBy spans: [ClosedRange<EpochSeconds>], first: EpochSeconds, count: Int) -> Set<Int> {
        var touched = Set<Int>()
        for span in spans {
            let hours = UTC.steps(touchedBy: span)
            let lo = max(0, Int((hours.lowerBound - first) / 3600)), hi = min(count - 1, Int((hours.upperBound - first) / 3600))
            if lo <= hi { touched.formUnion(lo...hi) }
        }
        return touched
    }

    /// The series of `vm` over [from, to) as production knows it: the hours the VM slept (the journal's hibernations, up
    /// to `now`) are missing, never idle.
    public static func loadExcludingSleeps(vm: String, from: EpochSeconds, to: EpochSeconds, now: EpochSeconds, context: Bool,
                                           in db: Database) throws -> HourlySeries {
        try load(vm: vm, from: from, to: to, excluded: try JournalRepository.hibernatedIntervals(vm: vm, from: sleepsFrom(from), now: now, in: db),
                 context: context, in: db)
    }

    /// Memory in use per step as a share of the allocation: `mem_util` where the source gives it, else
    /// `mem_used / mem_capacity`.
    private static func memoryShare(_ maxPerStep: (String) throws -> [Float]) throws -> [Float] {
        let util = try maxPerStep("mem_util"), used = try maxPerStep("mem_used"), capacity = try maxPerStep("mem_capacity")
        return util.indices.map { i in
            if !util[i].isNaN { return min(1.5, util[i] / 100) }
            return capacity[i] > 0 && !used[i].isNaN ? min(1.5, used[i] / capacity[i]) : .nan
        }
    }

    /// Two directions of traffic (bytes/s) per step on the fixed log scale; missing only when both are.
    private static func traffic(_ a: [Float], _ b: [Float]) -> [Float] {
        zip(a, b).map { x, y in
            x.isNaN && y.isNaN ? .nan : log10(1 + max(0, (x.isNaN ? 0 : x) + (y.isNaN ? 0 : y))) / 9
        }
    }

    /// The first `count` steps (the history up to a replayed hour).
    public func prefix(_ count: Int) -> HourlySeries {
        HourlySeries(start: start, step: step, values: Array(values.prefix(count)), context: context.map { Array($0.prefix(count)) },
                     sparse: sparse.filter { $0 < count }, vcpus: Array(vcpus.prefix(count)), fewestVCPUs: Array(fewestVCPUs.prefix(count)))
    }

    /// The steps after the first `count` (a history read from a later start).
    public func dropFirst(_ count: Int) -> HourlySeries {
        HourlySeries(start: time(of: count), step: step, values: Array(values.dropFirst(count)), context: context.map { Array($0.dropFirst(count)) },
                     sparse: Set(sparse.filter { $0 >= count }.map { $0 - count }), vcpus: Array(vcpus.dropFirst(count)),
                     fewestVCPUs: Array(fewestVCPUs.dropFirst(count)))
    }

    /// Share of steps that hold a value.
    public var coverage: Double {
        values.isEmpty ? 0 : Double(values.filter { !$0.isNaN }.count) / Double(values.count)
    }
}

import Foundation
import GRDB
import TorporCore
import TorporStore

/// One VM's demand on a regular grid of steps (hourly by default), NaN where it is missing.
public struct HourlySeries: Equatable, Sendable {
    /// The start of the first step (aligned to the step).
    public var start: EpochSeconds
    public var step: Int64
    /// Demand per step; NaN = missing (a gap, or the VM absent or hibernated), never zero.
    public var values: [Float]

    public init(start: EpochSeconds, step: Int64, values: [Float]) {
        self.start = start
        self.step = step
        self.values = values
    }

    public func time(of index: Int) -> EpochSeconds { start + Int64(index) * step }

    /// Builds the series of `vm` over [from, to) from the store. Each step's demand is the **maximum** of its samples
    /// of `metric` (the mean would hide the spikes that matter). A step is missing when it has no sample, and also when
    /// any sample of the step shows the VM absent (`vcpus` or `mem_capacity` of 0, as Bitbrains records absence) or
    /// when it falls in one of `excluded` intervals (the VM's own hibernations): missing, never idle.
    public static func load(vm: String, metric: String = "cpu_util", from: EpochSeconds, to: EpochSeconds, step: Int64 = 3600,
                            excluded: [ClosedRange<EpochSeconds>] = [], in db: Database) throws -> HourlySeries {
        let first = UTC.floor(from, to: step)
        let count = Int((to - first + step - 1) / step)
        var values = [Float](repeating: .nan, count: max(0, count))
        func index(_ t: EpochSeconds) -> Int { Int((t - first) / step) }
        for s in try SampleReader.samples(vm: vm, metric: metric, from: first, to: to, in: db) {
            let i = index(s.time)
            values[i] = values[i].isNaN ? Float(s.value) : max(values[i], Float(s.value))
        }
        var absent = Set<Int>()
        for allocation in ["vcpus", "mem_capacity"] {
            for s in try SampleReader.samples(vm: vm, metric: allocation, from: first, to: to, in: db) where s.value == 0 {
                absent.insert(index(s.time))
            }
        }
        for i in absent { values[i] = .nan }
        for range in excluded {
            let lo = max(0, index(range.lowerBound)), hi = min(values.count - 1, index(range.upperBound))
            if lo <= hi { for i in lo...hi { values[i] = .nan } }
        }
        return HourlySeries(start: first, step: step, values: values)
    }

    /// Share of steps that hold a value.
    public var coverage: Double {
        values.isEmpty ? 0 : Double(values.filter { !$0.isNaN }.count) / Double(values.count)
    }
}

import TorporCore

/// One VM's measured demand at the source's own resolution, by time. Each sample stands for [time, time + interval)
/// (cut short where the next sample comes sooner), `interval` being the VM's median sample spacing. What the executor's
/// idle timeout reads, and what the backtest scores against.
public struct DemandSamples: Sendable {
    public var times: [EpochSeconds]
    public var values: [Double]
    public var interval: Int64

    /// Samples by time.
    public init(_ samples: [(time: EpochSeconds, value: Double)]) {
        times = samples.map(\.time)
        values = samples.map(\.value)
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }.filter { $0 > 0 }.sorted()
        interval = gaps.isEmpty ? 3600 : gaps[gaps.count / 2]
    }

    /// Whether sample `k` follows the one before without a gap (sources jitter by a few seconds).
    public func continues(_ k: Int) -> Bool { k > 0 && times[k] - times[k - 1] <= interval + interval / 2 }

    public func end(of k: Int) -> EpochSeconds { k + 1 < times.count ? min(times[k] + interval, times[k + 1]) : times[k] + interval }

    /// The first sample in [from, to) at or over `threshold`.
    public func firstDemand(from: EpochSeconds, to: EpochSeconds, threshold: Double) -> EpochSeconds? {
        var k = firstIndex(atOrAfter: from)
        while k < times.count && times[k] < to {
            if values[k] >= threshold { return times[k] }
            k += 1
        }
        return nil
    }

    /// The first moment in [from, to) at which the demand is known and under `threshold`: `from` itself if the sample
    /// covering it is, else the start of the first later sample that is (a gap is not idle).
    public func firstCalm(from: EpochSeconds, to: EpochSeconds, threshold: Double) -> EpochSeconds? {
        guard from < to else { return nil }
        var k = firstIndex(atOrAfter: from)
        if k > 0 && from < end(of: k - 1) && values[k - 1] < threshold { return from }
        while k < times.count && times[k] < to {
            if values[k] < threshold { return times[k] }
            k += 1
        }
        return nil
    }

    /// The idle timeout: the first moment in [from, to) by which the demand has stayed under `threshold` for `duration`,
    /// counted from `origin` at the earliest (a VM's wake: it reported nothing while asleep) and restarted by every
    /// sample at or over the threshold and every gap in the data (missing is not idle).
    public func firstIdle(for duration: Int64, from: EpochSeconds, to: EpochSeconds, threshold: Double, countingFrom origin: EpochSeconds = .min) -> EpochSeconds? {
        var k = max(0, firstIndex(atOrAfter: max(origin, from - duration)) - 1)
        var calmSince: EpochSeconds?
        while k < times.count && times[k] < to {
            if values[k] >= threshold || end(of: k) <= origin {
                calmSince = nil
            } else {
                if calmSince == nil || !continues(k) { calmSince = max(times[k], origin) }
                let moment = max(from, calmSince! + duration)
                if moment < end(of: k) && moment < to { return moment }
            }
            k += 1
        }
        return nil
    }

    /// When demand expected from `start` (an hour the forecast called for demand in) proved not to come, judged on the
    /// samples before `until`: the demand stayed under `threshold` for `duration` from it (counted from the first sample
    /// after it, which may come up to two intervals late: a collector needs two readings of a just restored VM for a
    /// rate; a later gap is not calm), and no sample reached the threshold since. nil when either is not so, or not
    /// known yet at `until`.
    public func noDemand(after start: EpochSeconds, for duration: Int64, until: EpochSeconds, threshold: Double) -> EpochSeconds? {
        let known = slice(from: start, to: until, excluding: [])   // what production has: from `start` (none while asleep) until `until`
        guard known.firstDemand(from: start, to: until, threshold: threshold) == nil else { return nil }
        return known.firstIdle(for: duration, from: start, to: min(until, start + duration + 2 * interval) + 1, threshold: threshold,
                               countingFrom: start)
    }

    /// The samples in [from, to) outside `spans` (sorted by start), keeping the interval: what production has of a VM
    /// that slept in those spans, since a sleeping VM reports nothing.
    public func slice(from: EpochSeconds, to: EpochSeconds, excluding spans: [Range<EpochSeconds>]) -> DemandSamples {
        var result = self
        let first = firstIndex(atOrAfter: from), count = max(first, firstIndex(atOrAfter: to))
        let relevant = spans.drop { $0.upperBound <= from }.prefix { $0.lowerBound < to }
        let kept = (first..<count).filter { k in !relevant.contains { $0.contains(times[k]) } }
        result.times = kept.map { times[$0] }
        result.values = kept.map { values[$0] }
        return result
    }

    private func firstIndex(atOrAfter t: EpochSeconds) -> Int {
        var lo = 0, hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

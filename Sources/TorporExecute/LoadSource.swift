import Foundation
import TorporCore
import TorporStore
import TorporVirt

/// Where the pre-flight check reads a VM's demand right before a hibernation.
public protocol LoadSource: Sendable {
    /// The domain's CPU utilization at `now`, in percent of its vCPUs.
    func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double
}

/// Fresh libvirt statistics: the domain's CPU time twice, `interval` seconds apart.
public struct SampledLoad: LoadSource {
    public var interval: Double

    public init(interval: Double = 3) { self.interval = interval }

    public func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double {
        // Timed on the monotonic clock: a step of the wall clock (NTP) in the sample had read a busy VM as idle (a
        // negative or a stretched interval).
        let clock = ContinuousClock()
        let reason = try domain.runningReason()
        let first = try domain.info()
        let started = clock.now
        Thread.sleep(forTimeInterval: interval)
        let second = try domain.info()
        let elapsed = clock.now - started
        // Paused (and perhaps resumed) meanwhile, its paused time counted no CPU: no reading (a pause and a resume leave it
        // running for another reason, unpaused; a second pause after a first is not seen).
        guard reason != nil, try domain.runningReason() == reason else {
            throw StageError(.runtime, "\(domain.name) did not run all through its CPU load sample (paused, resumed or stopped meanwhile): missing is not idle")
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds > 0 else { throw StageError(.runtime, "\(domain.name)'s CPU load could not be sampled (no time passed): missing is not idle") }
        let used = Double(second.cpuTimeNanoseconds &- first.cpuTimeNanoseconds) / 1e9
        return 100 * used / (seconds * Double(max(1, second.vcpus)))
    }
}

/// The newest CPU utilization the store holds for the VM (the 5-minute collector's), if it is at most `maxAge` old;
/// older or none is refused: missing is not idle.
public struct StoredLoad: LoadSource {
    public let store: Store
    public var maxAge: Int64

    public init(store: Store, maxAge: Int64 = 600) {
        self.store = store
        self.maxAge = maxAge
    }

    public func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double {
        let latest = try store.read { try SampleReader.presentSamples(vm: domain.name, metric: "cpu_util", from: now - maxAge, to: now + 1, in: $0) }.last
        guard let latest else {
            throw StageError(.runtime, "no CPU utilization of \(domain.name) in the store within \(DurationText.format(maxAge)) before \(UTC.format(now)) (missing is not idle)")
        }
        return latest.value
    }
}

import Foundation
import TorporVirt

/// Where the pre-flight check reads a VM's demand right before a hibernation.
public protocol LoadSource: Sendable {
    /// The domain's CPU utilization now, in percent of its vCPUs.
    func demand(of domain: VirtDomain) throws -> Double
}

/// Fresh libvirt statistics: the domain's CPU time twice, `interval` seconds apart.
public struct SampledLoad: LoadSource {
    public var interval: Double

    public init(interval: Double = 3) { self.interval = interval }

    public func demand(of domain: VirtDomain) throws -> Double {
        let first = try domain.info()
        let started = Date()
        Thread.sleep(forTimeInterval: interval)
        let second = try domain.info()
        let wall = Date().timeIntervalSince(started)
        let used = Double(second.cpuTimeNanoseconds &- first.cpuTimeNanoseconds) / 1e9
        return 100 * used / (wall * Double(max(1, second.vcpus)))
    }
}

/// A fixed demand per VM (tests, and the libvirt test driver, whose CPU time is wall-clock time).
public struct FixedLoad: LoadSource {
    public var percent: [String: Double]
    public var otherwise: Double

    public init(_ percent: [String: Double] = [:], otherwise: Double = 0) {
        self.percent = percent
        self.otherwise = otherwise
    }

    public func demand(of domain: VirtDomain) throws -> Double { percent[domain.name] ?? otherwise }
}

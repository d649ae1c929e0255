import TorporCore
@testable import TorporExecute
import TorporVirt

/// A fixed pre-flight load per VM: the libvirt test driver reports CPU time as wall-clock time.
struct FixedLoad: LoadSource {
    var percent: [String: Double]
    var otherwise: Double

    init(_ percent: [String: Double] = [:], otherwise: Double = 0) {
        self.percent = percent
        self.otherwise = otherwise
    }

    func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double { percent[domain.name] ?? otherwise }
}

/// A fixed set of VMs a demand signal wants.
struct FixedDemandSignal: DemandSignal {
    var wanted: Set<String>
    init(_ wanted: Set<String>) { self.wanted = wanted }
    func demand(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String? {
        wanted.contains(vm) ? "wanted (test signal)" : nil
    }
    func unmatched(vms: [(name: String, labels: [String: String])]) -> [String] {
        wanted.filter { name in !vms.contains { $0.name == name } }.sorted().map { "no VM is named \($0)" }
    }
}

/// A demand signal whose source does not answer.
struct UnavailableDemandSignal: DemandSignal {
    func demand(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String? {
        throw DemandSignalUnavailable(description: "the test signal does not answer")
    }
    func unmatched(vms: [(name: String, labels: [String: String])]) -> [String] { [] }
}

/// A pre-flight load that does something (a person's command) the first time it is read, as if while it was read.
final class LoadWithAnAct: LoadSource, @unchecked Sendable {
    private let load: FixedLoad
    private var act: (() throws -> Void)?

    init(_ load: FixedLoad, act: @escaping () throws -> Void) {
        self.load = load
        self.act = act
    }

    func demand(of domain: VirtDomain, at now: EpochSeconds) throws -> Double {
        if let act { self.act = nil; try act() }
        return try load.demand(of: domain, at: now)
    }
}

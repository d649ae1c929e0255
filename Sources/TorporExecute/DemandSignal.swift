import Foundation
import TorporCore
import TorporIngest
import TorporStore

/// A live sign that a sleeping VM is wanted now (connection attempts at a load balancer in front of it, say): the
/// executor restores the VM at once, whatever the plan says.
public protocol DemandSignal: Sendable {
    /// Why `vm` is wanted at `now`, or nil.
    func demand(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String?
    /// Why the signal does not let `vm` be put to sleep at `now`: it is wanted, or a question about it had no answer
    /// (missing is not idle); nil when it is not wanted.
    func holdsSleep(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String?
    /// Whether the signal asks anything about `vm` (a rule names it or its label).
    func covers(vm: String, labels: [String: String]) -> Bool
    /// The signal's parts that concern none of `vms` (a misspelt name wakes nothing), each said as an operator fixes it.
    func unmatched(vms: [(name: String, labels: [String: String])]) -> [String]
}

extension DemandSignal {
    public func holdsSleep(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String? {
        try demand(vm: vm, labels: labels, at: now)
    }

    public func covers(vm: String, labels: [String: String]) -> Bool { true }
}

/// A demand signal's source failed as a whole (not answering, a server error), not one VM's question: asking it
/// again in the same pass would fail the same way, after the same timeout.
public struct DemandSignalUnavailable: Error, CustomStringConvertible {
    public let description: String
}

/// Prometheus queries per VM or label group (`--wake-on VM=QUERY`, `--wake-on group=web=QUERY`): the VM is wanted when
/// any value of the query's answer is above `threshold`. `$vm` in a query stands for the VM's name.
public struct PrometheusDemandSignal: DemandSignal {
    public struct Rule: Sendable, Equatable {
        /// A VM name, or `label=value`.
        public var selector: String
        public var query: String

        public init(selector: String, query: String) {
            self.selector = selector
            self.query = query
        }

        /// Parses `SELECTOR=QUERY`, where the selector is a VM name or `label=value`.
        public static func parse(_ text: String) -> Rule? {
            let parts = text.split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, !parts[0].isEmpty else { return nil }
            // label=value=QUERY has three parts unless the query itself has '=': prefer the label form when the
            // middle part is a plain word and the rest is not the end of an `==` (no query starts with '=').
            if parts.count == 3, parts[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }), !parts[1].isEmpty,
               !parts[2].hasPrefix("=") {
                return Rule(selector: parts[0] + "=" + parts[1], query: parts[2])
            }
            return Rule(selector: parts[0], query: parts.dropFirst().joined(separator: "="))
        }

        func matches(vm: String, labels: [String: String]) -> Bool {
            let kv = selector.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? labels[kv[0]] == kv[1] : selector == vm
        }
    }

    public let client: PrometheusClient
    public let rules: [Rule]
    public let threshold: Double

    public init(client: PrometheusClient, rules: [Rule], threshold: Double = 0) {
        self.client = client
        self.rules = rules
        self.threshold = threshold
    }

    public func unmatched(vms: [(name: String, labels: [String: String])]) -> [String] {
        rules.filter { rule in !vms.contains { rule.matches(vm: $0.name, labels: $0.labels) } }.map { rule in
            "--wake-on \(rule.selector)=\(rule.query): " + (rule.selector.contains("=") ? "no VM has the label \(rule.selector)" : "no VM is named \(rule.selector)")
                + " (a misspelt rule wakes nothing)"
        }
    }

    public func demand(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String? {
        try ask(vm: vm, labels: labels, at: now, noValueHolds: false)
    }

    public func holdsSleep(vm: String, labels: [String: String], at now: EpochSeconds) throws -> String? {
        try ask(vm: vm, labels: labels, at: now, noValueHolds: true)
    }

    public func covers(vm: String, labels: [String: String]) -> Bool { rules.contains { $0.matches(vm: vm, labels: labels) } }

    /// Asks each rule for `vm`: why it is wanted, or (`noValueHolds`) why a query's empty answer (its exporter down, a
    /// series gone) does not let it sleep.
    func ask(vm: String, labels: [String: String], at now: EpochSeconds, noValueHolds: Bool) throws -> String? {
        for rule in rules where rule.matches(vm: vm, labels: labels) {
            let query = rule.query.replacingOccurrences(of: "$vm", with: vm)
            let values: [Double]
            do { values = try client.queryInstant(query, at: now) } catch {
                guard error.isBadInput else { throw DemandSignalUnavailable(description: error.description) }
                throw error
            }
            if let value = values.max(), value > threshold {
                return "demand signal: \(query) = \(value) > \(threshold)"
            }
            if values.isEmpty && noValueHolds { return "demand signal: \(query) has no value now (missing is not idle)" }
        }
        return nil
    }
}

import Foundation
import TorporCore
import TorporPlan
import TorporStore

// Writes and approves a plan that hibernates VM on HOST at NOW for 3 hours (crafted forecast), for the executor
// benchmark; prints the restore's start time (ISO-8601).
// Usage: torpor-bench-execute STORE HOST VM NOW
let arguments = CommandLine.arguments
guard arguments.count == 5, let now = UTC.parseInstant(arguments[4]) else {
    StandardError.line("usage: torpor-bench-execute STORE HOST VM NOW")
    exit(2)
}
let store = try Store(path: arguments[1])
let forecast = QuantileForecast(start: now, quantiles: [0.5, 0.9, 0.99], values: (0..<24).map { $0 < 3 ? [1, 2, 3] : [70, 80, 90] }, source: "crafted")
let policy = try Policy.parse("""
    defaults: {tier: silver, hibernate_below: 50, restore_above: 60, min_idle: 1h}
    tiers: {silver: {quantile: 0.9, priority: 2}}
    guardrails: {max_hibernated_share: 1, min_running: 0}
    """, source: "bench")
let vm = PlanningVM(name: arguments[3], host: arguments[2], vcpus: 1, memoryBytes: 128 << 20, knownHours: 720, forecast: forecast)
let plan = Planner.plan(PlanningInput(now: now, vms: [vm], events: [], policy: policy, policySHA256: "bench", model: "crafted", dataWatermark: now))
let bytes = plan.encoded()
try Approvals.record(plan, bytes: bytes, demandCalls: [:], in: store)
_ = try Approvals.approve(plan, bytes: bytes, source: "bench plan", only: nil, except: [], by: "bench", now: now, in: store)
print(plan.actions.first { $0.action == .restore }!.at.text)

import Foundation
import Testing
@testable import TorporPlan

@Suite struct PolicyTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func theSamplePolicyAndTheEmbeddedDefaultParse() throws {
        let (sample, digest) = try Policy.load(path: Self.repository + "/sample-data/policy.yaml")
        #expect(digest.count == 64)
        #expect(sample.tiers["gold"]?.quantile == 0.99)
        let web = sample.settings(vm: "web-01", labels: ["tier": "gold", "group": "web"])
        #expect(web.tier == "gold")
        #expect(sample.settings(vm: "db-01", labels: [:]).excluded != nil)
        let d = Policy.embeddedDefault
        #expect(d.horizonHours == 24 && d.defaultHost.concurrentRestores == 2)
        #expect(d.settings(vm: "x", labels: [:]) == .init(tier: "silver", hibernateBelow: 5, restoreAbove: 15, minIdle: 4 * 3600, idleTimeout: false, excluded: nil))
    }

    @Test func overridesApplyDefaultsThenGroupsThenVMs() throws {
        let p = try Policy.parse("""
            defaults: {tier: silver, hibernate_below: 5, restore_above: 15, min_idle: 4h}
            tiers: {silver: {quantile: 0.9, priority: 2}, gold: {quantile: 0.99, priority: 1}}
            groups:
              - {match: {group: web}, hibernate_below: 3, tier: gold}
            vms: {web-02: {min_idle: 8h}, batch-01: {idle_timeout: true, max_sleep: 3d}}
            hosts: {"qemu+ssh://kvm1/system": {state_pool: 64GiB, concurrent_restores: 4, memory: 256GiB}}
            """, source: "p.yaml")
        #expect(p.settings(vm: "web-02", labels: ["group": "web"]) == .init(tier: "gold", hibernateBelow: 3, restoreAbove: 15, minIdle: 8 * 3600, idleTimeout: false, excluded: nil))
        #expect(p.settings(vm: "batch-01", labels: [:]).idleTimeout && p.settings(vm: "batch-01", labels: [:]).maxSleep == 3 * 86_400)
        #expect(p.settings(vm: "web-02", labels: [:]).maxSleep == nil)
        #expect(p.host("qemu+ssh://kvm1/system") == .init(statePoolBytes: 64 << 30, concurrentRestores: 4, memoryBytes: 256 << 30, vcpus: nil))
    }

    @Test(arguments: [
        ("defaults: {min_idle: soon}\ntiers: {silver: {quantile: 0.9, priority: 2}}", "'defaults.min_idle': 'soon' is not a duration"),
        ("tiers: {silver: {quantile: 1.5, priority: 2}}", "'tiers.silver.quantile': 1.5 is not a quantile torpor forecasts (0.1, 0.25, 0.5, 0.9, 0.99)"),
        ("tiers: {silver: {quantile: 0.95, priority: 2}}", "'tiers.silver.quantile': 0.95 is not a quantile torpor forecasts"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {max_sleep: forever}}", "'vms.a.max_sleep': 'forever' is not a duration"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {tier: platinum}}", "'vms.a.tier': no tier 'platinum'"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefaults: {hibernate_below: 20, restore_above: 10}", "hibernate_below (20.0) is above restore_above (10.0)"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nhosts: {h: {state_pool: lots}}", "'hosts.h.state_pool': 'lots' is not a size"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nguardrails: {max_hibernated_share: 2}", "max_hibernated_share': must be between 0 and 1"),
        ("tiers: [1, 2]", "p.yaml: 'tiers'"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefaults:\n  idle_timout: true", "p.yaml:3: 'defaults.idle_timout': unknown key; expected one of exclude, hibernate_below, idle_timeout"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {min_idel: 2h}}", "'vms.a.min_idel': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2, sla: x}}", "'tiers.silver.sla': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nguardrail: {min_running: 2}", "p.yaml:2: 'guardrail': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ngroups: [{tier: silver}]", "'groups[0].match'"),
    ])
    func badPoliciesAreRefusedNamingTheKey(yaml: String, message: String) {
        let error = #expect(throws: PlanError.self) { try Policy.parse(yaml, source: "p.yaml") }
        #expect(error?.kind == .badInput)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }
}

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
            tiers: {silver: {quantile: 0.9, priority: 2}, gold: {quantile: 0.99, priority: 1}, bold: {quantile: 0.75, priority: 3}}
            groups:
              - {match: {group: web}, hibernate_below: 3, tier: gold}
            vms: {web-02: {min_idle: 8h}, batch-01: {idle_timeout: true, max_sleep: 3d}}
            hosts: {"qemu+ssh://kvm1/system": {state_pool: 64GiB, concurrent_restores: 4, memory: 256GiB}}
            """, source: "p.yaml")
        #expect(p.settings(vm: "web-02", labels: ["group": "web"]) == .init(tier: "gold", hibernateBelow: 3, restoreAbove: 15, minIdle: 8 * 3600, idleTimeout: false, excluded: nil))
        #expect(p.settings(vm: "batch-01", labels: [:]).idleTimeout && p.settings(vm: "batch-01", labels: [:]).maxSleep == 3 * 86_400)
        #expect(p.settings(vm: "web-02", labels: [:]).maxSleep == nil)
        #expect(p.host("qemu+ssh://kvm1/system") == .init(statePoolBytes: 64 << 30, concurrentRestores: 4, memoryBytes: 256 << 30, vcpus: nil))
        #expect(p.tiers["bold"]?.quantile == 0.75, "a quantile between two the forecast has")
    }

    /// Of host patterns that match a URI, the most specific gives its limits, whichever sorts first (`*` sorts before
    /// letters: the catch-all had won, a host limited to one restore at a time given two).
    @Test func theMostSpecificHostPatternWins() throws {
        let p = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            hosts: {"qemu+ssh://*/system": {concurrent_restores: 8}, "qemu+ssh://edge-*/system": {concurrent_restores: 1},
                    "qemu+ssh://edge-03/system": {concurrent_restores: 3}, "*": {concurrent_restores: 5}}
            """, source: "p.yaml")
        #expect(p.host("qemu+ssh://edge-07/system").concurrentRestores == 1)
        #expect(p.host("qemu+ssh://edge-03/system").concurrentRestores == 3)
        #expect(p.host("qemu+ssh://core-1/system").concurrentRestores == 8)
        #expect(p.host("qemu:///system").concurrentRestores == 5)
        // Which applies is said where two patterns or more match a host no entry names.
        #expect(p.patternChoices(hosts: ["qemu+ssh://edge-07/system", "qemu+ssh://edge-08/system", "qemu+ssh://edge-03/system", "qemu:///system"])
                == ["2 host(s) (qemu+ssh://edge-07/system, qemu+ssh://edge-08/system) match hosts * and qemu+ssh://*/system and qemu+ssh://edge-*/system: "
                    + "the limits of qemu+ssh://edge-*/system apply (the most text besides its *s, then text order)"])
    }

    @Test(arguments: [
        ("defaults: {min_idle: soon}\ntiers: {silver: {quantile: 0.9, priority: 2}}", "'defaults.min_idle': 'soon' is not a duration"),
        ("tiers: {silver: {quantile: 1.5, priority: 2}}", "'tiers.silver.quantile': 1.5 is outside the quantiles torpor forecasts (0.1, 0.25, 0.5, 0.9, 0.99; one between two of them is interpolated)"),
        ("tiers: {silver: {quantile: 0.05, priority: 2}}", "'tiers.silver.quantile': 0.05 is outside the quantiles torpor forecasts"),
        ("tiers: {silver: {quantile: 0.995, priority: 2}}", "'tiers.silver.quantile': 0.995 is outside the quantiles torpor forecasts"),
        ("tiers: {silver: {quantile: 0.90004, priority: 2}}", "'tiers.silver.quantile': 0.90004 has more than 4 decimals"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {max_sleep: forever}}", "'vms.a.max_sleep': 'forever' is not a duration"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {tier: platinum}}", "'vms.a.tier': no tier 'platinum'"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefaults: {hibernate_below: 20, restore_above: 10}", "hibernate_below (20.0) is above restore_above (10.0)"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nhosts: {h: {state_pool: lots}}", "'hosts.h.state_pool': 'lots' is not a size"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nguardrails: {max_hibernated_share: 2}", "max_hibernated_share': must be between 0 and 1"),
        ("tiers: [1, 2]", "p.yaml: 'tiers'"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefaults:\n  idle_timout: true", "p.yaml:3: 'defaults.idle_timout': unknown key; expected one of exclude, hibernate_below, idle_timeout"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {min_idel: 2h}}", "'vms.a.min_idel': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2, sla: x}}", "'tiers.silver.sla': unknown key"),
        // A misspelt key that leaves a needed one missing is named, not the key it left missing.
        ("tiers: {silver: {quantle: 0.9, priority: 2}}", "p.yaml:1: 'tiers.silver.quantle': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nguardrail: {min_running: 2}", "p.yaml:2: 'guardrail': unknown key"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ngroups: [{tier: silver}]", "'groups[0].match'"),
        // Parts that only conflict once merged over the defaults; values that would make a plan miss its own deadlines.
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefaults: {hibernate_below: 20}", "'defaults': hibernate_below (20.0) would be above restore_above (15.0) for its VMs (one of them from defaults)"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ngroups: [{match: {group: web}, restore_above: 2}]", "'groups[0]': hibernate_below (5.0) would be above restore_above (2.0)"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvms: {a: {hibernate_below: 30}}", "'vms.a': hibernate_below (30.0) would be above restore_above (15.0)"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefault_restore_seconds: -30", "'default_restore_seconds': must be between 1 and 86400 seconds, not -30"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\ndefault_save_seconds: 0", "'default_save_seconds': must be between 1"),
        ("tiers: {silver: {quantile: 0.9, priority: -1}}", "'tiers.silver.priority': must be at least 1"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nguardrails: {min_running: -3}", "'guardrails.min_running': must be 0 or more"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nbreak_even_factor: .inf", "'break_even_factor': must be a number from 1 to 1000"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nbreak_even_factor: 1e20", "'break_even_factor': must be a number from 1 to 1000"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nhost_defaults: {state_pool: 99999999999999999999TiB}", "'host_defaults.state_pool': '99999999999999999999TiB' is not a size"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nvalid_for: 99999999999999w", "'valid_for': '99999999999999w' is not a duration"),
        // Counted in whole hours: 30m would have judged every VM on no history at all.
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nmin_history: 30m", "'min_history': must be whole hours, not 30m"),
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nhosts: {h: {vcpus: -2}}", "'hosts.h.vcpus': must be at least 1"),
        // "Unlimited" written as a huge number would have the planner allocate a lane per restore it could run.
        ("tiers: {silver: {quantile: 0.9, priority: 2}}\nhost_defaults: {concurrent_restores: 1000000000000}",
         "'host_defaults.concurrent_restores': must be between 1 and 1000, not 1000000000000"),
    ])
    func badPoliciesAreRefusedNamingTheKey(yaml: String, message: String) {
        let error = #expect(throws: PlanError.self) { try Policy.parse(yaml, source: "p.yaml") }
        #expect(error?.kind == .badInput)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    /// A value refused names its line as well as its key: where names hold dots (a host URI, a VM's FQDN), in a list, and
    /// where the key is missing (the line of the mapping that lacks it).
    @Test func aRefusedValueNamesItsLine() {
        let yaml = """
            tiers: {silver: {quantile: 0.9, priority: 2}}
            hosts:
              qemu+ssh://kvm-1.example.com/system: {concurrent_restores: 2}
              kvm-1.example: {vcpus: 0}
            groups:
              - {match: {group: web}, min_idle: 2h}
              - {tier: silver}
            """
        let said = { (text: String) in (#expect(throws: PlanError.self) { try Policy.parse(text, source: "p.yaml") })?.message ?? "" }
        #expect(said(yaml).hasPrefix("p.yaml:7: 'groups[1].match': a group needs labels"), "\(said(yaml))")
        let grouped = yaml.replacingOccurrences(of: "{tier: silver}", with: "{match: {group: db}}")
        #expect(said(grouped).hasPrefix("p.yaml:4: 'hosts.kvm-1.example.vcpus': must be at least 1"), "\(said(grouped))")
        let tiered = grouped.replacingOccurrences(of: "vcpus: 0", with: "vcpus: 8").replacingOccurrences(of: "priority: 2", with: "priority: 0")
        #expect(said(tiered).hasPrefix("p.yaml:1: 'tiers.silver.priority'"), "\(said(tiered))")
    }

    /// A value of the wrong kind is named by its key path and what was expected, in words, not the decoder's type names.
    @Test func aValueOfTheWrongKindIsNamedInWords() {
        for (yaml, said) in [("defaults: {hibernate_below: \"5%\"}", "p.yaml: 'defaults.hibernate_below': expected a number"),
                             ("defaults: [1, 2]", "p.yaml: 'defaults': expected a mapping (key: value lines)")] {
            let error = #expect(throws: PlanError.self) { _ = try Policy.parse(yaml, source: "p.yaml") }
            #expect(error?.message.hasPrefix(said) == true, "\(error?.message ?? "")")
        }
    }

    /// The most specific setting wins for exclusion too: a VM's `exclude: false` lifts its group's `exclude: true`
    /// (before, it read as "not set" and the VM stayed excluded without a word); saying nothing keeps the group's; the
    /// defaults' `exclude: true` holds too (before, it was accepted and did nothing).
    @Test func aVMsExcludeFalseLiftsItsGroupsExclusion() throws {
        let policy = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            groups: [{match: {group: db}, exclude: true, reason: "databases stay up"}]
            vms: {db-02: {exclude: false}, db-03: {tier: silver}}
            """, source: "p.yaml")
        #expect(policy.settings(vm: "db-01", labels: ["group": "db"]).excluded == "databases stay up")
        #expect(policy.settings(vm: "db-02", labels: ["group": "db"]).excluded == nil)
        #expect(policy.settings(vm: "db-03", labels: ["group": "db"]).excluded == "databases stay up")
        // An empty reason excludes all the same; the defaults' exclusion holds for every VM nothing lifts it for.
        let everything = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            defaults: {exclude: true, reason: "pilot: nothing sleeps unless named"}
            vms: {web-01: {exclude: false}, db-01: {exclude: true, reason: ""}}
            """, source: "p.yaml")
        #expect(everything.settings(vm: "api-01", labels: [:]).excluded == "pilot: nothing sleeps unless named")
        #expect(everything.settings(vm: "web-01", labels: [:]).excluded == nil)
        #expect(everything.settings(vm: "db-01", labels: [:]).excluded == "excluded by the policy")
        // A group's exclude: false lifts the defaults', never an earlier group's: only the VM's own entry does.
        let groups = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            defaults: {exclude: true, reason: "pilot"}
            groups: [{match: {env: prod}, exclude: true, reason: "prod stays up"}, {match: {team: analytics}, exclude: false}]
            vms: {report-01: {exclude: false}}
            """, source: "p.yaml")
        #expect(groups.settings(vm: "etl-01", labels: ["team": "analytics"]).excluded == nil)
        #expect(groups.settings(vm: "etl-02", labels: ["team": "analytics", "env": "prod"]).excluded == "prod stays up")
        #expect(groups.settings(vm: "report-01", labels: ["team": "analytics", "env": "prod"]).excluded == nil)
        #expect(groups.settings(vm: "web-01", labels: [:]).excluded == "pilot")
        // Every excluding group says why; a group's exclude: false that an earlier group overrides for every VM it
        // matches is reported (a lift that lifts nothing), not one that lifts the defaults' for some.
        let freeze = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            groups: [{match: {env: prod}, exclude: true, reason: "prod stays up"}, {match: {team: finance}, exclude: true, reason: "quarter close"},
                     {match: {team: finance}, exclude: false}]
            """, source: "p.yaml")
        #expect(freeze.settings(vm: "ledger-01", labels: ["env": "prod", "team": "finance"]).excluded == "prod stays up; quarter close")
        let fleet = [(name: "ledger-01", labels: ["env": "prod", "team": "finance"]), (name: "ledger-02", labels: ["team": "finance"])]
        #expect(freeze.unmatched(vms: fleet) == ["groups[2] (match team: finance): its exclude: false lifts nothing: an earlier group excludes each VM it "
                                                 + "matches (ledger-01, ledger-02: groups[0] (match env: prod), groups[1] (match team: finance)); only a VM's own "
                                                 + "entry under vms lifts a group's exclusion"])
        #expect(groups.unmatched(vms: [(name: "etl-01", labels: ["team": "analytics"]), (name: "etl-02", labels: ["team": "analytics", "env": "prod"])])
                    .allSatisfy { !$0.contains("lifts nothing") }, "it lifts the defaults' for etl-01")
    }

    /// A VM named under `vms` that the store does not have, or a group matching no VM, is reported: a misspelt name
    /// would leave its VM under the defaults (an exclusion that excludes nothing).
    @Test func partsThatApplyToNoVMAreReported() throws {
        let policy = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}, gold: {quantile: 0.99, priority: 1}}
            groups: [{match: {tier: glod}, tier: gold}, {match: {group: web}, tier: gold}]
            vms: {db01: {exclude: true}, web-01: {tier: silver}}
            hosts: {"qemu+ssh://kvm*/system": {state_pool: 1GiB}, "qemu+ssh://kmv-2/system": {state_pool: 1GiB}}
            """, source: "p.yaml")
        let fleet = [(name: "db-01", labels: ["group": "db"]), (name: "web-01", labels: ["group": "web"])]
        #expect(policy.unmatched(vms: fleet, hosts: ["qemu+ssh://kvm-1/system"])
                == ["vms.db01: no VM of that name in the store", "groups[0] (match tier: glod): matches no VM in the store",
                    "hosts.qemu+ssh://kmv-2/system: no VM in the store is on a host it matches"])
        #expect(Policy.embeddedDefault.unmatched(vms: fleet, hosts: ["test:///srv/torpor/sample-data/fleet.xml"]).isEmpty)
    }

    /// Each part may be fine over the defaults and still conflict with another: a group lowers restore_above, a VM of
    /// it raises hibernate_below. torpor-plan make refuses the policy, naming the VM.
    @Test func thresholdsThatConflictOnlyOnceGroupAndVMAreMergedAreFound() throws {
        let policy = try Policy.parse("""
            tiers: {silver: {quantile: 0.9, priority: 2}}
            groups: [{match: {group: web}, restore_above: 8}]
            vms: {web-01: {hibernate_below: 10}, db-01: {hibernate_below: 10}, web-03: {hibernate_below: 10, exclude: true}}
            """, source: "p.yaml")
        let fleet = [(name: "db-01", labels: ["group": "db"]), (name: "web-01", labels: ["group": "web"]), (name: "web-02", labels: ["group": "web"]),
                     (name: "web-03", labels: ["group": "web"])]
        #expect(policy.conflicts(vms: fleet) == ["web-01: hibernate_below 10.0 is above restore_above 8.0 once defaults, groups and vms are merged"])
    }
}

import Foundation
import GRDB
import Testing
import TorporCore
import TorporIngest
import TorporStore
import TorporTrain

/// The nightly run on the demo fleet (seven real Bitbrains VMs, 35 days), as `make demo` ingests it.
@Suite(.serialized) struct TrainerTests {
    static let now = UTC.epoch(year: 2013, month: 9, day: 30)

    static func demoStore() throws -> Store {
        let (store, _) = try scratchStore()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var mapping = try CSVMapping.load(path: repo + "/sample-data/mappings/bitbrains.yaml")
        mapping.vm?.prefix = ""
        for file in try FileManager.default.contentsOfDirectory(atPath: repo + "/sample-data/traces/bitbrains").filter({ $0.hasSuffix(".csv.gz") }) {
            _ = try CSVIngester(store: store).ingest(path: repo + "/sample-data/traces/bitbrains/" + file, mapping: mapping, now: now)
        }
        _ = try store.transaction { try VMRepository.id(of: "new-vm", in: $0, now: now) }   // registered, no history
        return store
    }

    @Test func aRunIsRecordedWithVerdictsPerVM() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 8
        let run = try Trainer(store: store, config: config).run(now: Self.now)
        print("run #\(run.id): promoted \(run.promoted): \(run.reason)")
        for (k, v) in run.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        #expect(run.metrics["pinball q0.9 model"] != nil && run.metrics["pinball q0.9 seasonalNaiveDay"] != nil)
        let coverage = try #require(run.metrics["coverage q0.9 model"])
        #expect(coverage > 0.5 && coverage <= 1, "q0.9 covers \(coverage) of the validation actuals")
        #expect(Int(run.hyperparameters["best_epoch"] ?? "") ?? 0 >= 1, "the kept weights are those of the best early-stopping epoch")
        let newVM = try #require(run.vms.first { $0.vm == "new-vm" })
        #expect(!newVM.predictable && newVM.reason.contains("too little history"))
        #expect(run.vms.filter(\.predictable).count == 7)
        let runs = try store.read { try ModelRegistry.runs(in: $0) }
        #expect(runs.map(\.id) == [run.id])
        if run.promoted {
            #expect(try store.read { try ModelRegistry.promoted(in: $0) }?.run.id == run.id)
        }
    }

    @Test func earlyStoppingKeepsTheBestEpochOnHeldOutWindows() throws {
        var config = TrainingConfig()
        config.maxEpochs = 6
        config.stoppingEvery = 10
        config.patience = 1
        var lines: [String] = []
        let run = try Trainer(store: try Self.demoStore(), config: config).run(now: Self.now) { lines.append($0) }
        let best = try #require(Int(run.hyperparameters["best_epoch"] ?? ""))
        let ran = lines.filter { $0.hasPrefix("epoch ") }.count
        #expect(best >= 1 && best <= ran && ran <= 6)
        #expect(ran == 6 || (lines.last?.contains("early stop: no better early-stopping loss since epoch \(best)") == true && ran == best + 1))
    }

    @Test func aCrippledModelIsNotPromoted() throws {
        let store = try Self.demoStore()
        var config = TrainingConfig()
        config.maxEpochs = 1
        config.hiddenSize = 1
        config.windowsPerEpoch = 64
        let run = try Trainer(store: store, config: config).run(now: Self.now)
        #expect(!run.promoted)
        #expect(run.reason.hasPrefix("not promoted:"))
        #expect(try store.read { try ModelRegistry.promoted(in: $0) } == nil, "nothing reaches the planner")
    }
}

import Foundation
import Testing
@testable import TorporForecast

@Suite struct ModelFileTests {
    func trained(seed: UInt64) -> (Forecaster, [Float]) {
        let shape = ForecasterShape(inputSize: 3, hiddenSize: 8, layers: 2, horizon: 4, quantiles: [0.5, 0.9])
        let model = Forecaster(shape: shape, seed: seed)
        let optimizer = AdamW(for: model, learningRate: 1e-2)
        var random = SeededRandom(seed: seed)
        let input = (0..<5 * 7 * 3).map { _ in random.uniform(1) }
        let targets = (0..<5 * 4).map { _ in random.uniform(1) }
        for _ in 0..<20 {
            _ = input.withUnsafeBufferPointer { x in targets.withUnsafeBufferPointer { y in
                model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, mask: nil, batch: 5, steps: 7)
            } }
            optimizer.update(model)
        }
        return (model, input)
    }

    @Test func loadOfSaveReproducesOutputsBitForBit() throws {
        let (model, input) = trained(seed: 3)
        let data = try ModelFile.encode(model, metadata: ["features": "cpu,hour_sin,hour_cos", "scale.web-01": "37.5"])
        let (loaded, metadata) = try ModelFile.decode(data, source: "memory")
        #expect(metadata["scale.web-01"] == "37.5")
        #expect(loaded.shape == model.shape)
        let a = model.predict(input, batch: 5, steps: 7), b = loaded.predict(input, batch: 5, steps: 7)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }

    /// A copy predicts bit for bit what the original does, from two threads at once, and owns its weights.
    @Test func aCopyPredictsTheSameOnAnotherThread() {
        let (model, input) = trained(seed: 3)
        let twin = model.copy()
        let expected = model.predict(input, batch: 5, steps: 7).map(\.bitPattern)
        let outputs = PredictionsPerThread()
        nonisolated(unsafe) let forecasters = [model, twin]   // each thread uses only its own
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let forecaster = forecasters[i]
            for _ in 0..<50 { outputs.record(forecaster.predict(input, batch: 5, steps: 7).map(\.bitPattern)) }
        }
        #expect(outputs.all.allSatisfy { $0 == expected })
        #expect(outputs.all.count == 100)
        twin.parameters[0].data[0] += 1
        #expect(model.parameters[0].data[0] != twin.parameters[0].data[0])
    }

    @Test func theSameSeedTrainsTheSameWeights() {
        let (a, _) = trained(seed: 9), (b, _) = trained(seed: 9), (c, _) = trained(seed: 10)
        #expect(a.parameters.map(\.values) == b.parameters.map(\.values))
        #expect(a.parameters.map(\.values) != c.parameters.map(\.values))
    }

    @Test func damagedFilesAreRefusedWithAReason() throws {
        let (model, _) = trained(seed: 3)
        let data = try ModelFile.encode(model)
        let cases: [(Data, String)] = [
            (Data("hello".utf8), "not a torpor model file"),
            (Data("TORPOR-LSTM 9\n{}\n".utf8), "model format 9"),
            (data.prefix(data.count - 10), "truncated or corrupt"),
        ]
        // An infinite weight (a flipped exponent bit) and a header whose sizes no model has.
        var infinite = data
        infinite.replaceSubrange(data.count - 4..<data.count, with: [0, 0, 0x80, 0x7F])
        let negative = Data(("TORPOR-LSTM 1\n" + #"{"metadata":{},"parameterCount":0,"shape":{"hiddenSize":-5,"horizon":24,"inputSize":12,"layers":1,"quantiles":[0.5]}}"# + "\n").utf8)
        for (bytes, fragment) in cases + [(infinite, "is inf: corrupt"), (negative, "model header's shape is not one torpor makes")] {
            let e = #expect(throws: ForecastError.self) { _ = try ModelFile.decode(bytes, source: "m.model") }
            #expect(e?.message.hasPrefix("m.model: ") == true && e?.message.contains(fragment) == true, "\(String(describing: e))")
        }
    }

    @Test func batchInferenceMatchesOneByOne() {
        let (model, input) = trained(seed: 4)
        let all = model.predict(input, batch: 5, steps: 7)
        for b in 0..<5 {
            let one = model.predict(Array(input[b * 21..<(b + 1) * 21]), batch: 1, steps: 7)
            for (x, y) in zip(one, all[b * 8..<(b + 1) * 8]) { #expect(abs(x - y) < 1e-5) }
        }
    }
}

/// Predictions collected from several threads.
private final class PredictionsPerThread: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var all: [[UInt32]] = []

    func record(_ prediction: [UInt32]) { lock.withLock { all.append(prediction) } }
}

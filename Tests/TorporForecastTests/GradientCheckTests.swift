import Testing
@testable import TorporForecast

/// Finite differences against the analytic gradients, for every parameter tensor of a 2-layer LSTM + head.
@Suite struct GradientCheckTests {
    static let steps = 6, batch = 3, inputSize = 4, horizon = 3

    func check(quantiles: [Float], masked: Bool) throws {
        let shape = ForecasterShape(inputSize: Self.inputSize, hiddenSize: 5, layers: 2, horizon: Self.horizon, quantiles: quantiles)
        let model = Forecaster(shape: shape, seed: 7)
        var random = SeededRandom(seed: 11)
        let input = (0..<Self.batch * Self.steps * Self.inputSize).map { _ in random.uniform(1) }
        let targets = (0..<Self.batch * Self.horizon).map { _ in random.uniform(1) }
        let mask: [Float]? = masked ? (0..<Self.batch * Self.horizon).map { $0 % 4 == 1 ? 0 : 1 } : nil
        func loss() -> Double {
            input.withUnsafeBufferPointer { x in targets.withUnsafeBufferPointer { y in
                if let mask {
                    return mask.withUnsafeBufferPointer { Double(model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, mask: $0.baseAddress!, batch: Self.batch, steps: Self.steps)) }
                }
                return Double(model.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, mask: nil, batch: Self.batch, steps: Self.steps))
            } }
        }
        _ = loss()
        let analytic = model.gradients.map(\.values)
        #expect(analytic.allSatisfy { $0.contains { $0 != 0 } }, "every tensor gets a gradient")
        let names = ["l0.Wih", "l0.Whh", "l0.b", "l1.Wih", "l1.Whh", "l1.b", "head.W", "head.b"]
        for (k, p) in model.parameters.enumerated() {
            for index in stride(from: 0, to: p.count, by: max(1, p.count / 12)) {
                let saved = p.data[index]
                let eps: Float = 1e-2
                p.data[index] = saved + eps
                let up = loss()
                p.data[index] = saved - eps
                let down = loss()
                p.data[index] = saved
                let numeric = (up - down) / Double(2 * eps)
                let a = Double(analytic[k][index])
                let error = abs(a - numeric) / max(abs(a), abs(numeric), 1e-3)
                #expect(error < 1e-2, "\(names[k])[\(index)]: analytic \(a), numeric \(numeric)")
            }
        }
    }

    @Test func mse() throws { try check(quantiles: [], masked: false) }
    @Test func mseWithMissingTargets() throws { try check(quantiles: [], masked: true) }
    @Test func pinball() throws { try check(quantiles: [0.5, 0.9, 0.99], masked: false) }
    @Test func pinballWithMissingTargets() throws { try check(quantiles: [0.1, 0.5, 0.9], masked: true) }
}

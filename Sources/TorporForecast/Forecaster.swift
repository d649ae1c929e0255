import Foundation

/// What a forecaster looks like: sizes, outputs, loss.
public struct ForecasterShape: Codable, Equatable, Sendable {
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    /// Target steps ahead.
    public var horizon: Int
    /// Empty for a point forecast (MSE); else the quantiles of the pinball loss, e.g. [0.5, 0.9, 0.99].
    public var quantiles: [Float]

    public init(inputSize: Int, hiddenSize: Int, layers: Int, horizon: Int, quantiles: [Float] = []) {
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.layers = layers; self.horizon = horizon; self.quantiles = quantiles
    }

    public var loss: Loss { quantiles.isEmpty ? .mse : .pinball(quantiles: quantiles) }
    public var outputs: Int { loss.outputs(horizon: horizon) }
}

/// Stacked LSTM layers and a dense head on the last step's hidden state, giving horizon × quantile outputs.
/// Batches come batch-major (B × T × inputSize, as users hold sequences) and are laid out time-major once per call.
public final class Forecaster {
    public let shape: ForecasterShape
    let layers: [LSTMLayer]
    /// hidden → outputs, and its bias.
    let headWeights: Tensor, headBias: Tensor
    let headWeightsGrad: Tensor, headBiasGrad: Tensor
    private var timeMajor = Tensor(rows: 0, cols: 0)
    private var predictions = Tensor(rows: 0, cols: 0), predictionGrads = Tensor(rows: 0, cols: 0), lastHiddenGrads = Tensor(rows: 0, cols: 0)

    public init(shape: ForecasterShape, seed: UInt64) {
        self.shape = shape
        var random = SeededRandom(seed: seed)
        var layers: [LSTMLayer] = []
        for l in 0..<shape.layers {
            layers.append(LSTMLayer(inputSize: l == 0 ? shape.inputSize : shape.hiddenSize, hiddenSize: shape.hiddenSize, random: &random))
        }
        self.layers = layers
        headWeights = Tensor(rows: shape.hiddenSize, cols: shape.outputs)
        headBias = Tensor(rows: 1, cols: shape.outputs)
        headWeightsGrad = Tensor(rows: shape.hiddenSize, cols: shape.outputs)
        headBiasGrad = Tensor(rows: 1, cols: shape.outputs)
        let bound = 1 / Float(shape.hiddenSize).squareRoot()
        for i in 0..<headWeights.count { headWeights.data[i] = random.uniform(bound) }
        for i in 0..<headBias.count { headBias.data[i] = random.uniform(bound) }
    }

    /// A forecaster with the same weights and its own workspaces: `predict` is not safe to call from two threads at
    /// once on one forecaster, but is on two copies.
    public func copy() -> Forecaster {
        let twin = Forecaster(shape: shape, seed: 0)
        for (mine, theirs) in zip(parameters, twin.parameters) { theirs.copy(from: mine) }
        return twin
    }

    /// Every parameter tensor, in the fixed order serialization and the optimizer use.
    public var parameters: [Tensor] { layers.flatMap(\.parameters) + [headWeights, headBias] }
    var gradients: [Tensor] { layers.flatMap(\.gradients) + [headWeightsGrad, headBiasGrad] }

    private func prepare(steps: Int, batch: Int, training: Bool) {
        if timeMajor.rows != steps * batch {
            timeMajor = Tensor(rows: steps * batch, cols: shape.inputSize)
            predictions = Tensor(rows: batch, cols: shape.outputs)
            predictionGrads = Tensor(rows: batch, cols: shape.outputs)
            lastHiddenGrads = Tensor(rows: batch, cols: shape.hiddenSize)
        }
        for layer in layers { layer.prepare(steps: steps, batch: batch, training: training) }
    }

    /// Runs the network on `input` (batch × steps × inputSize, batch-major) and returns the predictions (batch × outputs).
    private func run(_ input: UnsafePointer<Float>, batch: Int, steps: Int, training: Bool) -> Tensor {
        prepare(steps: steps, batch: batch, training: training)
        let f = shape.inputSize
        for b in 0..<batch {
            for t in 0..<steps { (timeMajor.data + (t * batch + b) * f).update(from: input + (b * steps + t) * f, count: f) }
        }
        var current = UnsafePointer(timeMajor.data)
        for layer in layers {
            layer.forward(current)
            current = UnsafePointer(layer.outputs)
        }
        let o = shape.outputs
        for b in 0..<batch { (predictions.data + b * o).update(from: headBias.data, count: o) }
        BLAS.gemm(m: batch, n: o, k: shape.hiddenSize, layers.last!.lastOutput, lda: shape.hiddenSize, headWeights.data, ldb: o, beta: 1, predictions.data, ldc: o)
        return predictions
    }

    /// Predictions for a batch without keeping anything for a backward pass: (batch × outputs), horizon-major.
    public func predict(_ input: [Float], batch: Int, steps: Int) -> [Float] {
        precondition(input.count == batch * steps * shape.inputSize, "input must be batch × steps × inputSize")
        return input.withUnsafeBufferPointer { run($0.baseAddress!, batch: batch, steps: steps, training: false).values }
    }

    /// Forward and backward over one batch: returns the loss and leaves the gradients in place (overwritten).
    /// targets and mask: batch × horizon (mask 1 where the target is known, 0 where it is missing).
    public func lossAndGradients(_ input: UnsafePointer<Float>, targets: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                                 batch: Int, steps: Int) -> Float {
        let out = run(input, batch: batch, steps: steps, training: true)
        for g in gradients { g.zero() }
        let loss = shape.loss.evaluate(predictions: out.data, targets: targets, mask: mask, batch: batch, horizon: shape.horizon, gradient: predictionGrads.data)
        let o = shape.outputs, h = shape.hiddenSize
        let last = layers.last!.lastOutput
        BLAS.gemm(transA: true, m: h, n: o, k: batch, last, lda: h, predictionGrads.data, ldb: o, beta: 1, headWeightsGrad.data, ldc: o)
        for b in 0..<batch { for j in 0..<o { headBiasGrad.data[j] += predictionGrads.data[b * o + j] } }
        BLAS.gemm(transB: true, m: batch, n: h, k: o, predictionGrads.data, lda: o, headWeights.data, ldb: o, beta: 0, lastHiddenGrads.data, ldc: h)
        var upstream = UnsafePointer(lastHiddenGrads.data)
        var lastOnly = true
        for (index, layer) in layers.enumerated().reversed() {
            let input = index == 0 ? UnsafePointer(timeMajor.data) : UnsafePointer(layers[index - 1].outputs)
            upstream = UnsafePointer(layer.backward(input: input, outputGrads: upstream, lastStepOnly: lastOnly, needInputGrads: index > 0))
            lastOnly = false
        }
        return loss
    }

    /// The loss of a batch without gradients (validation).
    public func loss(_ input: [Float], targets: [Float], mask: [Float]?, batch: Int, steps: Int) -> Float {
        input.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                let out = run(x.baseAddress!, batch: batch, steps: steps, training: false)
                if let mask {
                    return mask.withUnsafeBufferPointer { shape.loss.evaluate(predictions: out.data, targets: y.baseAddress!, mask: $0.baseAddress!, batch: batch, horizon: shape.horizon, gradient: nil) }
                }
                return shape.loss.evaluate(predictions: out.data, targets: y.baseAddress!, mask: nil, batch: batch, horizon: shape.horizon, gradient: nil)
            }
        }
    }
}

import Foundation

/// Adam with decoupled weight decay (AdamW) and gradient-norm clipping.
public final class AdamW {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// The global L2 norm gradients are scaled down to, when larger.
    public let maxGradientNorm: Float?
    private let moments: [(m: Tensor, v: Tensor)]
    private var step = 0

    public init(for model: Forecaster, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, maxGradientNorm: Float? = 1) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.maxGradientNorm = maxGradientNorm
        moments = model.parameters.map { (Tensor(rows: $0.rows, cols: $0.cols), Tensor(rows: $0.rows, cols: $0.cols)) }
    }

    /// Applies one update from the model's current gradients; returns the gradient norm before clipping.
    @discardableResult
    public func update(_ model: Forecaster) -> Float {
        let parameters = model.parameters, gradients = model.gradients
        var squares: Float = 0
        for g in gradients { for i in 0..<g.count { squares += g.data[i] * g.data[i] } }
        let norm = squares.squareRoot()
        let clip: Float = maxGradientNorm.map { norm > $0 ? $0 / norm : 1 } ?? 1
        step += 1
        let correction1 = 1 - powf(beta1, Float(step)), correction2 = 1 - powf(beta2, Float(step))
        let rate = learningRate * correction2.squareRoot() / correction1
        for (k, p) in parameters.enumerated() {
            let g = gradients[k].data, m = moments[k].m.data, v = moments[k].v.data, w = p.data
            for i in 0..<p.count {
                let grad = g[i] * clip
                m[i] = beta1 * m[i] + (1 - beta1) * grad
                v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                w[i] -= rate * m[i] / (v[i].squareRoot() + epsilon) + learningRate * weightDecay * w[i]
            }
        }
        return norm
    }
}

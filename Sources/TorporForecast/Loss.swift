/// Training losses over a batch of predictions (B × outputs), with a mask: a target that is missing (mask 0) adds
/// nothing to the loss or its gradient — missing data is never read as zero.
public enum Loss: Equatable, Sendable {
    case mse
    /// Pinball loss over several quantiles at once: outputs are laid out horizon-major, `quantiles.count` per horizon
    /// step; targets have one value per horizon step.
    case pinball(quantiles: [Float])

    /// The number of outputs per sample for `horizon` target steps.
    public func outputs(horizon: Int) -> Int {
        switch self {
        case .mse: horizon
        case .pinball(let q): horizon * q.count
        }
    }

    /// The loss, writing dLoss/dPrediction into `gradient` (same shape as `predictions`).
    /// targets and mask: B × horizon.
    func evaluate(predictions: UnsafePointer<Float>, targets: UnsafePointer<Float>, mask: UnsafePointer<Float>?, batch: Int, horizon: Int,
                  gradient: UnsafeMutablePointer<Float>?) -> Float {
        var weight: Float = 0
        for i in 0..<batch * horizon { weight += mask?[i] ?? 1 }
        guard weight > 0 else {
            gradient?.update(repeating: 0, count: batch * outputs(horizon: horizon))
            return 0
        }
        var total: Float = 0
        switch self {
        case .mse:
            for i in 0..<batch * horizon {
                let m = mask?[i] ?? 1
                let d = predictions[i] - targets[i]
                total += m * d * d
                gradient?[i] = 2 * m * d / weight
            }
            return total / weight
        case .pinball(let quantiles):
            let q = quantiles.count
            let scale = 1 / (weight * Float(q))
            for i in 0..<batch * horizon {
                let m = mask?[i] ?? 1
                for (k, tau) in quantiles.enumerated() {
                    let p = i * q + k
                    let u = targets[i] - predictions[p]
                    total += m * (u >= 0 ? tau * u : (tau - 1) * u)
                    gradient?[p] = m * (u >= 0 ? -tau : 1 - tau) * scale
                }
            }
            return total * scale
        }
    }
}

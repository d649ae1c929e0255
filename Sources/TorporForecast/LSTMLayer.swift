import Foundation

/// One LSTM layer over time-major batches: input rows t·B … t·B+B−1 are time step t of the B sequences.
/// Gates in the order input, forget, cell, output. Forward: the input projection of all steps is one GEMM, each step
/// adds its recurrent GEMM, then one fused pass computes the gates, the cell and the hidden state. Backward through
/// time: one fused pass per step, the recurrent gradient by GEMM, and the weight gradients of all steps at once by
/// two large GEMMs. Workspaces are sized once per (steps, batch) and reused: nothing is allocated inside the loops.
public final class LSTMLayer {
    public let inputSize: Int
    public let hiddenSize: Int
    /// input → gates (inputSize × 4·hidden), hidden → gates (hidden × 4·hidden), gate bias (1 × 4·hidden)
    public let inputWeights: Tensor, recurrentWeights: Tensor, bias: Tensor
    let inputWeightsGrad: Tensor, recurrentWeightsGrad: Tensor, biasGrad: Tensor

    private(set) var steps = 0, batch = 0
    /// Activated gates per step (T·B × 4H); cell and hidden states with a zero initial block (T+1)·B × H.
    private var gates = Tensor(rows: 0, cols: 0), cells = Tensor(rows: 0, cols: 0), hidden = Tensor(rows: 0, cols: 0)
    /// tanh of each step's cell state (T·B × H), kept from the forward pass for the backward one.
    private var cellTanh = Tensor(rows: 0, cols: 0)
    private var gateGrads = Tensor(rows: 0, cols: 0), inputGrads = Tensor(rows: 0, cols: 0)
    private var hiddenGradNext = Tensor(rows: 0, cols: 0), cellGradNext = Tensor(rows: 0, cols: 0)

    init(inputSize: Int, hiddenSize: Int, random: inout SeededRandom) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        let h4 = 4 * hiddenSize
        inputWeights = Tensor(rows: inputSize, cols: h4)
        recurrentWeights = Tensor(rows: hiddenSize, cols: h4)
        bias = Tensor(rows: 1, cols: h4)
        inputWeightsGrad = Tensor(rows: inputSize, cols: h4)
        recurrentWeightsGrad = Tensor(rows: hiddenSize, cols: h4)
        biasGrad = Tensor(rows: 1, cols: h4)
        let bound = 1 / Float(hiddenSize).squareRoot()
        for t in [inputWeights, recurrentWeights, bias] {
            for i in 0..<t.count { t.data[i] = random.uniform(bound) }
        }
        for j in hiddenSize..<2 * hiddenSize { bias.data[j] += 1 }   // forget gate open at first
    }

    var parameters: [Tensor] { [inputWeights, recurrentWeights, bias] }
    var gradients: [Tensor] { [inputWeightsGrad, recurrentWeightsGrad, biasGrad] }

    /// Sizes the workspaces for `steps` × `batch` (a no-op when unchanged).
    func prepare(steps: Int, batch: Int, training: Bool) {
        guard steps != self.steps || batch != self.batch || (training && gateGrads.rows != steps * batch) else { return }
        self.steps = steps
        self.batch = batch
        let h = hiddenSize
        gates = Tensor(rows: steps * batch, cols: 4 * h)
        cells = Tensor(rows: (steps + 1) * batch, cols: h)
        hidden = Tensor(rows: (steps + 1) * batch, cols: h)
        cellTanh = Tensor(rows: steps * batch, cols: h)
        if training {
            gateGrads = Tensor(rows: steps * batch, cols: 4 * h)
            inputGrads = Tensor(rows: steps * batch, cols: inputSize)
            hiddenGradNext = Tensor(rows: batch, cols: h)
            cellGradNext = Tensor(rows: batch, cols: h)
        }
    }

    /// The hidden states of every step (T·B × H), after `forward`.
    var outputs: UnsafeMutablePointer<Float> { hidden.data + batch * hiddenSize }

    /// The hidden state of the last step (B × H).
    var lastOutput: UnsafeMutablePointer<Float> { hidden.data + steps * batch * hiddenSize }

    /// Runs the layer over `input` (T·B × inputSize, time-major).
    func forward(_ input: UnsafePointer<Float>) {
        let h = hiddenSize, h4 = 4 * h, b = batch
        BLAS.gemm(m: steps * b, n: h4, k: inputSize, input, lda: inputSize, inputWeights.data, ldb: h4, beta: 0, gates.data, ldc: h4)
        for t in 0..<steps {
            let g = gates.data + t * b * h4
            BLAS.gemm(m: b, n: h4, k: h, hidden.data + t * b * h, lda: h, recurrentWeights.data, ldb: h4, beta: 1, g, ldc: h4)
            let cPrev = cells.data + t * b * h, cNext = cells.data + (t + 1) * b * h, hNext = hidden.data + (t + 1) * b * h
            let tanhNext = cellTanh.data + t * b * h
            let bias = self.bias.data
            for row in 0..<b {
                // Separate passes over contiguous gate blocks: each is a simple loop the compiler vectorizes.
                let gr = g + row * h4, cp = cPrev + row * h, cn = cNext + row * h, hn = hNext + row * h, tn = tanhNext + row * h
                for j in 0..<2 * h { gr[j] = fastSigmoid(gr[j] + bias[j]) }
                for j in 2 * h..<3 * h { gr[j] = fastTanh(gr[j] + bias[j]) }
                for j in 3 * h..<h4 { gr[j] = fastSigmoid(gr[j] + bias[j]) }
                let i = gr, f = gr + h, c = gr + 2 * h, o = gr + 3 * h
                for j in 0..<h { cn[j] = f[j] * cp[j] + i[j] * c[j] }
                for j in 0..<h { tn[j] = fastTanh(cn[j]) }
                for j in 0..<h { hn[j] = o[j] * tn[j] }
            }
        }
    }

    /// Back-propagates through time. `outputGrads` holds dLoss/dh for every step (T·B × H), or only the last step's
    /// (B × H) when `lastStepOnly`. Accumulates the weight gradients; returns dLoss/dInput (T·B × inputSize), computed
    /// when `needInputGrads`.
    @discardableResult
    func backward(input: UnsafePointer<Float>, outputGrads: UnsafePointer<Float>, lastStepOnly: Bool, needInputGrads: Bool) -> UnsafeMutablePointer<Float> {
        let h = hiddenSize, h4 = 4 * h, b = batch
        hiddenGradNext.zero()
        cellGradNext.zero()
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let g = gates.data + t * b * h4, dg = gateGrads.data + t * b * h4
            let cPrev = cells.data + t * b * h, tanhNow = cellTanh.data + t * b * h
            let dOut: UnsafePointer<Float>? = lastStepOnly ? (t == steps - 1 ? outputGrads : nil) : outputGrads + t * b * h
            let dhNext = hiddenGradNext.data, dcNext = cellGradNext.data
            if let dOut { for k in 0..<b * h { dhNext[k] += dOut[k] } }   // dh = from above + from the next step
            for row in 0..<b {
                let gr = g + row * h4, dgr = dg + row * h4
                let i = gr, f = gr + h, c = gr + 2 * h, o = gr + 3 * h
                let di = dgr, df = dgr + h, dcand = dgr + 2 * h, dout = dgr + 3 * h
                let dh = dhNext + row * h, dcn = dcNext + row * h, tc = tanhNow + row * h, cp = cPrev + row * h
                for j in 0..<h {
                    let dc = dh[j] * o[j] * (1 - tc[j] * tc[j]) + dcn[j]
                    di[j] = dc * c[j] * i[j] * (1 - i[j])
                    df[j] = dc * cp[j] * f[j] * (1 - f[j])
                    dcand[j] = dc * i[j] * (1 - c[j] * c[j])
                    dout[j] = dh[j] * tc[j] * o[j] * (1 - o[j])
                    dcn[j] = dc * f[j]
                }
            }
            if t > 0 {   // dLoss/dh of the previous step through the recurrent weights
                BLAS.gemm(transB: true, m: b, n: h, k: h4, dg, lda: h4, recurrentWeights.data, ldb: h4, beta: 0, hiddenGradNext.data, ldc: h)
            }
        }
        let rows = steps * b
        BLAS.gemm(transA: true, m: inputSize, n: h4, k: rows, input, lda: inputSize, gateGrads.data, ldb: h4, beta: 1, inputWeightsGrad.data, ldc: h4)
        BLAS.gemm(transA: true, m: h, n: h4, k: rows, hidden.data, lda: h, gateGrads.data, ldb: h4, beta: 1, recurrentWeightsGrad.data, ldc: h4)
        let gb = biasGrad.data
        for r in 0..<rows {
            let dgr = gateGrads.data + r * h4
            for j in 0..<h4 { gb[j] += dgr[j] }
        }
        if needInputGrads {
            BLAS.gemm(transB: true, m: rows, n: inputSize, k: h4, gateGrads.data, lda: h4, inputWeights.data, ldb: h4, beta: 0, inputGrads.data, ldc: inputSize)
        }
        return inputGrads.data
    }
}

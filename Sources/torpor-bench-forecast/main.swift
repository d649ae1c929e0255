// Training and inference throughput of the forecast engine at the PyTorch reference shapes
// (../shared/bench/pytorch_lstm_reference.py: input 16, hidden 64, 24 outputs, MSE, Adam), and cblas_sgemm's rate
// at the model's own GEMM shapes: for each training configuration, the time cblas_sgemm alone needs for exactly the
// GEMMs of one training step (same shapes, transposes and counts). Prints one JSON line per configuration, like the reference script.
// usage: torpor-bench-forecast --threads N [--secs S] [--layers 1,2] [--seqs 168,288] [--batches 64,256]
import Foundation
import TorporForecast

var options: [String: String] = ["--threads": "1", "--secs": "4", "--layers": "1,2", "--seqs": "168,288", "--batches": "64,256"]
var it = CommandLine.arguments.dropFirst().makeIterator()
while let key = it.next() { options[key] = it.next() }
let threads = Int(options["--threads"]!)!, secs = Double(options["--secs"]!)!
BLAS.setThreads(threads)
let I = 16, H = 64, OUT = 24

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Median rate (calls/s) over 5 timed chunks after 3 warm-up calls, as the reference script measures.
func timed(_ seconds: Double, _ body: () -> Void) -> (median: Double, rates: [Double]) {
    for _ in 0..<3 { body() }
    let t0 = now(); body(); let one = now() - t0
    let perChunk = max(1, Int(seconds / 5 / max(one, 1e-6)))
    var rates: [Double] = []
    for _ in 0..<5 {
        let start = now()
        for _ in 0..<perChunk { body() }
        rates.append(Double(perChunk) / (now() - start))
    }
    return (rates.sorted()[2], rates)
}

func forwardFlops(_ L: Int, _ T: Int, _ B: Int) -> Double {
    var f = 0.0
    for l in 0..<L { f += 2.0 * Double(B * 4 * H * ((l == 0 ? I : H) + H) * T) }
    return f + 2.0 * Double(B * H * OUT)
}

func json(_ fields: [(String, Any)]) -> String {
    "{" + fields.map { k, v in "\"\(k)\": " + (v is String ? "\"\(v)\"" : "\(v)") }.joined(separator: ", ") + "}"
}

/// One GEMM call of a training step, as the engine issues it.
struct GEMM: Hashable {
    var transA = false, transB = false
    var m: Int, n: Int, k: Int
    var beta: Float = 0
}

/// Every GEMM of one training step (forward, backward through time, weight gradients, the head), with its count.
func trainingGEMMs(_ L: Int, _ T: Int, _ B: Int) -> [(GEMM, Int)] {
    var calls: [(GEMM, Int)] = []
    for l in 0..<L {
        let input = l == 0 ? I : H
        calls.append((GEMM(m: T * B, n: 4 * H, k: input), 1))                       // input projection of every step
        calls.append((GEMM(m: B, n: 4 * H, k: H, beta: 1), T))                       // recurrent step
        calls.append((GEMM(transB: true, m: B, n: H, k: 4 * H), T - 1))             // hidden gradient through time
        calls.append((GEMM(transA: true, m: input, n: 4 * H, k: T * B, beta: 1), 1)) // input-weight gradient
        calls.append((GEMM(transA: true, m: H, n: 4 * H, k: T * B, beta: 1), 1))     // recurrent-weight gradient
        if l > 0 { calls.append((GEMM(transB: true, m: T * B, n: input, k: 4 * H), 1)) } // gradient to the layer below
    }
    calls.append((GEMM(m: B, n: OUT, k: H, beta: 1), 1))
    calls.append((GEMM(transA: true, m: H, n: OUT, k: B, beta: 1), 1))
    calls.append((GEMM(transB: true, m: B, n: H, k: OUT), 1))
    return calls
}

/// Seconds one call of `g` takes in cblas_sgemm alone (median of the timed chunks; measured once per shape).
nonisolated(unsafe) var sgemmCache: [GEMM: Double] = [:]
func sgemmSeconds(_ g: GEMM) -> Double {
    if let s = sgemmCache[g] { return s }
    let a = [Float](repeating: 0.5, count: g.m * g.k), b = [Float](repeating: 0.25, count: g.k * g.n)
    var c = [Float](repeating: 0, count: g.m * g.n)
    let rate = timed(min(secs / 4, 0.5)) {
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            BenchGEMM.run(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, beta: g.beta, ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
        } } }
    }
    sgemmCache[g] = 1 / rate.median
    return 1 / rate.median
}

for L in options["--layers"]!.split(separator: ",").map({ Int($0)! }) {
    for T in options["--seqs"]!.split(separator: ",").map({ Int($0)! }) {
        for B in options["--batches"]!.split(separator: ",").map({ Int($0)! }) {
            let model = Forecaster(shape: ForecasterShape(inputSize: I, hiddenSize: H, layers: L, horizon: OUT), seed: 0)
            let optimizer = AdamW(for: model, learningRate: 1e-3, maxGradientNorm: nil)
            var random = SeededRandom(seed: 1)
            let x = (0..<B * T * I).map { _ in random.uniform(1) }, y = (0..<B * OUT).map { _ in random.uniform(1) }
            let train = x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in
                timed(secs) {
                    _ = model.lossAndGradients(xp.baseAddress!, targets: yp.baseAddress!, mask: nil, batch: B, steps: T)
                    optimizer.update(model)
                }
            } }
            // The same step's GEMMs in cblas_sgemm alone: the rate training would reach if nothing but the GEMMs took
            // time. samples/s ÷ this = the share of the sgemm rate achieved in training.
            var gemmSeconds = 0.0
            for (g, count) in trainingGEMMs(L, T, B) { gemmSeconds += Double(count) * sgemmSeconds(g) }
            print(json([("mode", "train"), ("impl", "torpor"), ("threads", threads), ("layers", L), ("seq", T), ("batch", B),
                        ("samples_per_s", (train.median * Double(B) * 10).rounded() / 10),
                        ("eff_gflops", (3 * forwardFlops(L, T, B) * train.median / 1e8).rounded() / 10),
                        ("sgemm_bound_samples_per_s", (Double(B) / gemmSeconds * 10).rounded() / 10)]))
            let infer = timed(secs / 2) { _ = model.predict(x, batch: B, steps: T) }
            print(json([("mode", "infer"), ("impl", "torpor"), ("threads", threads), ("layers", L), ("seq", T), ("batch", B),
                        ("samples_per_s", (infer.median * Double(B) * 10).rounded() / 10),
                        ("eff_gflops", (forwardFlops(L, T, B) * infer.median / 1e8).rounded() / 10)]))
            FileHandle.standardOutput.synchronizeFile()
        }
    }
}

// cblas_sgemm alone at the model's shapes: the input projection (T·B × I·4H), the recurrent step (B × H·4H) and the
// weight-gradient GEMMs (H × T·B · 4H), for seq 168, batch 64 and 256.
for (name, m, n, k) in [("input projection T=168 B=64", 168 * 64, 4 * H, H), ("recurrent step B=64", 64, 4 * H, H),
                        ("recurrent step B=256", 256, 4 * H, H), ("weight gradient T=168 B=64", H, 4 * H, 168 * 64)] {
    print(json([("mode", "sgemm"), ("threads", threads), ("shape", name), ("gflops", (2 * Double(m * n * k) / sgemmSeconds(GEMM(m: m, n: n, k: k)) / 1e8).rounded() / 10)]))
}

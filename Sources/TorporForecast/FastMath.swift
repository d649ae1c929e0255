/// Branch-free exp, sigmoid and tanh that the compiler vectorizes inside the gate loops (libm's `expf` / `tanhf` are
/// scalar calls and took most of the LSTM's time). exp(x) = 2^n · 2^f with n = round(x·log2 e), |f| ≤ ½, 2^f by its
/// degree-6 Taylor polynomial in f·ln 2 (relative error about 1e-6), 2^n put into the exponent bits directly.
/// Rounding uses the 1.5·2^23 trick and wrapping integer arithmetic: no checked conversion, so the loop vectorizes.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let clamped = min(max(x, -87), 87)
    let y = clamped * 1.442695041   // log2(e)
    let shifter: Float = 12_582_912  // 1.5 · 2^23: adding it leaves round(y) in the low mantissa bits
    let shifted = y + shifter
    let n = shifted - shifter
    let t = (y - n) * 0.693147181   // f · ln 2, |t| ≤ 0.3466
    let p = 1 + t * (1 + t * (0.5 + t * (0.166666667 + t * (0.0416666667 + t * (0.00833333333 + t * 0.00138888889)))))
    let exponent = (shifted.bitPattern &- shifter.bitPattern &+ 127) << 23
    return p * Float(bitPattern: exponent)
}

@inline(__always)
func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

@inline(__always)
func fastTanh(_ x: Float) -> Float { 2 / (1 + fastExp(-2 * x)) - 1 }

import COpenBLAS
import Foundation

/// `cblas_sgemm` alone (C = op(A)·op(B) + beta·C, densely stored), for benchmarks that compare the engine with the
/// GEMM it is built on.
public enum BenchGEMM {
    public static func run(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, beta: Float = 0,
                           _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a, lda: transA ? m : k, b, ldb: transB ? k : n, beta: beta, c, ldc: n)
    }
}

/// The one typed entry to OpenBLAS: every matrix product of the engine goes through `gemm`.
public enum BLAS {
    /// How many threads OpenBLAS uses (`openblas_set_num_threads`).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The thread counts a tool may ask for: OpenBLAS ignores one under 1 and keeps its own (every core).
    public static let threadCounts = 1...256

    /// How many threads OpenBLAS uses now: with its kernels, what the float sums of a product (a trained model's last
    /// bits) depend on.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The kernels OpenBLAS chose for this CPU (`openblas_get_corename`), e.g. "Haswell"; `OPENBLAS_CORETYPE` forces them.
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// A warning when OpenBLAS runs its oldest kernels (Prescott, SSE3) on a CPU that has AVX2, nil otherwise: OpenBLAS
    /// before 0.3.25 (Debian 12 has 0.3.21) does not recognise recent Intel models and falls back to them
    /// (OpenMathLib/OpenBLAS#4267). `cpuInfo` gives the text of /proc/cpuinfo; it is read only when the core is Prescott.
    public static func slowKernelWarning(core: String = coreName,
                                         cpuInfo: () -> String? = { try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) }) -> String? {
        guard core.lowercased() == "prescott" else { return nil }
        let features = Set((cpuInfo() ?? "").split(whereSeparator: \.isWhitespace))
        guard features.contains("avx2") else { return nil }
        let (fix, kind) = features.contains("avx512f") ? ("SkylakeX", "AVX-512") : ("Haswell", "AVX2")
        return "OpenBLAS runs its oldest kernels (Prescott, SSE3) on this CPU, which has \(kind): it does not know the CPU model; "
            + "set OPENBLAS_CORETYPE=\(fix) in the environment for its \(kind) kernels (see the README, \"Forecast engine\")"
    }

    /// C = alpha · op(A) · op(B) + beta · C, row-major, over raw storage (`cblas_sgemm`).
    /// op(A) is m×k, op(B) is k×n, C is m×n; `lda`, `ldb`, `ldc` are the row strides as stored.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

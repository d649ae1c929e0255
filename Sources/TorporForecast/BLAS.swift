import COpenBLAS

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

import Testing
@testable import TorporForecast

@Suite struct BLASTests {
    /// The warning names the fix where OpenBLAS fell back to Prescott on a CPU with AVX2, and is quiet otherwise.
    @Test func slowKernelsAreReportedOnlyWhereFasterOnesExist() {
        let avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n", old = "processor\t: 0\nflags\t\t: fpu sse2 sse3\n"
        #expect(BLAS.slowKernelWarning(core: "Prescott", cpuInfo: { avx2 })?.contains("OPENBLAS_CORETYPE=Haswell") == true)
        #expect(BLAS.slowKernelWarning(core: "Prescott", cpuInfo: { avx2 + "flags\t\t: fpu avx2 avx512f\n" })?.contains("OPENBLAS_CORETYPE=SkylakeX") == true)
        #expect(BLAS.slowKernelWarning(core: "Prescott", cpuInfo: { old }) == nil)
        #expect(BLAS.slowKernelWarning(core: "Haswell", cpuInfo: { Issue.record("cpuinfo read for a recognised core"); return avx2 }) == nil)
        #expect(BLAS.slowKernelWarning(core: "Prescott", cpuInfo: { nil }) == nil)
        #expect(BLAS.coreName != "unknown" && !BLAS.coreName.isEmpty)
    }
}

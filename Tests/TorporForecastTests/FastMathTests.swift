import Foundation
import Testing
@testable import TorporForecast

@Suite struct FastMathTests {
    @Test func closeToLibm() {
        var worstExp: Float = 0, worstSigmoid: Float = 0, worstTanh: Float = 0
        for i in -20000...20000 {
            let x = Float(i) / 1000
            worstExp = max(worstExp, abs(fastExp(x) - expf(x)) / expf(x))
            worstSigmoid = max(worstSigmoid, abs(fastSigmoid(x) - 1 / (1 + expf(-x))))
            worstTanh = max(worstTanh, abs(fastTanh(x) - tanhf(x)))
        }
        #expect(worstExp < 2e-6, "exp relative error \(worstExp)")
        #expect(worstSigmoid < 1e-6, "sigmoid absolute error \(worstSigmoid)")
        #expect(worstTanh < 1e-6, "tanh absolute error \(worstTanh)")
        #expect(fastSigmoid(-200) >= 0 && fastSigmoid(200) == 1 && fastTanh(200) == 1 && fastTanh(-200) == -1)
    }
}

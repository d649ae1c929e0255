import Testing
import TorporCore

@Suite struct QuantileForecastTests {
    let forecast = QuantileForecast(start: 0, quantiles: [0.5, 0.9, 0.99], values: [[2, 10, 20], [.nan, .nan, .nan], [4, 4, 30]], source: "crafted")

    @Test func aQuantileBetweenTwoIsInterpolatedAndOneOutsideIsNot() throws {
        let q9 = try #require(forecast.series(quantile: 0.9))
        #expect(q9[0] == 10 && q9[1].isNaN && q9[2] == 4, "one of its own quantiles")
        let q7 = try #require(forecast.series(quantile: 0.7))
        #expect(q7[0] == 6 && q7[1].isNaN && q7[2] == 4, "\(q7)")
        #expect(abs(try #require(forecast.series(quantile: 0.95))[0] - (10 + 10 * 5 / 9)) < 1e-4)
        #expect(forecast.series(quantile: 0.4) == nil && forecast.series(quantile: 0.995) == nil)
    }

    @Test func aRecordIncludesTheQuantileATierDecidesBy() throws {
        let with = try #require(forecast.including(quantile: 0.7))
        #expect(with.quantiles == [0.5, 0.7, 0.9, 0.99] && with.values[0] == [2, 6, 10, 20] && with.values[2] == [4, 4, 4, 30])
        #expect(with.source == "crafted, q0.7 interpolated")
        #expect(forecast.including(quantile: 0.9)?.quantiles == forecast.quantiles && forecast.including(quantile: 0.3) == nil)
    }
}

import Testing
import TorporCore

@Suite struct MetricsTests {
    @Test func knownMetricsTakeTheirCanonicalUnitByDefault() throws {
        let b = try MetricBinding.make(metric: "cpu_util", unit: nil).get()
        #expect(b.unit.factor == 1)
        #expect(b.dimension == .percent)
    }

    @Test func unitsConvertToTheCanonicalUnit() throws {
        #expect(try MetricBinding.make(metric: "mem_used", unit: "KiB").get().unit.factor == 1024)
        #expect(try MetricBinding.make(metric: "cpu_util", unit: "fraction").get().unit.factor == 100)
        #expect(try MetricBinding.make(metric: "net_rx", unit: "bytes/5min").get().unit.factor == 1.0 / 300)
    }

    @Test func mismatchedOrUnknownUnitsAreRefused() {
        #expect(MetricBinding.make(metric: "cpu_util", unit: "KiB") == .failure(.wrongDimension(metric: "cpu_util", unit: "KiB", expected: .percent)))
        #expect(MetricBinding.make(metric: "cpu_util", unit: "furlongs") == .failure(.unknownUnit(metric: "cpu_util", unit: "furlongs")))
        #expect(MetricBinding.make(metric: "queue_depth", unit: nil) == .failure(.unitRequired("queue_depth")))
        #expect(MetricBinding.make(metric: "Bad Name", unit: "count") == .failure(.invalidName("Bad Name")))
    }

    @Test func customMetricsNeedOnlyAUnit() throws {
        #expect(try MetricBinding.make(metric: "queue_depth", unit: "count").get().dimension == .count)
    }
}

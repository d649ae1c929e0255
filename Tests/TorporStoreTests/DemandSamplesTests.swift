import Testing
import TorporCore
import TorporStore

/// The idle timeout's rule on measured samples, shared by the executor and the backtest.
@Suite struct DemandSamplesTests {
    static let t0 = UTC.epoch(year: 2024, month: 3, day: 4)

    /// 5-minute samples over `minutes`, at 2 % except where `busy` or missing where `gaps` (minutes from t0).
    static func samples(_ minutes: Range<Int>, busy: [Int] = [], gaps: Range<Int> = 0..<0) -> DemandSamples {
        DemandSamples(stride(from: minutes.lowerBound, to: minutes.upperBound, by: 5).filter { !gaps.contains($0) }
            .map { (t0 + Int64($0) * 60, busy.contains($0) ? 30 : 2) })
    }

    static func at(_ minute: Int) -> EpochSeconds { t0 + Int64(minute) * 60 }

    @Test func aSliceKeepsWhatProductionHasOfAVMThatSlept() {
        let d = Self.samples(0..<600)
        let slice = d.slice(from: Self.at(30), to: Self.at(300), excluding: [Self.at(0)..<Self.at(40), Self.at(100)..<Self.at(200), Self.at(400)..<Self.at(500)])
        #expect(slice.times == (stride(from: 40, to: 100, by: 5).map(Self.at) + stride(from: 200, to: 300, by: 5).map(Self.at)))
        #expect(slice.interval == 300 && slice.values.allSatisfy { $0 == 2 })
        // Its sleep breaks the quiet a demand call's evidence needs: not proven across it.
        #expect(d.noDemand(after: Self.at(60), for: 7200, until: Self.at(300), threshold: 15) == Self.at(180))
        #expect(slice.noDemand(after: Self.at(60), for: 7200, until: Self.at(300), threshold: 15) == nil)
    }

    @Test func theVMSleepsOnceItsDemandHasStayedLowForTheWholeTimeout() {
        let d = Self.samples(0..<600)
        #expect(d.firstIdle(for: 7200, from: Self.at(0), to: Self.at(600), threshold: 5) == Self.at(120))
        // Already calm for long enough at `from`: then.
        #expect(d.firstIdle(for: 7200, from: Self.at(300), to: Self.at(600), threshold: 5) == Self.at(300))
        // Not before `to`.
        #expect(d.firstIdle(for: 7200, from: Self.at(0), to: Self.at(100), threshold: 5) == nil)
    }

    @Test func aBusySampleAGapOrAWakeRestartsTheCount() {
        #expect(Self.samples(0..<600, busy: [60]).firstIdle(for: 7200, from: Self.at(0), to: Self.at(600), threshold: 5) == Self.at(185))
        #expect(Self.samples(0..<600, gaps: 60..<90).firstIdle(for: 7200, from: Self.at(0), to: Self.at(600), threshold: 5) == Self.at(210))
        #expect(Self.samples(0..<600).firstIdle(for: 7200, from: Self.at(0), to: Self.at(600), threshold: 5, countingFrom: Self.at(100)) == Self.at(220))
        // The data ends: the last sample covers its interval only (missing is not idle).
        #expect(Self.samples(0..<100).firstIdle(for: 7200, from: Self.at(0), to: Self.at(600), threshold: 5) == nil)
    }

    @Test func aRestoreForDemandThatDidNotComeIsProvenByMinIdleUnderTheThresholdAndUndoneByDemandSince() {
        // Restored at minute 0, 2 % since: proven two hours on (the threshold here is restore_above, 15 %).
        #expect(Self.samples(0..<600).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == Self.at(120))
        // The collector's first sample after the restore comes up to two intervals later (its first rate needs two
        // readings of the restored VM): counted from it. Later than that, the time between proves nothing.
        func firstSample(at minute: Int) -> DemandSamples { DemandSamples(stride(from: minute, to: 600, by: 5).map { (Self.at($0), 2.0) }) }
        #expect(firstSample(at: 3).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == Self.at(123))
        #expect(firstSample(at: 8).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == Self.at(128))
        #expect(firstSample(at: 12).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == nil)
        // Judged on the samples from the restore (a sample from before it is not counted: production has none while
        // the VM slept) and before `until` (one at `until` is the future).
        #expect(Self.samples(0..<600).noDemand(after: Self.at(2), for: 7200, until: Self.at(600), threshold: 15) == Self.at(125))
        #expect(Self.samples(0..<600, busy: [125]).noDemand(after: Self.at(5), for: 7200, until: Self.at(125), threshold: 15) == nil)
        #expect(Self.samples(0..<600, busy: [125]).noDemand(after: Self.at(5), for: 7200, until: Self.at(126), threshold: 15) == nil)
        #expect(Self.samples(0..<600, busy: [130]).noDemand(after: Self.at(5), for: 7200, until: Self.at(126), threshold: 15) == Self.at(125))
        // Known once a sample covers two hours on, not before; demand at minute 300 undoes it once it is seen, not before.
        #expect(Self.samples(0..<600).noDemand(after: Self.at(0), for: 7200, until: Self.at(120), threshold: 15) == nil)
        #expect(Self.samples(0..<600).noDemand(after: Self.at(0), for: 7200, until: Self.at(121), threshold: 15) == Self.at(120))
        #expect(Self.samples(0..<600, busy: [300]).noDemand(after: Self.at(0), for: 7200, until: Self.at(250), threshold: 15) == Self.at(120))
        #expect(Self.samples(0..<600, busy: [300]).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == nil)
        // A gap after the restore proves nothing (the demand could have come then): missing is not idle.
        #expect(Self.samples(0..<600, gaps: 10..<60).noDemand(after: Self.at(0), for: 7200, until: Self.at(600), threshold: 15) == nil)
    }
}

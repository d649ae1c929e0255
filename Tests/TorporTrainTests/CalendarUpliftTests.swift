import Foundation
import GRDB
import Testing
import TorporCore
import TorporForecast
import TorporIngest
import TorporStore
import TorporTestSupport
@testable import TorporTrain

/// Calendar events known ahead: a VM whose demand jumps during irregular campaigns (no weekly rhythm the model could
/// learn by itself) teaches the trainer a demand uplift, which raises the forecast at an event's hours and nowhere else.
@Suite struct CalendarUpliftTests {
    static let start = UTC.epoch(year: 2024, month: 1, day: 1)
    static let days = 60

    @Test func campaignsTeachAnUpliftThatShiftsOnlyTheirHours() throws {
        let dir = try ScratchDirectory.make("torpor-cal")
        let store = try Store(path: dir + "/torpor.db")
        var seed: UInt64 = 7
        func random(_ n: UInt64) -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return (seed >> 33) % n }
        var campaignDays = Set<Int>()
        for day in 0..<Self.days where random(7) < 2 { campaignDays.insert(day) }
        var ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//torpor//test//EN\r\n"
        for day in campaignDays.sorted() {
            let d = UTC.format(Self.start + Int64(day) * 86_400).prefix(10).replacingOccurrences(of: "-", with: "")
            ics += "BEGIN:VEVENT\r\nUID:campaign-\(day)@test\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:\(d)T100000Z\r\nDTEND:\(d)T140000Z\r\n"
                + "SUMMARY:campaign\r\nCATEGORIES:demand\r\nX-TORPOR-VMS:campaign-vm\r\nEND:VEVENT\r\n"
        }
        ics += "END:VCALENDAR\r\n"
        try ics.write(toFile: dir + "/campaigns.ics", atomically: true, encoding: .utf8)
        let now = Self.start + Int64(Self.days) * 86_400
        try store.transaction { db in
            let writer = try SampleWriter(db: db)
            let cpu = try writer.metricID(try MetricBinding.make(metric: "cpu_util", unit: "percent").get())
            let vm = try VMRepository.id(of: "campaign-vm", in: db, now: Self.start)
            for h in 0..<Self.days * 24 {
                let hour = h % 24, day = h / 24
                var value = (8..<18).contains(hour) ? 20.0 : 3.0
                if campaignDays.contains(day) && (10..<14).contains(hour) { value += 50 }
                _ = try writer.add(vm: vm, metric: cpu, time: Self.start + Int64(h) * 3600, value: value + Double(random(100)) / 50)
            }
            try writer.finish()
        }
        _ = try CalendarIngester(store: store).ingest(path: dir + "/campaigns.ics", from: Self.start, to: now, now: now)
        var config = TrainingConfig()
        config.maxEpochs = 3
        config.hiddenSize = 16
        let run = try Trainer(store: store, config: config).run(now: now).run
        #expect(run.hyperparameters["calendar"] == "demand")
        let blob = try #require(try store.read { try Data.fetchOne($0, sql: "SELECT model FROM model_run WHERE id = ?", arguments: [run.id]) })
        let uplift = CalendarUplift(metadata: try ModelFile.decode(blob, source: "run").metadata)
        let demand = try #require(uplift.values[.demand])
        // In scaled units (the VM's p99 is about 72 %): the campaigns add about 50 points the model could not foresee.
        #expect(demand[1] > 0.3, "q0.9 uplift \(demand)")
        // Applied: only the hours with the event move.
        let forecast: [Float] = [10, 20, 30]
        #expect(uplift.apply(forecast, categories: [], scale: 72) == forecast)
        let raised = uplift.apply(forecast, categories: [.demand], scale: 72)
        #expect(zip(raised, forecast).allSatisfy { $0 > $1 })
    }

    @Test func calendarHoursSpreadEventsOverTheirHoursAndVMs() {
        let hours = CalendarHours(["a": [Self.start: [.demand]]])
        #expect(hours.categories(vm: "a", hour: Self.start) == [.demand])
        #expect(hours.categories(vm: "a", hour: Self.start + 3600).isEmpty)
        #expect(hours.categories(vm: "b", hour: Self.start).isEmpty)
    }

    /// As of a time (a replayed hour), only the categories of events known by then are on; one known since ever always is.
    @Test func calendarHoursAsKnownAtATime() {
        var hours = CalendarHours(["a": [Self.start: [.demand, .keepAwake]]])
        hours.knownFrom = ["a": [Self.start: [.keepAwake: Self.start - 600]]]
        #expect(hours.categories(vm: "a", hour: Self.start) == [.demand, .keepAwake])
        #expect(hours.known(by: Self.start - 601).categories(vm: "a", hour: Self.start) == [.demand])
        #expect(hours.known(by: Self.start - 600).categories(vm: "a", hour: Self.start) == [.demand, .keepAwake])
        #expect(hours.known(by: .min).categories(vm: "a", hour: Self.start) == [.demand])
    }
}

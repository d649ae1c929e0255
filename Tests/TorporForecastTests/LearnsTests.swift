import Foundation
import Testing
@testable import TorporForecast

/// The engine learns real demand with a daily cycle: three Bitbrains VMs (GWA-T-12 Rnd #5, #4, #6 — the demo fleet's
/// web-01, web-02, api-01), CPU usage aggregated to hourly maxima over three months, trained from a fixed seed to predict
/// the next 24 hours as corrections to the same hours of the previous day. On the
/// held-out last 7 days, its validation loss beats the mean, the seasonal-naive forecast (same hour yesterday) and the
/// hour-of-week profile.
@Suite(.serialized) struct LearnsTests {
    static let lookback = 168, horizon = 24, validationDays = 7

    /// Hourly maxima of `CPU usage [%]`, read directly from the trace (2013-7…9); absent rows (0 cores) and empty hours
    /// are NaN: missing, never zero.
    static func hourly(vm: Int) throws -> [Float] {
        let base = ProcessInfo.processInfo.environment["TORPOR_SHARED_DATA"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("../shared/data").standardizedFileURL.path
        var byHour: [Int: Float] = [:]
        for month in ["2013-7", "2013-8", "2013-9"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = ["-dc", "\(base)/traces/bitbrains_rnd/\(month)/\(vm).csv.gz"]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard f.count > 4, let t = Int(f[0]), let cores = Double(f[1]), cores > 0, let cpu = Float(f[4]) else { continue }
                byHour[t / 3600] = max(byHour[t / 3600] ?? -1, cpu)
            }
        }
        let first = byHour.keys.min()!, last = byHour.keys.max()!
        return (first...last).map { byHour[$0] ?? .nan }
    }

    struct Window { var input: [Float]; var target: [Float]; var mask: [Float] }

    /// Inputs per step: scaled demand (0 where missing) with a "present" flag, the same hour six days earlier (so the
    /// last 24 steps carry last week's values of the 24 hours to forecast), and hour-of-day / day-of-week encodings.
    static func window(_ series: [Float], at end: Int, firstHour: Int, scale: Float) -> Window {
        var input: [Float] = []
        input.reserveCapacity(lookback * 7)
        for h in end - lookback..<end {
            let v = series[h]
            let hour = Float((firstHour + h) % 24), day = Float(((firstHour + h) / 24) % 7)
            let week = h >= 144 ? series[h - 144] : .nan
            input += [v.isNaN ? 0 : v / scale, v.isNaN ? 0 : 1, week.isNaN ? 0 : week / scale,
                      sin(2 * .pi * hour / 24), cos(2 * .pi * hour / 24), sin(2 * .pi * day / 7), cos(2 * .pi * day / 7)]
        }
        // The target is the change from the same hour yesterday (a seasonal skip connection): the network learns
        // corrections to seasonal naive rather than the whole level.
        let target = (end..<end + horizon).map { t in series[t].isNaN || series[t - 24].isNaN ? 0 : (series[t] - series[t - 24]) / scale }
        let mask = (end..<end + horizon).map { t in series[t].isNaN || series[t - 24].isNaN ? Float(0) : 1 }
        return Window(input: input, target: target, mask: mask)
    }

    @Test func beatsTheBaselinesOnThreeRealVMs() throws {
        var train: [Window] = [], validation: [(vm: Int, end: Int, window: Window)] = []
        var series: [Int: [Float]] = [:], scales: [Int: Float] = [:]
        for vm in [5, 4, 6] {
            let s = try Self.hourly(vm: vm)
            series[vm] = s
            let split = s.count - Self.validationDays * 24 - Self.horizon
            let known = s[..<split].filter { !$0.isNaN }
            scales[vm] = max(1, known.sorted()[known.count * 99 / 100])
            for end in stride(from: Self.lookback + 144, to: split - Self.horizon, by: 3) { train.append(Self.window(s, at: end, firstHour: 0, scale: scales[vm]!)) }
            for end in stride(from: split, to: s.count - Self.horizon, by: 24) { validation.append((vm, end, Self.window(s, at: end, firstHour: 0, scale: scales[vm]!))) }
        }
        let shape = ForecasterShape(inputSize: 7, hiddenSize: 48, layers: 1, horizon: Self.horizon)
        let model = Forecaster(shape: shape, seed: 42)
        let optimizer = AdamW(for: model, learningRate: 3e-3)
        var random = SeededRandom(seed: 42)
        let batch = 32
        for _ in 0..<20 {
            train.shuffle(using: &random)
            for start in stride(from: 0, to: train.count - batch + 1, by: batch) {
                let chunk = train[start..<start + batch]
                let x = chunk.flatMap(\.input), y = chunk.flatMap(\.target), m = chunk.flatMap(\.mask)
                _ = x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in m.withUnsafeBufferPointer { mp in
                    model.lossAndGradients(xp.baseAddress!, targets: yp.baseAddress!, mask: mp.baseAddress!, batch: batch, steps: Self.lookback)
                } } }
                optimizer.update(model)
            }
        }
        // Mean squared error in scaled units over the known validation targets, for the model and each baseline.
        var errors: [String: (sum: Float, n: Float)] = [:]
        func add(_ name: String, _ prediction: Float, _ actual: Float) {
            errors[name, default: (0, 0)].sum += (prediction - actual) * (prediction - actual)
            errors[name, default: (0, 0)].n += 1
        }
        for (vm, end, w) in validation {
            let s = series[vm]!, scale = scales[vm]!
            let predicted = model.predict(w.input, batch: 1, steps: Self.lookback)
            let history = s[..<end]
            let known = history.filter { !$0.isNaN }
            let mean = known.reduce(0, +) / Float(known.count)
            for k in 0..<Self.horizon where w.mask[k] == 1 {
                let t = end + k, actual = s[t] / scale
                add("model", s[t - 24] / scale + predicted[k], actual)
                add("mean", mean / scale, actual)
                let yesterday = s[t - 24 * ((k / 24) + 1)]
                add("seasonal naive (same hour yesterday)", (yesterday.isNaN ? mean : yesterday) / scale, actual)
                let sameHourOfWeek = stride(from: t - 168, through: 0, by: -168).map { s[$0] }.filter { !$0.isNaN }
                add("hour-of-week profile", (sameHourOfWeek.isEmpty ? mean : sameHourOfWeek.reduce(0, +) / Float(sameHourOfWeek.count)) / scale, actual)
            }
        }
        let mse = errors.mapValues { $0.sum / $0.n }
        for (name, value) in mse.sorted(by: { $0.value < $1.value }) { print("validation MSE \(name): \(value)") }
        let model_ = try #require(mse["model"])
        for baseline in ["mean", "seasonal naive (same hour yesterday)", "hour-of-week profile"] {
            #expect(model_ < mse[baseline]!, "the model (\(model_)) beats \(baseline) (\(mse[baseline]!))")
        }
    }
}

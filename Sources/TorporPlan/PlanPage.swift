import Foundation
import TorporCore
import TorporStore

/// The plan as one self-contained HTML page: the action table, then per VM an SVG chart of its recent demand, the
/// forecast band, the thresholds and the planned sleep, with what happens when and why. No scripts, no external files.
public enum PlanPage {
    /// `warnings`: what `show` heads the plan with (superseded, not followed, expired, …), each at the page's top.
    /// `history`: per VM, the hourly demand before the plan (NaN = missing), starting at `historyStart`.
    public static func html(_ plan: Plan, standing: ApprovalStanding, warnings: [String] = [], history: [String: [Float]], historyStart: EpochSeconds) -> String {
        var body = """
            <h1>torpor plan <code>\(plan.id.prefix(12))</code></h1>
            \(warnings.map { "<p class=\"warning\">\($0.htmlEscaped)</p>" }.joined(separator: "\n"))
            <p>Created \(plan.createdAt.text), hibernations valid until \(plan.validUntil.text). Data up to \((plan.inputs.dataWatermark?.text ?? "none").htmlEscaped); forecast: \(plan.inputs.model.htmlEscaped); policy <code>\(plan.inputs.policySHA256.prefix(12))</code>; horizon \(plan.inputs.horizonHours) h.</p>
            <table><tr><th>action</th><th>VM</th><th>tier</th><th>at</th><th>deadline</th><th>VM-hours saved</th><th>risk</th><th>approval</th></tr>
            """
        for a in plan.actions {
            body += "<tr class=\"\(a.action.rawValue)\"><td>\(a.what)</td><td><a href=\"#vm-\(a.vm.htmlEscaped)\">\(a.vm.htmlEscaped)</a></td><td>\(a.tier.htmlEscaped)</td><td>\(a.at.text)</td><td>\(a.deadline?.text ?? "")</td><td>\(String(format: "%.1f", a.rationale.expectedVMHoursSaved))</td><td class=\"risk-\(a.rationale.risk)\">\(a.rationale.risk)</td><td>\(Approvals.status(of: a, in: plan, standing: standing).htmlEscaped)</td></tr>\n"
        }
        body += "</table>\n"
        let planned = Set(plan.actions.map(\.vm))
        let skipped = Dictionary(plan.skipped.map { ($0.vm, $0.reason) }, uniquingKeysWith: { a, b in a + "; " + b })   // once per VM as torpor writes it
        for f in plan.forecasts {
            let isPlanned = planned.contains(f.vm)
            body += "<section id=\"vm-\(f.vm.htmlEscaped)\"><h2>\(f.vm.htmlEscaped) <small>tier \(f.tier.htmlEscaped), q\(f.tierQuantile) decides; \(f.source.htmlEscaped)</small></h2>\n"
            body += chart(f, actions: plan.actions.filter { $0.vm == f.vm }, history: history[f.vm] ?? [], historyStart: historyStart,
                          now: plan.createdAt.seconds, planned: isPlanned)
            body += "<ul>"
            for a in plan.actions where a.vm == f.vm {
                body += "<li><b>\(a.at.text) \(a.what)</b>: \(a.rationale.text.htmlEscaped)</li>"
            }
            if let reason = skipped[f.vm] { body += "<li>\(isPlanned ? "window not taken" : "left running"): \(reason.htmlEscaped)</li>" }
            body += "</ul></section>\n"
        }
        let unforecast = plan.leftRunning.filter { s in !plan.forecasts.contains { $0.vm == s.vm } }
        if !unforecast.isEmpty {
            body += "<h2>Left running without a forecast</h2><ul>" + unforecast.map { "<li>\($0.vm.htmlEscaped): \($0.reason.htmlEscaped)</li>" }.joined() + "</ul>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>torpor plan \(plan.id.prefix(12))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
            table{border-collapse:collapse;font-size:90%}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
            tr.hibernate td:first-child{color:#1f5fa8}tr.restore td:first-child{color:#a85f1f}
            .risk-high{color:#b00;font-weight:bold}.risk-medium{color:#b70}
            section{margin-top:2em}small{color:#666;font-weight:normal}
            .warning{color:#b00;font-weight:bold;border:2px solid #b00;padding:6px 10px}
            </style></head><body>
            \(body)
            <p><small>Chart: grey = measured hourly demand (max of the hour); orange band = forecast from the lowest to the highest quantile; orange line = the tier's quantile; green dashed = hibernate_below; red dashed = restore_above; blue = planned sleep; vertical line = plan time. Every time on this page is UTC.</small></p>
            </body></html>

            """
    }

    static func chart(_ f: Plan.VMForecast, actions: [Plan.Action], history: [Float], historyStart: EpochSeconds, now: EpochSeconds,
                      planned: Bool) -> String {
        let width = 1000.0, height = 220.0, left = 44.0, right = 10.0, top = 10.0, bottom = 26.0
        let t0 = historyStart, t1 = f.start.seconds + Int64(f.values.count) * 3600
        let tierIndex = f.quantiles.firstIndex { abs($0 - f.tierQuantile) < 1e-6 } ?? f.quantiles.count - 1
        let highest = (history.filter { !$0.isNaN }.map(Double.init) + f.values.flatMap { $0.compactMap { $0 } } + [f.restoreAbove * 1.5]).max() ?? 100
        let yMax = min(100, max(10, (highest / 10).rounded(.up) * 10))
        func x(_ t: EpochSeconds) -> Double { left + (width - left - right) * Double(t - t0) / Double(max(1, t1 - t0)) }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - min(v, yMax) / yMax) }
        func point(_ t: EpochSeconds, _ v: Double) -> String { String(format: "%.1f,%.1f", x(t), y(v)) }
        var svg = "<svg class=\"vm-chart\(planned ? " planned" : "")\" data-vm=\"\(f.vm.htmlEscaped)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for tick in stride(from: 0.0, through: yMax, by: yMax / 5) {
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(tick))\" y2=\"\(y(tick))\" stroke=\"#eee\"/><text x=\"\(left - 4)\" y=\"\(y(tick) + 4)\" font-size=\"10\" text-anchor=\"end\">\(Int(tick)) %</text>"
        }
        var tick = UTC.floor(t0, to: 21_600) + 21_600
        while tick < t1 {
            let label = UTC.format(tick)
            let text = tick % 86_400 == 0 ? String(label.prefix(10)) : String(label.dropFirst(11).prefix(5))
            svg += "<line x1=\"\(x(tick))\" x2=\"\(x(tick))\" y1=\"\(top)\" y2=\"\(height - bottom)\" stroke=\"#eee\"/><text x=\"\(x(tick))\" y=\"\(height - 8)\" font-size=\"10\" text-anchor=\"middle\">\(text)</text>"
            tick += 21_600
        }
        for a in actions where a.action == .restore {
            let from = a.pairedWith.flatMap { id in actions.first { $0.id == id } }?.at.seconds ?? max(t0, now)
            let to = a.deadline?.seconds ?? a.at.seconds
            svg += "<rect class=\"sleep\" x=\"\(x(from))\" y=\"\(top)\" width=\"\(max(1, x(to) - x(from)))\" height=\"\(height - top - bottom)\" fill=\"#1f5fa8\" fill-opacity=\"0.12\"/>"
            svg += "<line x1=\"\(x(a.at.seconds))\" x2=\"\(x(a.at.seconds))\" y1=\"\(top)\" y2=\"\(height - bottom)\" stroke=\"#a85f1f\" stroke-dasharray=\"2,2\"/>"
        }
        // The forecast band, broken where the forecast is unknown.
        var band: [(EpochSeconds, Double, Double, Double)] = []
        func flushBand() {
            guard band.count > 0 else { return }
            let upper = band.map { point($0.0, $0.2) } + band.reversed().map { point($0.0, $0.1) }
            svg += "<polygon points=\"\(upper.joined(separator: " "))\" fill=\"#f0a040\" fill-opacity=\"0.3\"/>"
            svg += "<polyline points=\"\(band.map { point($0.0, $0.3) }.joined(separator: " "))\" fill=\"none\" stroke=\"#d07010\" stroke-width=\"1.5\"/>"
            band = []
        }
        for (k, values) in f.values.enumerated() {
            let t = f.start.seconds + Int64(k) * 3600
            if let lo = values.first ?? nil, let hi = values.last ?? nil, let mid = values[tierIndex] {
                band.append((t, lo, hi, mid)); band.append((t + 3600, lo, hi, mid))
            } else { flushBand() }
        }
        flushBand()
        var line: [String] = []
        func flushLine() {
            if line.count > 1 { svg += "<polyline points=\"\(line.joined(separator: " "))\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\"/>" }
            line = []
        }
        for (i, v) in history.enumerated() {
            if v.isNaN { flushLine(); continue }
            let t = historyStart + Int64(i) * 3600
            line.append(point(t, Double(v))); line.append(point(t + 3600, Double(v)))
        }
        flushLine()
        svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(f.hibernateBelow))\" y2=\"\(y(f.hibernateBelow))\" stroke=\"#2a2\" stroke-dasharray=\"6,3\"/>"
        svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(f.restoreAbove))\" y2=\"\(y(f.restoreAbove))\" stroke=\"#c22\" stroke-dasharray=\"6,3\"/>"
        svg += "<line x1=\"\(x(now))\" x2=\"\(x(now))\" y1=\"\(top)\" y2=\"\(height - bottom)\" stroke=\"#000\"/>"
        return svg + "</svg>\n"
    }
}

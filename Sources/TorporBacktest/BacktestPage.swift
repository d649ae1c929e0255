import Foundation
import TorporCore

/// The backtest as one self-contained HTML page: the fleet table, the trade-off curves (captured idle VM-hours against
/// the share of demand intervals that found the VM asleep or restoring, one line per strategy), each VM's scores, and
/// per-VM timelines of actual demand with the hours torpor had the VM asleep.
public enum BacktestPage {
    static let colors = ["torpor": "#1f5fa8", "seasonal-naive": "#d07010", "oracle": "#2a2", "reactive": "#b00", "office-hours": "#777"]

    public static func html(_ report: BacktestReport, sweep: [BacktestSweep.Point], timelines: Int = 6) -> String {
        var body = "<h1>torpor backtest</h1><p>Replay \(report.from) … \(report.to); torpor's forecast: \(report.forecast.htmlEscaped).</p>"
        body += "<pre>\((BacktestTable.render(report)).htmlEscaped)</pre>"
        if !sweep.isEmpty {
            body += "<h2>Trade-off: captured idle VM-hours against violations</h2>" + curves(sweep)
            body += "<p><small>Each point is one setting (hover for it); further up and to the left is better. Violations: the share of demand intervals (samples ≥ restore_above) that found the VM asleep or still restoring.</small></p>"
        }
        body += "<h2>Per VM</h2><pre>\(BacktestTable.perVM(report).htmlEscaped)</pre>"
        let busiest = report.timelines.sorted { a, b in
            let da = a.value.demand.compactMap { $0 }.filter { $0 >= a.value.restoreAbove }.count
            let db = b.value.demand.compactMap { $0 }.filter { $0 >= b.value.restoreAbove }.count
            return da != db ? da > db : a.key < b.key
        }.prefix(timelines)
        if !busiest.isEmpty { body += "<h2>Timelines (torpor)</h2>" }
        for (vm, t) in busiest { body += "<h3>\(vm.htmlEscaped)</h3>" + timeline(t) }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>torpor backtest</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}pre{font-size:85%}small{color:#666}</style>
            </head><body>
            \(body)
            <p><small>Timelines: grey = actual hourly demand (max of the hour), blue = hours asleep, red dashed = restore_above.</small></p>
            </body></html>

            """
    }

    /// The trade-off curves alone, as an SVG document (the frontier of each strategy; a point per setting).
    public static func curves(_ points: [BacktestSweep.Point]) -> String {
        let width = 900.0, height = 420.0, left = 60.0, bottom = 40.0, top = 10.0, right = 160.0
        let maxX = max(0.01, (points.map(\.violationShare).max() ?? 0) * 1.05)
        let maxY = max(1, points.map(\.capturedHours).max() ?? 1) * 1.05
        func x(_ v: Double) -> Double { left + (width - left - right) * v / maxX }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - v / maxY) }
        var svg = "<svg class=\"curves\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for i in 0...5 {
            let vx = maxX * Double(i) / 5, vy = maxY * Double(i) / 5
            svg += "<text x=\"\(x(vx))\" y=\"\(height - bottom + 16)\" font-size=\"11\" text-anchor=\"middle\">\(String(format: maxX < 0.05 ? "%.2f" : "%.1f", 100 * vx)) %</text>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(vy) + 4)\" font-size=\"11\" text-anchor=\"end\">\(Int(vy))</text>"
        }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 4)\" font-size=\"12\" text-anchor=\"middle\">demand intervals asleep or restoring</text>"
        svg += "<text x=\"14\" y=\"\(height / 2)\" font-size=\"12\" transform=\"rotate(-90 14 \(height / 2))\" text-anchor=\"middle\">captured idle VM-hours</text>"
        // The frontier of `points` (sorted by violations): the most captured at or under each violation level.
        func frontier(_ points: [BacktestSweep.Point]) -> String {
            var best = -1.0, line: [String] = []
            for p in points where p.capturedHours > best {
                line.append(String(format: "%.1f,%.1f", x(p.violationShare), y(p.capturedHours)))
                best = p.capturedHours
            }
            return line.joined(separator: " ")
        }
        var legend = 0
        func label(_ text: String, _ color: String) {
            svg += "<text x=\"\(width - right + 12)\" y=\"\(top + 16 + Double(legend) * 18)\" font-size=\"12\" fill=\"\(color)\">\(text)</text>"
            legend += 1
        }
        for strategy in Strategy.allCases.map(\.rawValue) {
            let mine = points.filter { $0.strategy == strategy }.sorted { ($0.violationShare, $0.capturedHours) < ($1.violationShare, $1.capturedHours) }
            guard !mine.isEmpty else { continue }
            let color = colors[strategy] ?? "#000"
            svg += "<polyline class=\"curve\" data-strategy=\"\(strategy)\" points=\"\(frontier(mine))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            for p in mine {
                svg += "<circle cx=\"\(x(p.violationShare))\" cy=\"\(y(p.capturedHours))\" r=\"4\" fill=\"\(color)\"><title>\(strategy): \(p.setting.htmlEscaped): \(String(format: "%.0f VM-h, %.2f %%", p.capturedHours, 100 * p.violationShare))</title></circle>"
            }
            label("■ \(strategy)", color)
            // torpor's settings without the idle timeout, dashed: what the opt-in adds.
            let plain = mine.filter { !$0.setting.contains("idle timeout") }
            if strategy == Strategy.torpor.rawValue && !plain.isEmpty && plain.count < mine.count {
                svg += "<polyline class=\"curve\" data-strategy=\"torpor, idle timeout off\" points=\"\(frontier(plain))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
                label("- - idle timeout off", color)
            }
        }
        return svg + "</svg>\n"
    }

    static func timeline(_ t: BacktestReport.Timeline) -> String {
        let width = 1000.0, height = 120.0, top = 5.0, bottom = 5.0
        let n = max(1, t.demand.count)
        let maxY = max(t.restoreAbove * 1.5, t.demand.compactMap { $0 }.max() ?? 1)
        func x(_ h: Int) -> Double { width * Double(h) / Double(n) }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - min(v, maxY) / maxY) }
        var svg = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\">"
        for (h, asleep) in t.asleep.enumerated() where asleep {
            svg += "<rect x=\"\(x(h))\" y=\"0\" width=\"\(x(h + 1) - x(h))\" height=\"\(height)\" fill=\"#1f5fa8\" fill-opacity=\"0.25\"/>"
        }
        var line: [String] = []
        func flush() { if line.count > 1 { svg += "<polyline points=\"\(line.joined(separator: " "))\" fill=\"none\" stroke=\"#555\"/>" }; line = [] }
        for (h, v) in t.demand.enumerated() {
            guard let v else { flush(); continue }
            line.append(String(format: "%.1f,%.1f %.1f,%.1f", x(h), y(v), x(h + 1), y(v)))
        }
        flush()
        svg += "<line x1=\"0\" x2=\"\(width)\" y1=\"\(y(t.restoreAbove))\" y2=\"\(y(t.restoreAbove))\" stroke=\"#c22\" stroke-dasharray=\"6,3\"/>"
        return svg + "</svg>\n"
    }
}

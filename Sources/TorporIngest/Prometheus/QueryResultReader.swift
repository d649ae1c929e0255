import Foundation

/// Reads `/api/v1/query_range` (and `/api/v1/query`) JSON: the full response with its `status` wrapper, or the bare
/// `result` array. Matrix series carry `values: [[t, "v"], …]`, vector samples `value: [t, "v"]`.
enum QueryResultReader {
    struct Series {
        var labels: [String: String]
        var points: [(time: Double, value: Double)]
        var name: String? { labels["__name__"] }
    }

    /// The series of a response body, and the `warnings` a successful answer carries (Thanos, Cortex, Mimir and
    /// Prometheus itself answer `success` with warnings when some of the data could not be read: a partial answer);
    /// `fail` builds the error for a message (with a position when known).
    static func read(from data: Data, fail: (String) -> Error) throws -> (series: [Series], warnings: [String]) {
        let json: Any
        let body = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data   // a UTF-8 BOM is not content
        do {
            json = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw fail("not valid JSON: \(describe(error, in: body))")
        }
        let result: [Any]
        var warnings: [String] = []
        if let array = json as? [Any] {
            result = array
        } else if let object = json as? [String: Any] {
            guard let status = object["status"] as? String else { throw fail("a query response needs 'status' (or give the bare result array)") }
            guard status == "success" else {
                throw fail("Prometheus answered \(status): \(object["errorType"] as? String ?? "") \(object["error"] as? String ?? "")")
            }
            guard let body = object["data"] as? [String: Any], let type = body["resultType"] as? String else { throw fail("'data.resultType' is missing") }
            guard type == "matrix" || type == "vector" else { throw fail("result type '\(type)' holds no series (expected matrix or vector)") }
            guard let r = body["result"] as? [Any] else { throw fail("'data.result' is not an array") }
            result = r
            warnings = (object["warnings"] as? [Any] ?? []).map { "\($0)" }
        } else {
            throw fail("expected a query response object or a result array")
        }
        let series = try result.enumerated().map { index, element in
            let where_ = "result[\(index)]"
            guard let series = element as? [String: Any] else { throw fail("\(where_) is not an object") }
            let labelObject = series["metric"] as? [String: Any] ?? [:]
            var labels: [String: String] = [:]
            for (k, v) in labelObject {
                guard let s = v as? String else { throw fail("\(where_).metric.\(k) is not a string") }
                labels[k] = s
            }
            let rawPoints: [Any]
            if let values = series["values"] as? [Any] {
                rawPoints = values
            } else if let value = series["value"] {
                rawPoints = [value]
            } else {
                throw fail("\(where_) has neither 'values' nor 'value'")
            }
            let points = try rawPoints.enumerated().map { i, raw -> (time: Double, value: Double) in
                guard let pair = raw as? [Any], pair.count == 2, let t = (pair[0] as? NSNumber)?.doubleValue else {
                    throw fail("\(where_).values[\(i)] is not a [time, \"value\"] pair")
                }
                guard let text = pair[1] as? String, let v = ExpositionParser.float(text) else {
                    throw fail("\(where_).values[\(i)]: value \(pair[1]) is not a number in a string")
                }
                return (t, v)
            }
            return Series(labels: labels, points: points)
        }
        return (series, warnings)
    }

    /// JSONSerialization's error, with the line and column of its offset when it gives one (as an error index, or on
    /// Linux only in its text: "… around character 15.").
    static func describe(_ error: Error, in data: Data) -> String {
        let info = (error as NSError).userInfo
        let detail = info[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        let offset = info["NSJSONSerializationErrorIndex"] as? Int
            ?? detail.range(of: "around character ").flatMap { Int(detail[$0.upperBound...].prefix { $0.isNumber }) }
        guard let offset, offset <= data.count else { return detail }
        let before = data.prefix(offset)
        let line = before.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
        let column = before.count - (before.lastIndex(of: 10).map { $0 - before.startIndex + 1 } ?? 0) + 1
        return "\(detail) (line \(line), column \(column))"
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TorporCore

/// Reads `/api/v1/query_range` from a live Prometheus server. A range longer than the server's point limit per
/// series (11,000) is split into chunks of at most `maxPointsPerChunk` steps, fetched in order; a chunk the server
/// finds too big for it (its `--query.max-samples`, or its `--query.timeout`, over a large fleet) is asked again in
/// halves, and the rest of the range in chunks of that size.
public struct PrometheusClient: Sendable {
    public let baseURL: URL
    public var timeout: TimeInterval = 30
    public var maxPointsPerChunk = 10_000

    public init(baseURL: URL) { self.baseURL = baseURL }

    /// One chunk of a range query: its time span and the response body.
    public struct Chunk: Sendable {
        public let start: EpochSeconds
        public let end: EpochSeconds
        public let body: Data
    }

    /// A range query's answer: its chunks in order, and the server's refusal of bigger chunks when it had to be
    /// asked in smaller ones.
    public struct RangeAnswer: Sendable {
        public let chunks: [Chunk]
        public let narrowed: String?
    }

    /// Fetches `query` over [start, end] at `step` seconds, chunk by chunk. Every chunk must succeed: the caller gets
    /// all of them or an error (never a partial range). A chunk refused as too big is halved until one point is.
    public func queryRange(_ query: String, start: EpochSeconds, end: EpochSeconds, step: Int64) throws(IngestError) -> RangeAnswer {
        var span = step * Int64(maxPointsPerChunk - 1)
        var chunks: [Chunk] = [], narrowed: String?
        var from = start
        while from <= end {
            let to = min(end, from + span)
            switch try get(path: "api/v1/query_range", query: query, parameters: ["start": String(from), "end": String(to), "step": String(step)],
                           what: "\(query) [\(UTC.format(from)) … \(UTC.format(to))]") {
            case .answer(let body):
                chunks.append(Chunk(start: from, end: to, body: body))
                from = to + step
            case .tooBig(let refusal) where to > from:
                span = (to - from) / step / 2 * step
                narrowed = "Prometheus refused \((to - from) / step + 1) points at once (\(refusal.detail)); asked in chunks of \(span / step + 1)"
            case .tooBig(let refusal):
                throw refusal.error
            }
        }
        return RangeAnswer(chunks: chunks, narrowed: narrowed)
    }

    /// The values of an instant query at `time` (`/api/v1/query`): one per series of a vector, or the scalar.
    /// NaN values are dropped.
    public func queryInstant(_ query: String, at time: EpochSeconds) throws(IngestError) -> [Double] {
        let body: Data
        switch try get(path: "api/v1/query", query: query, parameters: ["time": String(time)], what: "\(query) at \(UTC.format(time))") {
        case .answer(let data): body = data
        case .tooBig(let refusal): throw refusal.error
        }
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let data = json["data"] as? [String: Any] else {
            throw .failure(source: baseURL.absoluteString, message: "not a Prometheus query answer for \(query)")
        }
        func number(_ pair: Any?) -> Double? { ((pair as? [Any])?.last as? String).flatMap(Double.init).flatMap { $0.isNaN ? nil : $0 } }
        switch data["resultType"] as? String {
        case "scalar": return number(data["result"]).map { [$0] } ?? []
        case "vector": return (data["result"] as? [[String: Any]] ?? []).compactMap { number($0["value"]) }
        default: throw .badInput(source: baseURL.absoluteString, line: nil, message: "the query \(query) must give a vector or a scalar")
        }
    }

    /// A server's answer: the body of a success, or its refusal of a query too big for its limits, which a smaller
    /// range may pass. Every other refusal is thrown.
    private enum Reply {
        case answer(Data)
        case tooBig(Refusal)
    }

    /// A refusal as the server said it, and the error it is when no smaller range is left to ask.
    private struct Refusal {
        let detail: String
        let error: IngestError
    }

    private func get(path: String, query: String, parameters: [String: String], what: String) throws(IngestError) -> Reply {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "query", value: query)] + parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves '+' as is, and servers read it as a space: "a + b" would reach Prometheus as "a   b".
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let url = components.url!
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let exchange = HTTPExchange()
        exchange.run(request, timeout: timeout)
        let source = baseURL.absoluteString
        if let error = exchange.error {
            throw .failure(source: source, message: "Prometheus did not answer \(what): \(error.localizedDescription)")
        }
        guard let http = exchange.response as? HTTPURLResponse, let body = exchange.data else {
            throw .failure(source: source, message: "no HTTP response for \(url)")
        }
        guard http.statusCode == 200 else {
            let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
            let detail = json?["error"] as? String ?? String(decoding: body.prefix(300), as: UTF8.self)
            // 400 and 422 are the query's fault; anything else is the server's.
            let error: IngestError = http.statusCode == 400 || http.statusCode == 422
                ? .badInput(source: source, line: nil, message: "Prometheus refused the query \(query): HTTP \(http.statusCode): \(detail)")
                : .failure(source: source, message: "Prometheus answered HTTP \(http.statusCode) for \(query): \(detail)")
            // Too many samples for its --query.max-samples (422, "execution") or too slow for its --query.timeout (503).
            let errorType = json?["errorType"] as? String
            guard errorType == "timeout" || (errorType == "execution" && detail.contains("too many samples")) else { throw error }
            return .tooBig(Refusal(detail: detail, error: error))
        }
        return .answer(body)
    }
}

/// One blocking HTTP request over URLSession.
private final class HTTPExchange: @unchecked Sendable {
    var data: Data?
    var response: URLResponse?
    var error: Error?

    func run(_ request: URLRequest, timeout: TimeInterval) {
        let done = DispatchSemaphore(value: 0)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        session.dataTask(with: request) { data, response, error in
            self.data = data
            self.response = response
            self.error = error
            done.signal()
        }.resume()
        done.wait()
        session.finishTasksAndInvalidate()
    }
}

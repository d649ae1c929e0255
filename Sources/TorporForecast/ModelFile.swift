import Foundation

/// The one error type of the forecast engine.
public struct ForecastError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// A saved forecaster: `TORPOR-LSTM 1\n`, a JSON header line (shape, metadata such as feature names and normalization),
/// then every parameter as little-endian Float32 in `Forecaster.parameters` order. Loading a saved model reproduces its
/// outputs bit for bit.
public enum ModelFile {
    static let magic = "TORPOR-LSTM"
    /// The largest input and hidden sizes a model file holds (a larger one is read as a damaged header).
    public static let largestSize = 4096
    public static let version = 1

    struct Header: Codable {
        var shape: ForecasterShape
        var metadata: [String: String]
        var parameterCount: Int
    }

    public static func encode(_ model: Forecaster, metadata: [String: String] = [:]) throws -> Data {
        let count = model.parameters.reduce(0) { $0 + $1.count }
        var data = Data("\(magic) \(version)\n".utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        data.append(try encoder.encode(Header(shape: model.shape, metadata: metadata, parameterCount: count)))
        data.append(10)
        for p in model.parameters {
            for i in 0..<p.count { withUnsafeBytes(of: p.data[i].bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }

    public static func save(_ model: Forecaster, metadata: [String: String] = [:], to path: String) throws {
        try encode(model, metadata: metadata).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The model and its metadata; errors name the file and what is wrong with it.
    public static func load(path: String) throws(ForecastError) -> (model: Forecaster, metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ForecastError(message: "\(path): cannot read the model file") }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String) throws(ForecastError) -> (model: Forecaster, metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard let firstNewline = bytes.firstIndex(of: 10),
              let first = String(bytes: bytes[..<firstNewline], encoding: .utf8), first.hasPrefix(magic + " ") else {
            throw ForecastError(message: "\(source): not a torpor model file (no \(magic) line)")
        }
        guard Int(first.dropFirst(magic.count + 1)) == version else {
            throw ForecastError(message: "\(source): model format \(first.dropFirst(magic.count + 1)), this torpor reads \(version)")
        }
        guard let secondNewline = bytes[(firstNewline + 1)...].firstIndex(of: 10) else {
            throw ForecastError(message: "\(source): truncated model header")
        }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[(firstNewline + 1)..<secondNewline])) } catch {
            throw ForecastError(message: "\(source): bad model header: \(error)")
        }
        // A shape checked before a model of it is built: a damaged header's negative or huge size would trap there.
        let shape = header.shape
        guard (1...largestSize).contains(shape.inputSize), (1...largestSize).contains(shape.hiddenSize), (1...16).contains(shape.layers),
              (1...8760).contains(shape.horizon), shape.quantiles.count <= 64, shape.quantiles.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw ForecastError(message: "\(source): model header's shape is not one torpor makes (\(shape)): corrupt")
        }
        let model = Forecaster(shape: shape, seed: 0)
        let expected = model.parameters.reduce(0) { $0 + $1.count }
        let blob = bytes[(secondNewline + 1)...]
        guard header.parameterCount == expected, blob.count == expected * 4 else {
            throw ForecastError(message: "\(source): \(blob.count / 4) weights for a shape that has \(expected): truncated or corrupt")
        }
        var offset = secondNewline + 1, index = 0
        for p in model.parameters {
            for i in 0..<p.count {
                let bits = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
                p.data[i] = Float(bitPattern: bits)
                // Training never leaves one infinite or NaN (it stops on a non-finite loss): a damaged file, whose
                // forecasts could read as 0 % (idle) once clamped.
                guard p.data[i].isFinite else { throw ForecastError(message: "\(source): weight \(index) is \(p.data[i]): corrupt") }
                offset += 4
                index += 1
            }
        }
        return (model, header.metadata)
    }
}

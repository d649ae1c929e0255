import Foundation
import TorporCore
import TorporYAML
import Yams

extension YAMLShape {
    /// Refuses a mapping file's key that the shape does not allow, naming it, its line and the keys allowed there: a
    /// misspelt key (`unti: fraction`) would leave its default in force unnoticed.
    func refuseUnknownKeys(in text: String, source: String) throws(IngestError) {
        guard let unknown = firstUnknownKey(in: text) else { return }
        throw .badInput(source: source, line: unknown.line, message: "'\(unknown.path)': unknown key; expected one of " + unknown.expected.joined(separator: ", "))
    }
}

/// Reads a mapping file of `shape` as `T`; every error names the file and says what is wrong in a person's words (a
/// key it does not know with its line, YAML's own account, the decoder's summary), never a decoder's dump.
func decodeMappingFile<T: Decodable>(_ type: T.Type, path: String, shape: YAMLShape) throws(IngestError) -> T {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw .badInput(source: path, line: nil, message: "cannot read the mapping file: \(error.localizedDescription)")
    }
    do {
        // A misspelt key first: it is why a key the decoder needs is missing.
        try shape.refuseUnknownKeys(in: text, source: path)
        return try YAMLDecoder().decode(T.self, from: text)
    } catch let error as IngestError {
        throw error
    } catch let error as YamlError {
        throw .badInput(source: path, line: nil, message: "not valid YAML: \(error)")
    } catch let error as DecodingError {
        throw .badInput(source: path, line: nil, message: error.summary)
    } catch {
        throw .badInput(source: path, line: nil, message: "\(error)")
    }
}

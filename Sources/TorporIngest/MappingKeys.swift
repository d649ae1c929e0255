import TorporYAML

extension YAMLShape {
    /// Refuses a mapping file's key that the shape does not allow, naming it, its line and the keys allowed there: a
    /// misspelt key (`unti: fraction`) would leave its default in force unnoticed.
    func refuseUnknownKeys(in text: String, source: String) throws(IngestError) {
        guard let unknown = firstUnknownKey(in: text) else { return }
        throw .badInput(source: source, line: unknown.line, message: "'\(unknown.path)': unknown key; expected one of " + unknown.expected.joined(separator: ", "))
    }
}

/// The one error type of the executor; messages name the VM, host URI or file at fault.
public struct ExecuteError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Bad input or usage: exit code 2.
        case badInput
        /// Nothing to do (e.g. waking a VM that runs): exit code 3.
        case nothingToDo
        /// Anything else (store, libvirt, another executor holds the lock): exit code 1.
        case runtime
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

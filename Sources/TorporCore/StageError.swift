/// The error type of the planning and execution stages; messages name the file, key, VM or host at fault.
/// Its kind decides the documented exit code.
public struct StageError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Bad input or usage (a policy, a modified plan file, arguments): exit code 2.
        case badInput
        /// Nothing to do, or the plan is stale: exit code 3.
        case nothingToDo
        /// Anything else (store, model, libvirt, a lock held by another run): exit code 1.
        case runtime
        /// Done as far as it could be, with something a person must look at (a VM woken without its memory): exit code 4.
        case needsPerson
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public var exitCode: Int32 {
        switch kind {
        case .badInput: 2
        case .nothingToDo: 3
        case .runtime: 1
        case .needsPerson: 4
        }
    }
}

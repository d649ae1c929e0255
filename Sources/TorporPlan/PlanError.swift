/// The one error type of planning, review and approval; messages name the file (and key or action) at fault.
public struct PlanError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Bad input (policy, plan file, arguments): exit code 2.
        case badInput
        /// The plan is stale or there is nothing to do: exit code 3.
        case stale
        /// Anything else (store, model): exit code 1.
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

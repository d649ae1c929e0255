import TorporCore

/// Planning, review and approval errors.
public typealias PlanError = StageError

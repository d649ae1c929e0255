import TorporCore

/// Executor errors.
public typealias ExecuteError = StageError

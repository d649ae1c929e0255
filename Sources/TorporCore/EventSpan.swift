/// The time a calendar event covers: [start, end), where one without duration (a DTSTART alone, "backup at 10:00")
/// covers the second it starts in, so that it still keeps its VM awake then.
public enum EventSpan {
    /// The end of what the event [start, end) covers.
    public static func end(start: EpochSeconds, end: EpochSeconds) -> EpochSeconds { max(end, start + 1) }

    /// Whether the event [start, end) falls in [from, to).
    public static func overlaps(start: EpochSeconds, end: EpochSeconds, from: EpochSeconds, to: EpochSeconds) -> Bool {
        start < to && Self.end(start: start, end: end) > from
    }
}

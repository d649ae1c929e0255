/// The time a calendar event covers: [start, end), where one without duration (a DTSTART alone, "backup at 10:00")
/// covers the hour from its start, so that it keeps its VMs awake then (the planner's hour, and an executor's pass
/// after its start) rather than for no time at all.
public enum EventSpan {
    /// How long an event without duration keeps its VMs awake.
    public static let pointCover: EpochSeconds = 3600

    /// The end of what the event [start, end) covers.
    public static func end(start: EpochSeconds, end: EpochSeconds) -> EpochSeconds { end > start ? end : start + pointCover }

    /// Whether the event [start, end) falls in [from, to).
    public static func overlaps(start: EpochSeconds, end: EpochSeconds, from: EpochSeconds, to: EpochSeconds) -> Bool {
        start < to && Self.end(start: start, end: end) > from
    }
}

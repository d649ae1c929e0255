import TorporCore

/// Schedules one host's restores so that each finishes by its deadline with at most `concurrent` at once.
/// Restores are placed backwards from their deadlines (latest deadline first; at equal deadlines the lower priority
/// first), each in the slot that lets it finish latest: so at equal deadlines a gold VM is placed earlier than a bronze
/// one and finishes first, and a restore that queues behind others starts earlier by that queueing delay.
public enum RestoreScheduler {
    public struct Request: Equatable, Sendable {
        /// Names the restore in the result.
        public var id: String
        public var deadline: EpochSeconds
        /// The VM's p95 restore time (or the default).
        public var seconds: Int64
        /// 1 restores first.
        public var priority: Int
        /// The restore cannot start before this (the end of the save, or now).
        public var earliest: EpochSeconds

        public init(id: String, deadline: EpochSeconds, seconds: Int64, priority: Int, earliest: EpochSeconds) {
            self.id = id; self.deadline = deadline; self.seconds = seconds; self.priority = priority; self.earliest = earliest
        }
    }

    public struct Slot: Equatable, Sendable {
        public var start: EpochSeconds
        /// Deadline minus the expected end: the time waited in the queue.
        public var queueingDelay: Int64
        /// The restore has to start before `earliest` to meet its deadline.
        public var late: Bool
    }

    /// Start times by request id.
    public static func schedule(_ requests: [Request], concurrent: Int) -> [String: Slot] {
        let order = requests.sorted { a, b in
            a.deadline != b.deadline ? a.deadline > b.deadline : a.priority != b.priority ? a.priority > b.priority : a.id > b.id
        }
        var freeUntil = [EpochSeconds](repeating: .max, count: max(1, min(concurrent, requests.count)))   // each slot is free before this time
        var result: [String: Slot] = [:]
        for r in order {
            let best = freeUntil.indices.max { min(freeUntil[$0], r.deadline) < min(freeUntil[$1], r.deadline) }!
            let end = min(freeUntil[best], r.deadline)
            let start = end - r.seconds
            freeUntil[best] = start
            result[r.id] = Slot(start: max(start, r.earliest), queueingDelay: r.deadline - end, late: start < r.earliest)
        }
        return result
    }
}

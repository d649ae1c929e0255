import TorporCore

/// Schedules one host's restores so that each finishes by its deadline with at most `concurrent` at once.
/// Restores are placed backwards from their deadlines (latest deadline first; at equal deadlines the lower priority
/// first), each in the slot that lets it finish latest: so at equal deadlines a gold VM is placed earlier than a bronze
/// one and finishes first, and a restore that queues behind others starts earlier by that queueing delay. Each slot is
/// then run forwards: a restore that cannot start early enough (its save ends, or now, too late) starts when it can
/// and holds its slot until it ends, so the restores after it in that slot wait for it, and are late if they then end
/// after their deadlines. Their planned starts stay (the executor starts each when it is due and a slot is free): a
/// VM asleep now whose restore is already under way is scheduled again from now, for its whole restore time, and must
/// not move the others later for it.
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
        /// Deadline minus the end it is placed to: how much earlier the queue starts it.
        public var queueingDelay: Int64
        /// The restore is expected to end after its deadline.
        public var late: Bool
        /// When the restore is expected to end, its slot's restores run in order (after `start` + its time when it
        /// waits for one before it).
        public var end: EpochSeconds
    }

    /// Start times by request id.
    public static func schedule(_ requests: [Request], concurrent: Int) -> [String: Slot] {
        let order = requests.sorted { a, b in
            a.deadline != b.deadline ? a.deadline > b.deadline : a.priority != b.priority ? a.priority > b.priority : a.id > b.id
        }
        var freeUntil = [EpochSeconds](repeating: .max, count: max(1, min(concurrent, requests.count)))   // each slot is free before this time
        var placed = [[(request: Request, start: EpochSeconds, queueingDelay: Int64)]](repeating: [], count: freeUntil.count)
        for r in order {
            // Of slots that let it end as late, the one free longest after it: a restore that overruns delays fewer.
            let best = freeUntil.indices.max { (min(freeUntil[$0], r.deadline), freeUntil[$0]) < (min(freeUntil[$1], r.deadline), freeUntil[$1]) }!
            let end = min(freeUntil[best], r.deadline)
            freeUntil[best] = end - r.seconds
            placed[best].append((r, end - r.seconds, r.deadline - end))
        }
        var result: [String: Slot] = [:]
        for slot in placed {
            // In the order they can start (a restore that cannot start as placed moves behind those placed after it).
            let runs = slot.sorted { a, b in
                (max(a.start, a.request.earliest), a.start) < (max(b.start, b.request.earliest), b.start)
            }
            var free = EpochSeconds.min
            for run in runs {
                let start = max(run.start, run.request.earliest)
                free = max(start, free) + run.request.seconds
                result[run.request.id] = Slot(start: start, queueingDelay: run.queueingDelay, late: free > run.request.deadline, end: free)
            }
        }
        return result
    }
}

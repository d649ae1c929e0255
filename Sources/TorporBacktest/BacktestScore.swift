import TorporCore
import TorporStore
import TorporTrain

/// The score of one strategy over the replay (one VM, or the fleet when summed), at the resolution of the source's own
/// samples: each sample stands for the interval until the next one (5 minutes for Bitbrains and CloudWatch).
public struct Score: Codable, Equatable, Sendable {
    /// Time asleep (hibernating, hibernated or restoring) during intervals whose demand stayed under `restore_above`.
    public var capturedHours = 0.0
    /// Intervals with demand at or over `restore_above`, and those of them that overlap a time asleep or restoring.
    public var demandIntervals = 0
    public var violatedIntervals = 0
    /// The part of the demand intervals spent asleep or restoring.
    public var missedDemandMinutes = 0.0
    /// Demand returning after an idle stretch (an hour or more of known intervals under `restore_above`), those whose
    /// first interval found the VM asleep or restoring, and those preceded by a completed restore.
    public var episodes = 0
    public var missedEpisodes = 0
    public var proactiveEpisodes = 0
    public var hibernations = 0
    /// Time covered by known samples (missing time counts nowhere: missing is not idle).
    public var knownHours = 0.0
    /// Hours replayed (VM-hours, for churn per VM-day).
    public var replayedHours = 0
    /// Saved state written, estimated: the VM's allocated memory per hibernation (a libvirt save image holds the
    /// guest's RAM; the state pool then stores only the chunks it has not seen).
    public var stateBytes: Int64 = 0

    public static func + (a: Score, b: Score) -> Score {
        Score(capturedHours: a.capturedHours + b.capturedHours, demandIntervals: a.demandIntervals + b.demandIntervals,
              violatedIntervals: a.violatedIntervals + b.violatedIntervals, missedDemandMinutes: a.missedDemandMinutes + b.missedDemandMinutes,
              episodes: a.episodes + b.episodes, missedEpisodes: a.missedEpisodes + b.missedEpisodes,
              proactiveEpisodes: a.proactiveEpisodes + b.proactiveEpisodes, hibernations: a.hibernations + b.hibernations,
              knownHours: a.knownHours + b.knownHours, replayedHours: a.replayedHours + b.replayedHours, stateBytes: a.stateBytes + b.stateBytes)
    }

    /// Hibernate/restore cycles per VM-day replayed.
    public var churnPerVMDay: Double { replayedHours == 0 ? 0 : Double(hibernations) / (Double(replayedHours) / 24) }

    /// The share of demand intervals that fell while the VM was asleep or still restoring.
    public var violationShare: Double { demandIntervals == 0 ? 0 : Double(violatedIntervals) / Double(demandIntervals) }
    public var missedEpisodeShare: Double { episodes == 0 ? 0 : Double(missedEpisodes) / Double(episodes) }
    public var proactiveShare: Double { episodes == 0 ? 0 : Double(proactiveEpisodes) / Double(episodes) }

    /// How long demand has to stay away before its return counts as an episode.
    static let idleStretch: Int64 = 3600

    /// Scores one VM's time asleep against its actual demand from `scoredFrom` on; the samples before it count only
    /// towards the quiet before an episode and the demand a restore answered (demand in the first hour after a long quiet
    /// is an episode too).
    static func of(_ demand: DemandSamples, scoredFrom: EpochSeconds = .min, asleep: [Downtime], restoreAbove: Double, replayedHours: Int) -> Score {
        var s = Score(hibernations: asleep.count, replayedHours: replayedHours)
        var d = 0   // the first stretch asleep that may overlap the current interval
        var quiet: Int64 = 0, lastDemandEnd = EpochSeconds.min
        for k in demand.times.indices {
            let a = demand.times[k], b = demand.end(of: k), isDemand = demand.values[k] >= restoreAbove
            if !demand.continues(k) { quiet = 0 }   // quiet is counted in known samples only: a gap is not idle
            if a >= scoredFrom {   // before it, only the quiet and the last demand are followed
                while d < asleep.count && asleep[d].end <= a { d += 1 }
                var down: Int64 = 0
                for e in asleep[d...] {
                    guard e.start < b else { break }
                    down += min(b, e.end) - max(a, e.start)
                }
                s.knownHours += Double(b - a) / 3600
                if !isDemand {
                    s.capturedHours += Double(down) / 3600
                } else {
                    s.demandIntervals += 1
                    if down > 0 {
                        s.violatedIntervals += 1
                        s.missedDemandMinutes += Double(down) / 60
                    }
                    if quiet >= idleStretch {
                        s.episodes += 1
                        // Proactive: a restore completed since the last demand, of a sleep begun after it (a wake that
                        // answered that demand, finishing after it, is not one).
                        if down > 0 { s.missedEpisodes += 1 } else if d > 0 && asleep[d - 1].end > lastDemandEnd && asleep[d - 1].start >= lastDemandEnd {
                            s.proactiveEpisodes += 1
                        }
                    }
                }
            }
            if isDemand { quiet = 0; lastDemandEnd = b } else { quiet += b - a }
        }
        return s
    }
}

/// A stretch during which a VM did not serve: from the start of its hibernation until its restore had finished.
public struct Downtime: Codable, Equatable, Sendable {
    public var start: EpochSeconds
    public var end: EpochSeconds

    func overlaps(hourAt t: EpochSeconds) -> Bool { start < t + 3600 && end > t }
}

extension DemandSamples {
    /// The samples, without those in steps `hourly` marks missing (the VM absent there, as the series records it); those
    /// of hours missing only for their few samples (`HourlySeries.sparse`) are kept: real readings, where demand counts.
    init(_ samples: [(time: EpochSeconds, value: Double)], knownIn hourly: HourlySeries) {
        self.init(samples.filter { s in
            let i = Int((s.time - hourly.start) / hourly.step)
            return s.time >= hourly.start && i < hourly.values.count && (!hourly.values[i].isNaN || hourly.sparse.contains(i))
        })
    }
}

import ArgumentParser
import Foundation
import TorporCommandLine
import TorporCore
import TorporStore

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Drop samples older than --keep before --now, the record of the ingests they came from, the executor's journal, the domains' runs and the counters of domains not collected since as old (the nightly job runs it): the store otherwise grows by every collection for ever.",
        discussion: "At least 35d (what the planner reads); torpor-train reads --history-days (90 by default) of it: keep at least that.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var replay: ReplayFlag
    @Option(help: "How long samples are kept, e.g. 180d.") var keep = "180d"
    @Option(help: ArgumentHelp("How long this prune may spend summing up VMs whose samples predate the hourly summary (once, after an upgrade), e.g. 20m.",
                               discussion: "The VMs left wait for the next prune, read from their samples meanwhile, so that the first night after an upgrade does not hold up the training after it."))
    var sumUpFor = "20m"

    func validate() throws {
        guard let seconds = DurationText.seconds(keep) else { throw ValidationError("--keep '\(keep)' is not a duration such as 180d") }
        guard seconds >= SampleRetention.shortest else {
            throw ValidationError("--keep \(keep) is shorter than \(DurationText.format(SampleRetention.shortest)), the history the planner reads")
        }
        guard DurationText.seconds(sumUpFor) != nil else { throw ValidationError("--sum-up-for '\(sumUpFor)' is not a duration such as 20m") }
        // A --now ahead of the clock (a typo) would drop the newest history: refused.
        if !replay.replay, let ahead = aheadOfTheClock(store.nowSeconds, "nothing pruned (--replay on a copy of the store kept for a replay)") { throw ahead }
    }

    func run() throws {
        let before = store.nowSeconds - DurationText.seconds(keep)!
        let opened = try store.openStore(creating: false)
        do {
            let (removed, summedUp, left) = try SampleRetention.prune(before: before, in: opened, summingUpFor: TimeInterval(DurationText.seconds(sumUpFor)!))
            print("removed \(removed) samples from before \(UTC.format(before)) (kept: \(keep))")
            let (sources, contributions) = try SourceRetention.prune(before: before, in: opened)
            if sources + contributions > 0 { print("removed the record of \(sources) ingests and of \(contributions) VMs' parts in them, whose samples are all gone") }
            let steps = try JournalRetention.prune(before: before, now: store.nowSeconds, in: opened)
            if steps > 0 { print("removed \(steps) steps the executor journaled before \(UTC.format(before)) (not those it or the planner still reads)") }
            let runs = try DomainRuns.prune(before: before, in: opened)
            if runs > 0 { print("removed \(runs) stretches of collections that found a domain running, ended before \(UTC.format(before)) (each host's latest of each domain kept)") }
            let counters = try CounterRepository.prune(before: before, in: opened)
            if counters > 0 { print("removed the last counters of \(counters) domains no collection has read since \(UTC.format(before)) (undefined or gone from their host)") }
            if summedUp > 0 { print("summed up the hours of \(summedUp) VMs whose samples predate the hourly summary or its sample counts") }
            if left > 0 { print("\(left) VMs whose samples predate the hourly summary or its sample counts are left to sum up (after --sum-up-for \(sumUpFor)): the next prune goes on") }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

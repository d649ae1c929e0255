import ArgumentParser
import Foundation
import TorporStore

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Let go of a VM's libvirt domain and host, for a host gone for good: the next domain found under its name, on any host, takes it over (with its history).",
        discussion: "A host's own collections and inventories let go of the VMs it no longer has; this is for the names a dead host holds. It also lets go of the VM's record of running on two hosts: one of them gone, the hold on its saves would last a day.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "The VM.")
    var vm: String

    func run() throws {
        switch try store.openStore(creating: false).transaction({ try VMRepository.release(vm, in: $0) }) {
        case .released: print("\(vm) released: the next domain found under its name takes it over")
        case .alreadyFree:   // safe to run twice, and said as what was asked and not needed (exit 3)
            printError("\(vm) holds no domain or host already: nothing to release")
            throw ExitCode(3)
        case .unknownVM:
            printError("no VM named \(vm) in the store: nothing to release")
            throw ExitCode(2)
        }
    }
}

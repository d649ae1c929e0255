import Foundation
import Testing
import TorporCore
import TorporStatePool
import TorporStore
import TorporTestSupport
import TorporVirt

/// The state pool with the real guest: three hibernate/restore cycles through libvirt's managed save, each image
/// taken into the pool; the guest writes 4 MiB of fresh random bytes into RAM every 10 s, so consecutive images differ
/// by about that much. Then libvirt's own image is deleted and the guest is restored from the pool.
@Suite(.serialized) struct StatePoolIntegrationTests {
    static let freshBytes: Int64 = 4 << 20

    @Test func repeatedHibernationsWriteOnlyWhatChangedAndThePoolRestores() throws {
        let guest = try RealGuest(persistent: true)
        try guest.waitForCounter(atLeast: 11)   // booted, and the first fresh data written
        let dir = try ScratchDirectory.make("torpor-it-pool")
        let store = try Store(path: dir + "/torpor.db")
        let pool = try StatePool(directory: dir + "/pool", capacityBytes: 1 << 30, store: store)
        let image = "/var/lib/libvirt/qemu/save/\(guest.name).save"
        var reports: [TakeReport] = []
        for cycle in 1...3 {
            let before = try #require(guest.counter)
            try guest.domain.managedSave()
            #expect(try guest.domain.info().state == .shutOff)
            #expect(try guest.domain.hasManagedSaveImage())
            reports.append(try pool.take(image: image, vm: guest.name, diskIdentity: "no disks", now: EpochSeconds(cycle)))
            try guest.domain.start()   // libvirt restores from its managed-save image
            #expect(try guest.domain.info().state == .running)
            try guest.waitForCounter(atLeast: (before / 10 + 1) * 10 + 1)   // exactly one more rewrite of the fresh data
            let printed = guest.counters
            let resumed = printed[printed.firstIndex(of: before)! + 1]
            #expect(resumed == before + 1, "cycle \(cycle): the counter continues from RAM (\(before) → \(resumed)), no reboot")
        }
        for (i, r) in reports.enumerated() {
            print("cycle \(i + 1): image \(r.imageBytes) bytes, \(r.chunks) chunks, \(r.newChunks) new, written \(r.writtenBytes) bytes (fresh data \(Self.freshBytes))")
        }
        for r in reports.dropFirst() {
            #expect(r.writtenBytes <= Self.freshBytes + r.imageBytes / 10, "written \(r.writtenBytes) of an image of \(r.imageBytes)")
        }

        // libvirt's image is lost: the pool rebuilds it, verified, and the guest comes back where it was.
        let before = try #require(guest.counter)
        try guest.domain.managedSave()
        _ = try pool.take(image: image, vm: guest.name, diskIdentity: "no disks", now: 4)
        try guest.domain.removeManagedSaveImage()
        #expect(try !guest.domain.hasManagedSaveImage())
        let rebuilt = dir + "/restore.save"
        try pool.materialize(try pool.latest(vm: guest.name), to: rebuilt)
        let connection = try VirtConnection(uri: RealGuest.uri)
        #expect(try connection.savedImageXMLDescription(path: rebuilt).contains("<name>\(guest.name)</name>"), "the definition the image restores with")
        try connection.restore(from: rebuilt)
        try guest.waitForCounter(atLeast: before + 2)
        let printed = guest.counters
        #expect(printed[printed.lastIndex(of: before)! + 1] == before + 1, "restored from the pool, the counter continues")
        // A pool restore after a disk change is refused.
        #expect(throws: StatePoolError.self) { try StatePool.checkDisks(of: try pool.latest(vm: guest.name), current: "a new disk") }
    }
}

// Benchmark of the state pool's ingest path: content-defined chunking + SHA-256 of an image, and taking it into a
// fresh pool (chunking, hashing, writing new chunks durably), both as MB/s. Prints one JSON line.
// usage: torpor-bench-statepool IMAGE POOL_DIR
//        torpor-bench-statepool materialize POOL_DIR OUT   (rebuilds that image from the pool, verified; prints seconds)
import Foundation
import TorporHash
import TorporStatePool
import TorporStore

let arguments = CommandLine.arguments
if arguments.count == 4 && arguments[1] == "materialize" {
    let store = try Store(path: arguments[2] + "/torpor.db")
    let pool = try StatePool(directory: arguments[2] + "/pool", capacityBytes: 1 << 40, store: store)
    let start = DispatchTime.now().uptimeNanoseconds
    try pool.materialize(try pool.latest(vm: "bench"), to: arguments[3])
    print(String(format: "%.3f", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    exit(0)
}
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: torpor-bench-statepool IMAGE POOL_DIR\n".utf8))
    exit(2)
}
let image = try Data(contentsOf: URL(fileURLWithPath: arguments[1]))
let chunker = ContentDefinedChunker()

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

var chunkCount = 0
let chunkAndHash = seconds {
    image.withUnsafeBytes { all in
        var offset = 0
        for length in chunker.chunks(of: all) {
            _ = SHA256.digest(UnsafeRawBufferPointer(rebasing: all[offset..<offset + length]))
            offset += length
            chunkCount += 1
        }
    }
}
try? FileManager.default.removeItem(atPath: arguments[2])
try FileManager.default.createDirectory(atPath: arguments[2], withIntermediateDirectories: true)
let store = try Store(path: arguments[2] + "/torpor.db")
let pool = try StatePool(directory: arguments[2] + "/pool", capacityBytes: 1 << 40, store: store)
var report: TakeReport?
let take = try seconds { report = try pool.take(image: arguments[1], vm: "bench", diskIdentity: "-", now: 0) }
let again = try seconds { _ = try pool.take(image: arguments[1], vm: "bench", diskIdentity: "-", now: 1) }
let mb = Double(image.count) / 1e6
print(String(format: #"{"image_mb": %.1f, "chunks": %d, "chunk_hash_mb_s": %.0f, "take_first_mb_s": %.0f, "take_unchanged_mb_s": %.0f, "written_mb": %.1f}"#,
             mb, chunkCount, mb / chunkAndHash, mb / take, mb / again, Double(report!.writtenBytes) / 1e6))

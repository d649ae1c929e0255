/// Content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016): a gear rolling hash over the bytes cuts where
/// its masked bits are zero, so boundaries depend on the content around them, not on offsets. Inserting or removing
/// bytes moves only the boundaries near the change: the rest of an image keeps its chunks.
/// Normalized chunking: a stricter mask before the average size, a looser one after, bounded by min and max sizes.
public struct ContentDefinedChunker: Sendable {
    public let minSize: Int
    public let averageSize: Int
    public let maxSize: Int
    private let strictMask: UInt64
    private let looseMask: UInt64
    private let gear: [UInt64]

    /// `averageSize` must be a power of two between 1 KiB and 16 MiB; min is a quarter of it, max eight times.
    /// The default, 16 KiB, suits memory images: a guest's changes are scattered pages, and with the real guest of the
    /// integration suite 16 KiB chunks wrote 9.4 MB for 4 MiB of new data where 64 KiB chunks wrote 15 MB.
    public init(averageSize: Int = 16 * 1024) {
        precondition(averageSize >= 1024 && averageSize <= 1 << 24 && averageSize & (averageSize - 1) == 0,
                     "average chunk size must be a power of two between 1 KiB and 16 MiB")
        self.averageSize = averageSize
        minSize = averageSize / 4
        maxSize = averageSize * 8
        let bits = averageSize.trailingZeroBitCount
        strictMask = ContentDefinedChunker.mask(bits: bits + 2)
        looseMask = ContentDefinedChunker.mask(bits: bits - 2)
        // A fixed table (SplitMix64 from a constant seed): the same content always gives the same chunks.
        var state: UInt64 = 0x746F_7270_6F72_4344
        gear = (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A mask of `bits` one-bits spread over the high half of the hash (FastCDC spaces them out to widen the window).
    private static func mask(bits: Int) -> UInt64 {
        var mask: UInt64 = 0
        var placed = 0
        var position = 63
        while placed < bits, position >= 0 {
            mask |= 1 << UInt64(position)
            placed += 1
            position -= 64 / max(bits, 1) > 1 ? 2 : 1
        }
        return mask
    }

    /// The length of the first chunk of `bytes`. Pass at least `maxSize` bytes unless they are the end of the input.
    public func cut(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = bytes.count
        if n <= minSize { return n }
        let limit = min(n, maxSize)
        let normal = min(limit, averageSize)
        var hash: UInt64 = 0
        var i = minSize
        return gear.withUnsafeBufferPointer { gear in
            while i < normal {
                hash = (hash << 1) &+ gear[Int(bytes[i])]
                if hash & strictMask == 0 { return i + 1 }
                i += 1
            }
            while i < limit {
                hash = (hash << 1) &+ gear[Int(bytes[i])]
                if hash & looseMask == 0 { return i + 1 }
                i += 1
            }
            return limit
        }
    }

    /// Chunk lengths of a whole buffer, in order.
    public func chunks(of bytes: UnsafeRawBufferPointer) -> [Int] {
        var lengths: [Int] = []
        var offset = 0
        while offset < bytes.count {
            let length = cut(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            lengths.append(length)
            offset += length
        }
        return lengths
    }
}

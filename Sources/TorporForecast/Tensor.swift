/// A row-major matrix of Floats in one contiguous allocation, owned by this object (reference semantics: the engine
/// updates weights and workspaces in place, without copies).
public final class Tensor {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutablePointer<Float>
    public var count: Int { rows * cols }

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        data = .allocate(capacity: max(1, rows * cols))
        data.initialize(repeating: 0, count: max(1, rows * cols))
    }

    public convenience init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "\(values.count) values for a \(rows)×\(cols) tensor")
        self.init(rows: rows, cols: cols)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { data.deallocate() }

    public subscript(row: Int, col: Int) -> Float {
        get { data[row * cols + col] }
        set { data[row * cols + col] = newValue }
    }

    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func zero() { data.update(repeating: 0, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.count == count)
        data.update(from: other.data, count: count)
    }

    /// A pointer to row `row`.
    @inline(__always) func row(_ row: Int) -> UnsafeMutablePointer<Float> { data + row * cols }
}

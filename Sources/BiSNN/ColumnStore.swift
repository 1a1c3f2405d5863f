/// One layer's packed weight columns (``SignMatrix/packedColumns``), for one draw or interleaved for the
/// draws of an ensemble: column `j` of draw `d` starts at byte `(j * draws + d) * bytesPerColumn`.
///
/// Interleaved, the columns of one input for every draw are adjacent, so an ensemble that adds the same
/// active inputs in every draw (the first layer sees the same frame) reads one contiguous run per input.
final class ColumnStore: Sendable {
    let bytes: [UInt8]
    let draws: Int
    let bytesPerColumn: Int

    /// The columns of `matrices` (all the same shape), interleaved by input.
    init(_ matrices: [SignMatrix]) {
        precondition(!matrices.isEmpty, "a store needs at least one matrix")
        let first = matrices[0]
        precondition(matrices.allSatisfy { $0.rows == first.rows && $0.columns == first.columns }, "shapes differ")
        draws = matrices.count
        bytesPerColumn = first.bytesPerColumn
        if draws == 1 {
            bytes = first.packedColumns
            return
        }
        var bytes = [UInt8](repeating: 0, count: first.columns * draws * bytesPerColumn)
        for (d, m) in matrices.enumerated() {
            for j in 0..<first.columns {
                let from = j * bytesPerColumn
                let to = (j * draws + d) * bytesPerColumn
                bytes[to..<(to + bytesPerColumn)] = m.packedColumns[from..<(from + bytesPerColumn)]
            }
        }
        self.bytes = bytes
    }

    /// Byte offset of input `j`'s column for draw `draw`.
    @inline(__always)
    func offset(input j: Int, draw: Int) -> Int { (j &* draws &+ draw) &* bytesPerColumn }
}

/// A matrix of +1/-1 values, bit-packed twice: by rows (64 inputs a word, for popcount against a packed
/// input frame) and by columns (256 outputs a 32-byte chunk, for adding the columns of a few active inputs).
/// A set bit is +1. Padding bits are 0.
public struct SignMatrix: Sendable, Hashable {
    /// Rows (outputs).
    public let rows: Int
    /// Columns (inputs).
    public let columns: Int
    /// Words per packed row: ceil(columns / 64).
    public let wordsPerRow: Int
    /// Bytes per packed column: ceil(rows / 8), rounded up to a multiple of 32 (whole 256-bit chunks).
    public let bytesPerColumn: Int
    /// `rows * wordsPerRow` words: bit `i % 64` of word `r * wordsPerRow + i / 64` is entry (r, i).
    public internal(set) var packedRows: [UInt64]
    /// `columns * bytesPerColumn` bytes, 32 bytes (256 rows) a chunk: row `r` of column `i` is bit
    /// `(r % 256) / 32` of byte `i * bytesPerColumn + 32 (r / 256) + r % 32`. This order lets the engine read
    /// 32 consecutive rows out of a 32-byte vector with one mask.
    public internal(set) var packedColumns: [UInt8]

    /// A `rows x columns` matrix whose entry (r, i) is +1 where `isPositive(r, i)`, else -1.
    public init(rows: Int, columns: Int, isPositive: (Int, Int) -> Bool) {
        self.rows = rows
        self.columns = columns
        wordsPerRow = (columns + 63) / 64
        bytesPerColumn = ((rows + 255) / 256) * 32
        var packedRows = [UInt64](repeating: 0, count: rows * wordsPerRow)
        var packedColumns = [UInt8](repeating: 0, count: columns * bytesPerColumn)
        for r in 0..<rows {
            for i in 0..<columns where isPositive(r, i) {
                packedRows[r * wordsPerRow + i >> 6] |= 1 << UInt64(i & 63)
                packedColumns[Self.columnByte(row: r, column: i, bytesPerColumn: bytesPerColumn)] |= 1 << UInt8((r & 255) >> 5)
            }
        }
        self.packedRows = packedRows
        self.packedColumns = packedColumns
    }

    /// A matrix from `values` (row-major, `rows x columns`): +1 where the value is >= 0 (so 0 maps to +1).
    public init(rows: Int, columns: Int, signsOf values: [Float]) {
        precondition(values.count == rows * columns, "values must hold rows x columns entries")
        self.init(rows: rows, columns: columns) { values[$0 * columns + $1] >= 0 }
    }

    /// A matrix from +-1 bytes (row-major).
    public init(rows: Int, columns: Int, signs: [Int8]) {
        precondition(signs.count == rows * columns, "signs must hold rows x columns entries")
        self.init(rows: rows, columns: columns) { signs[$0 * columns + $1] > 0 }
    }

    /// Index in ``packedColumns`` of the byte holding entry (row, column).
    static func columnByte(row r: Int, column i: Int, bytesPerColumn: Int) -> Int {
        i * bytesPerColumn + (r >> 8) * 32 + (r & 31)
    }

    /// Entry (row, column): +1 or -1.
    public subscript(row: Int, column: Int) -> Int {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
        return packedRows[row * wordsPerRow + column >> 6] >> UInt64(column & 63) & 1 == 1 ? 1 : -1
    }

    /// Bytes of both packings.
    public var packedByteCount: Int { packedRows.count * 8 + packedColumns.count }
}

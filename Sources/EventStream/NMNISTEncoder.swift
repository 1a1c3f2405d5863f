/// Writes events in the N-MNIST 40-bit layout (see ``NMNISTDecoder``).
///
/// Coordinates must fit a byte, and y = 240 is reserved for overflow markers. Timestamps must not go
/// backwards and must not be negative; past 2^23 µs the encoder emits overflow markers (each worth
/// 2^13 µs), as the dataset's own tools read them.
public struct NMNISTEncoder: EventEncoder {
    private var base: Int64 = 0
    private var written = 0
    private var lastT: Int64 = 0

    public init() {}

    public mutating func encode(_ events: EventBuffer, into output: inout [UInt8]) throws {
        output.reserveCapacity(output.count + events.count * NMNISTDecoder.recordSize)
        try events.withColumns { t, x, y, p in
            for i in 0..<t.count {
                let index = written + i
                guard x[i] < 256, y[i] < 256, y[i] != UInt16(NMNISTDecoder.overflowMarkerY) else {
                    throw EventEncodingError(
                        eventIndex: index, "coordinate (\(x[i]), \(y[i])) does not fit N-MNIST (bytes, y != 240)")
                }
                guard t[i] >= 0, t[i] >= lastT else {
                    throw EventEncodingError(eventIndex: index, "timestamp \(t[i]) is negative or goes backwards")
                }
                lastT = t[i]
                while t[i] - base >= 1 << 23 {
                    output.append(contentsOf: [0, NMNISTDecoder.overflowMarkerY, 0, 0, 0])
                    base += NMNISTDecoder.overflowIncrement
                }
                let rel = UInt32(t[i] - base)
                output.append(UInt8(x[i]))
                output.append(UInt8(y[i]))
                output.append(UInt8(p[i] & 1) << 7 | UInt8(rel >> 16))
                output.append(UInt8(truncatingIfNeeded: rel >> 8))
                output.append(UInt8(truncatingIfNeeded: rel))
            }
        }
        written += events.count
    }

    public mutating func finish(into output: inout [UInt8]) throws {}
}

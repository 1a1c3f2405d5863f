/// The bytes of a fixed-size record (an N-MNIST event, an EVT word, a DAT record) that a chunk boundary cut
/// in two, kept until the next chunk completes it. Streaming decoders of fixed-size records share it.
struct RecordCarry: Sendable {
    let recordSize: Int
    /// Bytes waiting for the rest of their record.
    private(set) var pending: [UInt8]

    init(recordSize: Int, pending: [UInt8] = []) {
        self.recordSize = recordSize
        self.pending = pending
    }

    /// Splits `chunk` into the records completed by its first bytes together with what was pending, and
    /// the run of whole records after them; keeps the bytes left over for the next chunk.
    mutating func split(_ chunk: UnsafeRawBufferPointer) -> (completed: [UInt8], records: UnsafeRawBufferPointer) {
        var rest = chunk
        var completed: [UInt8] = []
        if !pending.isEmpty {
            let take = min((recordSize - pending.count % recordSize) % recordSize, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            let whole = pending.count / recordSize * recordSize
            completed = Array(pending[..<whole])
            pending.removeFirst(whole)
            if !pending.isEmpty { return (completed, UnsafeRawBufferPointer(rebasing: rest[0..<0])) }
        }
        let whole = rest.count / recordSize * recordSize
        pending.append(contentsOf: rest[whole...])
        return (completed, UnsafeRawBufferPointer(rebasing: rest[..<whole]))
    }
}

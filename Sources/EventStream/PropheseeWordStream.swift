/// The framing shared by the EVT 2.0 and EVT 3.0 decoders: an optional `%` text header, then fixed-size words.
///
/// It parses the header across chunks, checks that it declares the decoder's encoding, resolves the geometry
/// (an explicit one wins over the header's), keeps a word cut by a chunk boundary for the next chunk, and
/// counts the data bytes it has handed out, which gives the stream offset.
struct PropheseeWordStream: Sendable {
    let wordSize: Int
    /// "2.0" or "3.0": what the header may declare.
    let version: String
    let geometryOverride: SensorGeometry?
    private(set) var headerParser = PropheseeHeaderParser()
    private(set) var headerGeometry: SensorGeometry?
    private var carry: RecordCarry
    /// Offset of the first byte not yet handed out as part of a whole word.
    private var dataOffset: Int64 = 0

    init(wordSize: Int, version: String, geometry: SensorGeometry?) {
        self.wordSize = wordSize
        self.version = version
        geometryOverride = geometry
        carry = RecordCarry(recordSize: wordSize)
    }

    var geometry: SensorGeometry? { geometryOverride ?? headerGeometry }
    var offset: Int64 { headerParser.isComplete ? dataOffset : headerParser.consumed }

    /// The whole words of `chunk`: those completed with bytes kept from earlier chunks, then the run of words
    /// in the chunk itself. Both are empty while the chunk is still header.
    mutating func words(in chunk: UnsafeRawBufferPointer) throws -> (completed: [UInt8], run: UnsafeRawBufferPointer) {
        var bytes = chunk
        if !headerParser.isComplete {
            let used = try headerParser.parse(bytes)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[used...])
            guard headerParser.isComplete else { return ([], UnsafeRawBufferPointer(rebasing: bytes[0..<0])) }
            try startData()
        }
        let (completed, run) = carry.split(bytes)
        dataOffset += Int64(completed.count + run.count)
        return (completed, run)
    }

    /// Ends the stream: throws if it stopped inside the header or a word.
    mutating func finish() throws {
        if !headerParser.isComplete {
            try headerParser.finish()
            try startData()
        }
        guard carry.pending.isEmpty else {
            throw EventDecodingError(
                .truncated, offset: dataOffset,
                "\(carry.pending.count) trailing byte(s) do not make a whole \(wordSize)-byte EVT \(version) word")
        }
    }

    /// Called once, when the header has ended.
    private mutating func startData() throws {
        let header = headerParser.header
        if let declared = header.evtVersion, declared != version {
            throw EventDecodingError(
                .badHeader, offset: header.formatLineOffset ?? 0,
                "the header declares EVT \(declared); this decoder reads EVT \(version)")
        }
        headerGeometry = header.geometry
        dataOffset = header.byteCount
        carry = RecordCarry(recordSize: wordSize, pending: headerParser.dataPrefix)
    }
}

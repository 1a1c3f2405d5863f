import Testing
import ZeroMQ

@Suite("PUSH/PULL over each transport", .timeLimit(.minutes(1)))
struct TransportTests {
    /// Empty parts, 0x00 bytes, every byte value.
    static let multipart: [[UInt8]] = [[], [0x00, 0xFF, 0x00], Array("sensor-1".utf8), [], (0...255).map(UInt8.init)]

    /// 8 MiB of varied bytes, so a misplaced chunk would show.
    static let large: [UInt8] = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }

    @Test("messages arrive intact", arguments: ["inproc", "ipc", "tcp"])
    func messagesArriveIntact(transport: String) throws {
        let context = try ZMQContext()
        let directory = transport == "ipc" ? try TemporaryDirectory() : nil
        defer { directory?.remove() }
        let pull = try makeSocket(.pull, context)
        switch transport {
        case "inproc": try pull.bind(uniqueInprocEndpoint("transport"))
        case "ipc": try pull.bind("ipc://\(directory!.path)/input.sock")
        default: try pull.bind("tcp://127.0.0.1:*")
        }
        let endpoint = try pull.lastEndpoint
        #expect(endpoint.hasPrefix("\(transport)://") && !endpoint.hasSuffix(":*"))
        let push = try makeSocket(.push, context)
        try push.connect(endpoint)

        #expect(try push.send(Self.multipart))
        #expect(try push.send([Self.large, [1]]))
        #expect(try push.send([[]]))
        #expect(try pull.receive() == Self.multipart)
        #expect(try pull.receive() == [Self.large, [1]])
        #expect(try pull.receive() == [[]])
    }

    @Test("a message sent from raw buffers part by part arrives whole")
    func sendingFromBuffers() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(.pull, context)
        try pull.bind(uniqueInprocEndpoint("buffers"))
        let push = try makeSocket(.push, context)
        try push.connect(try pull.lastEndpoint)
        let header: [UInt8] = [1, 2, 3]
        let body: [Float] = [1.5, -2, 0]
        #expect(try header.withUnsafeBytes { bytes in try push.send(part: bytes, more: true) })
        #expect(try body.withUnsafeBytes { bytes in try push.send(part: bytes, more: false) })
        #expect(try pull.receive() == [header, body.withUnsafeBytes(Array.init)])
    }
}

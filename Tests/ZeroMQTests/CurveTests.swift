import Testing
import ZeroMQ

@Suite("CURVE", .enabled(if: ZMQCurve.isAvailable), .timeLimit(.minutes(1)))
struct CurveTests {
    @Test("Z85 matches the specification's test vector and round-trips")
    func z85() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(ZMQCurve.z85Encode(bytes) == "HelloWorld")
        #expect(ZMQCurve.z85Decode("HelloWorld") == bytes)
        #expect(ZMQCurve.z85Decode("Hello") != nil)
        #expect(ZMQCurve.z85Decode("Hell") == nil)
        #expect(ZMQCurve.z85Decode("Hello World") == nil)
        #expect(ZMQCurve.z85Encode([1, 2, 3]) == nil)
    }

    @Test("key pairs are 32 raw bytes and differ")
    func keyPairs() throws {
        let first = try ZMQCurve.keyPair()
        let second = try ZMQCurve.keyPair()
        #expect(first.publicKey.count == 32 && first.secretKey.count == 32)
        #expect(first.publicKey != second.publicKey)
        let text = try #require(ZMQCurve.z85Encode(first.publicKey))
        #expect(text.utf8.count == 40)
        #expect(ZMQCurve.z85Decode(text) == first.publicKey)
    }

    @Test("a client that knows the server's key gets through; one with a wrong key does not")
    func handshake() throws {
        let server = try ZMQCurve.keyPair()
        let context = try ZMQContext()
        let pull = try makeSocket(.pull, context)
        try pull.setCurveServer(true)
        try pull.setCurveSecretKey(server.secretKey)
        let monitorEndpoint = uniqueInprocEndpoint("curve-monitor")
        try pull.startMonitor(monitorEndpoint, events: [.handshakeFailedProtocol, .handshakeFailedNoDetail])
        let monitor = try makeSocket(.pair, context)
        try monitor.connect(monitorEndpoint)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint

        let impostor = try makeSocket(.push, context)
        let impostorKeys = try ZMQCurve.keyPair()
        try impostor.setCurveServerKey(try ZMQCurve.keyPair().publicKey)
        try impostor.setCurvePublicKey(impostorKeys.publicKey)
        try impostor.setCurveSecretKey(impostorKeys.secretKey)
        try impostor.connect(endpoint)
        try impostor.send([Array("let me in".utf8)], dontWait: true)
        #expect(try monitor.awaitMonitorEvent([.handshakeFailedProtocol, .handshakeFailedNoDetail]) != nil)

        let client = try makeSocket(.push, context)
        let clientKeys = try ZMQCurve.keyPair()
        try client.setCurveServerKey(server.publicKey)
        try client.setCurvePublicKey(clientKeys.publicKey)
        try client.setCurveSecretKey(clientKeys.secretKey)
        try client.connect(endpoint)
        try client.send([Array("hello".utf8)])
        #expect(try pull.receive() == [Array("hello".utf8)])
        #expect(try pull.receive(dontWait: true) == nil)
        try pull.stopMonitor()
    }
}

import Foundation
import Testing
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

@Suite("ZMQAuthenticator", .enabled(if: ZMQCurve.isAvailable), .timeLimit(.minutes(1)))
struct AuthenticatorTests {
    /// A PULL CURVE server on a free loopback port, authenticated by `authenticator` (which watches its handshakes).
    static func server(
        _ context: ZMQContext, keys: (publicKey: [UInt8], secretKey: [UInt8]), authenticator: ZMQAuthenticator
    ) throws -> (ZMQSocket, endpoint: String) {
        let pull = try makeSocket(.pull, context)
        try pull.setCurveServer(true)
        try pull.setCurveSecretKey(keys.secretKey)
        try pull.setZAPDomain("test")
        try authenticator.watch(pull)
        try pull.bind("tcp://127.0.0.1:*")
        return (pull, try pull.lastEndpoint)
    }

    /// A PUSH client with its own key pair, connected to `endpoint` whose server key is `serverKey`.
    static func client(
        _ context: ZMQContext, keys: (publicKey: [UInt8], secretKey: [UInt8]), serverKey: [UInt8], endpoint: String
    ) throws -> ZMQSocket {
        let push = try makeSocket(.push, context)
        try push.setCurveServerKey(serverKey)
        try push.setCurvePublicKey(keys.publicKey)
        try push.setCurveSecretKey(keys.secretKey)
        try push.connect(endpoint)
        return push
    }

    /// Polls `condition` until it holds or `limit` passes.
    static func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    @Test("the public key derived from a secret key is the key pair's")
    func publicKeyFromSecret() throws {
        let pair = try ZMQCurve.keyPair()
        #expect(try ZMQCurve.publicKey(fromSecret: pair.secretKey) == pair.publicKey)
        #expect(throws: ZMQError.self) { try ZMQCurve.publicKey(fromSecret: [1, 2, 3]) }
    }

    @Test("an allowed key talks; an unknown key is refused, counted and reported; a reloaded list lets it in")
    func allowList() async throws {
        let context = try ZMQContext()
        let serverKeys = try ZMQCurve.keyPair()
        let allowed = try ZMQCurve.keyPair()
        let stranger = try ZMQCurve.keyPair()
        let authenticator = try ZMQAuthenticator(context: context, allowedKeys: [allowed.publicKey], watchedSockets: 1)
        #expect(authenticator.allowedKeyCount == 1)
        let (pull, endpoint) = try Self.server(context, keys: serverKeys, authenticator: authenticator)

        let intruder = try Self.client(context, keys: stranger, serverKey: serverKeys.publicKey, endpoint: endpoint)
        try intruder.send([Array("intruder".utf8)], dontWait: true)
        #expect(Self.eventually { authenticator.refusedCount >= 1 })

        let friend = try Self.client(context, keys: allowed, serverKey: serverKeys.publicKey, endpoint: endpoint)
        try friend.send([Array("hello".utf8)])
        #expect(try pull.receive() == [Array("hello".utf8)])
        #expect(try pull.receive(dontWait: true) == nil)
        #expect(authenticator.acceptedCount == 1)

        let (refusals, dropped) = authenticator.takeRefusals()
        #expect(dropped == 0)
        let first = try #require(refusals.first)
        #expect(first.reason == .unknownKey)
        #expect(first.publicKey == stranger.publicKey)
        #expect(first.mechanism == "CURVE")
        #expect(first.domain == "test")
        #expect(first.address == "127.0.0.1")
        #expect(first.description.contains(ZMQCurve.z85Encode(stranger.publicKey)!))
        #expect(refusals.allSatisfy { $0.reason == .unknownKey })

        // libzmq does not retry a refused handshake; connecting again once the key is allowed gets in.
        #expect(throws: ZMQError.self) { try authenticator.setAllowedKeys([[1, 2, 3]]) }
        #expect(authenticator.allowedKeyCount == 1)
        try authenticator.setAllowedKeys([allowed.publicKey, stranger.publicKey])
        #expect(authenticator.allowedKeyCount == 2)
        try? intruder.disconnect(endpoint)
        try intruder.connect(endpoint)
        try intruder.send([Array("let in".utf8)])
        #expect(try pull.receive() == [Array("let in".utf8)])
        #expect(authenticator.acceptedCount == 2)

        authenticator.stop()
        #expect(authenticator.error == nil)
        for socket in [pull, intruder, friend] { socket.close() }
        let terminating = BackgroundThread.run { context.close() }
        #expect(await terminating.finished(within: .seconds(5)))
    }

    @Test("a plaintext client is refused: by the handshake on a CURVE server, by ZAP on a NULL server with a domain")
    func plaintextClients() throws {
        let context = try ZMQContext()
        let serverKeys = try ZMQCurve.keyPair()
        let authenticator = try ZMQAuthenticator(
            context: context, allowedKeys: [try ZMQCurve.keyPair().publicKey], watchedSockets: 1)
        let (curveServer, curveEndpoint) = try Self.server(context, keys: serverKeys, authenticator: authenticator)
        let plain = try makeSocket(.push, context)
        try plain.connect(curveEndpoint)
        try plain.send([Array("plaintext".utf8)], dontWait: true)
        #expect(Self.eventually { authenticator.refusedCount >= 1 })
        let handshake = try #require(authenticator.takeRefusals().refusals.first)
        #expect(handshake.reason == .handshake)
        #expect(handshake.address == curveEndpoint)
        // Whichever side notices the mismatch first: the server's protocol error, or the client hanging up.
        #expect(
            handshake.description.contains("mechanism mismatch") || handshake.description.contains("broke off"),
            "\(handshake)")
        #expect(try curveServer.receive(dontWait: true) == nil)
        plain.close()

        // A NULL server asks ZAP only when it has a domain; the authenticator refuses every mechanism but CURVE.
        let nullServer = try makeSocket(.pull, context)
        try nullServer.setZAPDomain("test")
        try nullServer.bind("tcp://127.0.0.1:*")
        let before = authenticator.refusedCount
        let nullClient = try makeSocket(.push, context)
        try nullClient.connect(try nullServer.lastEndpoint)
        try nullClient.send([Array("plaintext".utf8)], dontWait: true)
        #expect(Self.eventually { authenticator.refusedCount > before })
        let refusal = try #require(authenticator.takeRefusals().refusals.first { $0.reason == .mechanism })
        #expect(refusal.mechanism == "NULL")
        #expect(refusal.publicKey == nil)
        #expect(try nullServer.receive(dontWait: true) == nil)
        #expect(authenticator.acceptedCount == 0)

        authenticator.stop()
        for socket in [curveServer, nullServer, nullClient] { socket.close() }
        context.close()
    }

    @Test("the refusal queue is bounded; overflow is counted, never blocks the handler")
    func boundedQueue() throws {
        let context = try ZMQContext()
        let serverKeys = try ZMQCurve.keyPair()
        let authenticator = try ZMQAuthenticator(
            context: context, allowedKeys: [], watchedSockets: 1, refusalCapacity: 2)
        let (pull, endpoint) = try Self.server(context, keys: serverKeys, authenticator: authenticator)
        var clients: [ZMQSocket] = []
        for _ in 0..<5 {
            let client = try Self.client(context, keys: try ZMQCurve.keyPair(), serverKey: serverKeys.publicKey, endpoint: endpoint)
            try client.send([[1]], dontWait: true)
            clients.append(client)
        }
        #expect(Self.eventually { authenticator.refusedCount >= 5 })
        let (refusals, dropped) = authenticator.takeRefusals()
        #expect(refusals.count == 2)
        #expect(dropped >= 3)
        #expect(try pull.receive(dontWait: true) == nil)
        // A second ZAP handler in the same context cannot bind.
        #expect(throws: ZMQError.self) { _ = try ZMQAuthenticator(context: context, allowedKeys: []) }
        authenticator.stop()
        authenticator.stop()
        for socket in clients + [pull] { socket.close() }
        context.close()
    }
}

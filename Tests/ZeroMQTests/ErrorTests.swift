import Testing
import ZeroMQ

@Suite("Errors and lifecycle", .timeLimit(.minutes(1)))
struct ErrorTests {
    /// Runs `body`, which must throw a ZMQError, and returns that error.
    func zmqError(_ body: () throws(ZMQError) -> Void) -> ZMQError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test("a malformed endpoint gives an error naming it", arguments: [
        ("tcp://127.0.0.1:not-a-port", ZMQError.Code.invalidArgument),
        ("carrier-pigeon://loft", .protocolNotSupported),
        ("no-scheme-at-all", .invalidArgument),
    ])
    func malformedEndpoint(endpoint: String, code: ZMQError.Code) throws {
        let socket = try ZMQSocket(.pull, context: ZMQContext())
        let error = try #require(zmqError { () throws(ZMQError) in try socket.bind(endpoint) })
        #expect(error.code == code)
        #expect(error.operation == "bind \(endpoint)")
        #expect(error.description.hasPrefix("bind \(endpoint): "))
        #expect(error.description.contains("errno \(code.rawValue)"))
    }

    @Test("binding an endpoint that is already bound fails with address in use", arguments: ["tcp", "inproc"])
    func endpointAlreadyBound(transport: String) throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(.pull, context: context)
        try first.bind(transport == "tcp" ? "tcp://127.0.0.1:*" : uniqueInprocEndpoint("taken"))
        let endpoint = try first.lastEndpoint
        let second = try ZMQSocket(.pull, context: context)
        let error = try #require(zmqError { () throws(ZMQError) in try second.bind(endpoint) })
        #expect(error.code == .addressInUse)
        #expect(error.description.contains(endpoint))
        #expect(error.description.contains(String(describing: ZMQError.Code.addressInUse)))
    }

    @Test("receive(dontWait:) with nothing queued returns nil; so does a receive timeout")
    func nothingQueued() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind(uniqueInprocEndpoint("empty"))
        #expect(try pull.receive(dontWait: true) == nil)
        try pull.setReceiveTimeout(.milliseconds(1))
        #expect(try pull.receive() == nil)
    }

    @Test("send(dontWait:) without a peer to take the message returns false")
    func sendWouldBlock() throws {
        let push = try ZMQSocket(.push, context: ZMQContext())
        #expect(try push.send([[1]], dontWait: true) == false)
        #expect(zmqError { () throws(ZMQError) in try push.send([]) }?.code == .invalidArgument)
    }

    @Test("a closed socket refuses work; closing twice is fine")
    func closedSocket() throws {
        let socket = try ZMQSocket(.sub, context: ZMQContext())
        socket.close()
        socket.close(linger: .seconds(1))
        #expect(socket.isClosed)
        #expect(zmqError { () throws(ZMQError) in try socket.connect("inproc://x") }?.code == .notASocket)
        #expect(zmqError { () throws(ZMQError) in _ = try socket.receive(dontWait: true) }?.code == .notASocket)
    }

    @Test("option setters take valid values and reject bad keys")
    func options() throws {
        let socket = try ZMQSocket(.sub, context: ZMQContext())
        try socket.setLinger(.milliseconds(250))
        try socket.setLinger(nil)
        try socket.setSendHighWaterMark(10)
        try socket.setReceiveHighWaterMark(0)
        try socket.setMaxMessageSize(1 << 40)
        try socket.setMaxMessageSize(nil)
        try socket.setReceiveTimeout(.seconds(1))
        try socket.setSendTimeout(nil)
        try socket.setImmediate(true)
        try socket.setIPv6(true)
        try socket.subscribe()
        try socket.unsubscribe()
        try socket.setZAPDomain("bisnn")
        let error = zmqError { () throws(ZMQError) in try socket.setCurveSecretKey([1, 2, 3]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description.contains("ZMQ_CURVE_SECRETKEY") == true)
    }

    @Test("a context shutdown ends a blocking receive with ETERM; then the context terminates")
    func shutdownInterruptsBlockingReceive() async throws {
        let context = try ZMQContext()
        let outcome = Locked<ZMQError.Code?>(nil)
        let receiver = BackgroundThread.run {
            do throws(ZMQError) {
                let pull = try ZMQSocket(.pull, context: context)
                try pull.bind("inproc://never-sent-to")
                _ = try pull.receive()
            } catch {
                outcome.value = error.code
            }
        }
        context.shutdown()
        context.shutdown()
        #expect(await receiver.finished(within: .seconds(5)))
        #expect(outcome.value == .terminated)
        #expect(zmqError { () throws(ZMQError) in _ = try ZMQSocket(.pub, context: context) }?.code == .terminated)
        let terminating = BackgroundThread.run { context.close() }
        #expect(await terminating.finished(within: .seconds(5)))
        context.close()
    }
}

import Testing
import ZeroMQ

@Suite("ZMQ_MAXMSGSIZE", .timeLimit(.minutes(1)))
struct MaxMessageSizeTests {
    /// What libzmq 4.3 does: the receiving side's decoder rejects the oversized part, drops that connection (a
    /// monitor reports it disconnected) and the message with it; the receiving socket carries on, and the sender
    /// reconnects by itself.
    @Test("an oversized message drops its connection, not the receiver")
    func oversizedMessageDropsTheConnection() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(.pull, context)
        try pull.setMaxMessageSize(1024)
        let monitorEndpoint = uniqueInprocEndpoint("max-size-monitor")
        try pull.startMonitor(monitorEndpoint, events: .disconnected)
        let monitor = try makeSocket(.pair, context)
        try monitor.connect(monitorEndpoint)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint

        let offender = try makeSocket(.push, context)
        try offender.connect(endpoint)
        #expect(try offender.send([[UInt8](repeating: 0xAB, count: 4096)]))
        let dropped = try #require(try monitor.awaitMonitorEvent(.disconnected))
        #expect(dropped.endpoint == endpoint)
        #expect(try pull.receive(dontWait: true) == nil)

        // A new connection gets through, and the limit applies to each part, not to the whole message.
        let polite = try makeSocket(.push, context)
        try polite.connect(endpoint)
        let parts = [[UInt8](repeating: 1, count: 1024), [UInt8](repeating: 2, count: 1024)]
        #expect(try polite.send(parts))
        #expect(try pull.receive() == parts)

        // The offender reconnected on its own; its small messages arrive.
        #expect(try offender.send([[4]]))
        #expect(try pull.receive() == [[4]])
    }

    @Test("inproc does not enforce the limit")
    func inprocIsNotLimited() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(.pull, context)
        try pull.setMaxMessageSize(16)
        try pull.bind(uniqueInprocEndpoint("max-size-inproc"))
        let push = try makeSocket(.push, context)
        try push.connect(try pull.lastEndpoint)
        let big = [UInt8](repeating: 9, count: 100)
        try push.send([big])
        #expect(try pull.receive() == [big])
    }
}

import Testing
import ZeroMQ

@Suite("ZMQSenderThread", .timeLimit(.minutes(1)))
struct SenderThreadTests {
    @Test("publishes what any task gives it, in order; refuses and counts after stop")
    func publishes() async throws {
        let context = try ZMQContext()
        let pub = try ZMQSocket(.pub, context: context)
        try pub.bind(uniqueInprocEndpoint("sender-pub"))
        let endpoint = try pub.lastEndpoint
        let publisher = try ZMQSenderThread(socket: pub, name: "test-sender")
        let sub = try makeSocket(.sub, context)
        try sub.subscribe([1])
        try sub.connect(endpoint)

        // Publish a probe until one arrives: from then on the subscription is in place.
        var poller = ZMQPoller([sub])
        var subscribed = false
        for _ in 0..<500 where !subscribed {
            publisher.send([[1], []])
            subscribed = try poller.poll(timeout: .milliseconds(10)) > 0
        }
        try #require(subscribed)

        await withTaskGroup { group in
            group.addTask { for index in 0..<100 { publisher.send([[1], sequenceBytes(index)]) } }
            group.addTask { for index in 0..<100 { publisher.send([[2], sequenceBytes(index)]) } }
        }
        var received: [[UInt8]] = []
        while received.count < 100, let message = try sub.receive() {
            if message[1] != [] { received.append(message[1]) }
        }
        #expect(received == (0..<100).map(sequenceBytes))
        #expect(publisher.droppedCount == 0)

        publisher.stop()
        #expect(publisher.send([[1], [9]]) == false)
        #expect(publisher.droppedCount == 1)
        #expect(publisher.sentCount >= 201)
        #expect(publisher.error == nil)
        sub.close()
        let terminating = BackgroundThread.run { context.close() }
        #expect(await terminating.finished(within: .seconds(5)))
    }

    @Test("stop sends what is queued before closing the socket")
    func stopDrainsTheQueue() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(.pull, context)
        try pull.bind(uniqueInprocEndpoint("sender-drain"))
        let push = try ZMQSocket(.push, context: context)
        try push.setLinger(.seconds(5))
        try push.connect(try pull.lastEndpoint)
        let sender = try ZMQSenderThread(socket: push, capacity: 2_000)
        for index in 0..<1_000 { #expect(sender.send([sequenceBytes(index)])) }
        sender.stop()
        #expect(sender.sentCount == 1_000)
        for index in 0..<1_000 { #expect(try pull.receive() == [sequenceBytes(index)]) }
    }

    @Test("messages the socket cannot take are dropped and counted, never blocking")
    func dropsWhenTheSocketIsFull() throws {
        let push = try ZMQSocket(.push, context: ZMQContext())  // no peer: every send would block
        let sender = try ZMQSenderThread(socket: push, capacity: 4)
        var queued = 0
        for index in 0..<10 where sender.send([sequenceBytes(index)]) { queued += 1 }
        sender.stop()
        #expect(queued >= 4)
        #expect(sender.sentCount == 0)
        #expect(sender.droppedCount == 10)
    }
}

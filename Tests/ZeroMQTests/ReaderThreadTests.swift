import Testing
import ZeroMQ

@Suite("ZMQReaderThread", .timeLimit(.minutes(1)))
struct ReaderThreadTests {
    @Test("messages from several sockets arrive in batches with their socket's index; stop ends everything")
    func severalSockets() async throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind(uniqueInprocEndpoint("reader-pull"))
        let pullEndpoint = try pull.lastEndpoint
        let xpub = try makeSocket(.xpub, context)
        try xpub.bind(uniqueInprocEndpoint("reader-xpub"))
        let sub = try ZMQSocket(.sub, context: context)
        try sub.subscribe()
        try sub.connect(try xpub.lastEndpoint)
        // Once the subscription has reached the XPUB, nothing it publishes is lost.
        #expect(try xpub.receive() == [[1]])

        let reader = try ZMQReaderThread(sockets: [pull, sub], name: "test-reader")
        let push = try makeSocket(.push, context)
        try push.connect(pullEndpoint)
        for index in 0..<10 {
            try push.send([[0], sequenceBytes(index)])
            try xpub.send([[1], sequenceBytes(index), []])
        }

        var batches = reader.messages.makeAsyncIterator()
        var received: [ZMQReaderThread.Message] = []
        while received.count < 20, let batch = await batches.next() {
            #expect(!batch.isEmpty)
            received += batch
        }
        #expect(received.filter { $0.socketIndex == 0 }.map(\.parts) == (0..<10).map { [[0], sequenceBytes($0)] })
        #expect(received.filter { $0.socketIndex == 1 }.map(\.parts) == (0..<10).map { [[1], sequenceBytes($0), []] })

        // Idle now: stop returns promptly, the stream finishes, and the context can terminate.
        let stopping = BackgroundThread.run { reader.stop() }
        #expect(await stopping.finished(within: .seconds(5)))
        #expect(await batches.next() == nil)
        #expect(reader.error == nil)
        reader.stop()
        push.close()
        xpub.close()
        let terminating = BackgroundThread.run { context.close() }
        #expect(await terminating.finished(within: .seconds(5)))
    }

    @Test("thousands of small messages arrive in order, none lost")
    func thousandsInOrder() async throws {
        let count = 20_000
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind(uniqueInprocEndpoint("reader-order"))
        let endpoint = try pull.lastEndpoint
        let reader = try ZMQReaderThread(sockets: [pull], maxBatchSize: 100, bufferedBatches: 2)
        // The sender blocks whenever the reader holds back, so it needs its own thread.
        let sender = BackgroundThread.run {
            do throws(ZMQError) {
                let push = try makeSocket(.push, context)
                try push.setLinger(.seconds(10))
                try push.connect(endpoint)
                for index in 0..<count where try !push.send([sequenceBytes(index)]) {
                    Issue.record("send \(index) timed out")
                    return
                }
            } catch {
                Issue.record(error)
            }
        }

        var next = 0
        var outOfOrder = 0
        var batchCount = 0
        for await batch in reader.messages {
            batchCount += 1
            #expect(batch.count <= 100)
            for message in batch {
                if message.parts != [sequenceBytes(next)] { outOfOrder += 1 }
                next += 1
            }
            if next >= count { break }
        }
        #expect(next == count)
        #expect(outOfOrder == 0)
        #expect(batchCount >= count / 100)
        #expect(await sender.finished(within: .seconds(10)))
        reader.stop()
    }

    @Test("a lagging consumer makes the reader stop reading, bounding what is in flight, and loses nothing")
    func backpressure() async throws {
        let total = 5_000
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.setReceiveHighWaterMark(100)
        try pull.bind(uniqueInprocEndpoint("reader-backpressure"))
        let push = try makeSocket(.push, context)
        try push.setSendHighWaterMark(100)
        try push.connect(try pull.lastEndpoint)
        let reader = try ZMQReaderThread(sockets: [pull], maxBatchSize: 10, bufferedBatches: 1)

        var sent = 0
        var received = 0
        var outOfOrder = 0
        var mostInFlight = 0
        var batches = reader.messages.makeAsyncIterator()
        while received < total {
            // Send all that the queues take, then take one batch.
            while sent < total, try push.send([sequenceBytes(sent)], dontWait: true) { sent += 1 }
            if sent == received {
                // All consumed, but PUSH learns that its peer has read with a delay (libzmq sends the news in
                // batches and processes it lazily): a blocking send waits for it.
                try #require(try push.send([sequenceBytes(sent)]))
                sent += 1
            }
            mostInFlight = max(mostInFlight, sent - received)
            let batch = try #require(await batches.next())
            for message in batch {
                if message.parts != [sequenceBytes(received)] { outOfOrder += 1 }
                received += 1
            }
        }
        #expect(received == total)
        #expect(outOfOrder == 0)
        #expect(mostInFlight <= 1_000, "pipe high-water marks (100 + 100) plus a few batches of 10")
        reader.stop()
    }

    @Test("ending the iteration stops the reader, which closes its sockets")
    func endingTheIterationStopsTheReader() async throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        let monitorEndpoint = uniqueInprocEndpoint("reader-cancel-monitor")
        try pull.startMonitor(monitorEndpoint, events: .monitorStopped)
        let monitor = try makeSocket(.pair, context)
        try monitor.connect(monitorEndpoint)
        try pull.bind(uniqueInprocEndpoint("reader-cancel"))
        let reader = try ZMQReaderThread(sockets: [pull])
        let consumer = Task { for await _ in reader.messages {} }
        consumer.cancel()
        await consumer.value
        // Closing a socket stops its monitor, which says so last.
        #expect(try monitor.awaitMonitorEvent(.monitorStopped) != nil)
        reader.stop()
    }

    @Test("a context shutdown ends the reader and finishes the stream")
    func contextShutdownEndsReader() async throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(.pull, context: context)
        try pull.bind(uniqueInprocEndpoint("reader-shutdown"))
        let reader = try ZMQReaderThread(sockets: [pull])
        context.shutdown()
        var batches = reader.messages.makeAsyncIterator()
        #expect(await batches.next() == nil)
        #expect(reader.error == nil)
        let terminating = BackgroundThread.run {
            reader.stop()
            context.close()
        }
        #expect(await terminating.finished(within: .seconds(5)))
    }
}
